"""How a command's run ends on a signal: the first SIGINT or SIGTERM sets the stop Event (the
loop ends as a count would, the summary still comes), a second interrupts, and the exit status
and the summary say which signal it was."""

from __future__ import annotations

import os
import signal

import pytest

from xsk.cli.common import ctrl_c_stops, interrupted


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_stops_the_run_and_the_summary_says_so(sig):
    with ctrl_c_stops() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), sig)
        assert stop.is_set() and stop.signum == sig
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
    out: dict = {}
    assert interrupted(out, stop) == 128 + sig
    assert out == {"interrupted": signal.Signals(sig).name}


def test_a_run_that_ended_by_itself_exits_0_and_says_nothing():
    with ctrl_c_stops() as stop:
        pass
    out: dict = {}
    assert interrupted(out, stop) == 0 and out == {}


def test_the_handlers_are_given_back():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with ctrl_c_stops():
        pass
    assert {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} == before
