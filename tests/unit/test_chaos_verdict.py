"""tools/chaos's verdict fails on what it claims to check, fed planted faults: a loss outside
every fault's window (also one that the old, wider windows excused), a part that ignored
SIGINT, windows that cover most of the run, a stray kernel descriptor."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "chaos"
ACC = {"pool": 4096, "user": 0, "fill": 0, "tx": 0, "total": 4096}


@pytest.fixture(scope="module")
def chaos():
    loader = importlib.machinery.SourceFileLoader("xsk_tools_chaos_verdict", str(TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def summary(**extra) -> dict:
    return {"packets": 1000, "accounting": ACC, "ledger_checks": 60, "ledger_missed": 0, "kernel_errors": 0,
            **extra}


def sink_run(losses: dict[int, int], seconds: int = 60) -> dict:
    """A sink run started at 0 printing a line a second; ``losses`` maps a second to frames newly lost."""
    lines, lost = [], 0
    for t in range(1, seconds + 1):
        lost += losses.get(t, 0)
        lines.append((float(t), {"packets": t * 1000, "per_stream": {"0": {"lost": lost}}}))
    lines.append((seconds + 0.5, summary(packets=seconds * 1000)))
    return {"started": 0.0, "lines": lines, "stderr": "", "returncode": 0, "killed": False}


def other_run() -> dict:
    return {"started": 0.0, "lines": [(60.5, summary())], "stderr": "", "returncode": 0, "killed": False}


WINDOWS = [(10.0, 11.0, "link"), (20.0, 20.5, "starve"), (30.0, 31.0, "close")]  # 2-9 s gaps, as drawn


def judge(chaos, sink: dict, windows=WINDOWS, gen=None, fwd=None) -> dict:
    return chaos.verdict({"gen": [gen or other_run()], "fwd": [fwd or other_run()], "sink": [sink]}, windows)


def test_a_loss_inside_a_window_is_excused(chaos):
    result = judge(chaos, sink_run({11: 500, 13: 20}))  # during the fault, and 1.5 s after it ended
    assert result["passed"], result["failures"]
    assert (result["lost_while_down"], result["lost_while_up"]) == (520, 0)
    assert result["excused_fraction"] < 0.3


def test_a_loss_after_the_window_fails(chaos):
    # 1,000 frames lost in the second from 14 to 15 s, 3 s after the fault ended at 11 s: the
    # window (GRACE 2 s) closed at 13 s. The old windows (1 s before, 3 s after, and a line's
    # second) reached 15 s and excused it.
    result = judge(chaos, sink_run({15: 1000}))
    assert not result["passed"] and result["lost_while_up"] == 1000
    assert result["failures"] == ["sink: 1000 frames lost between 14.0 and 15.0 s with every part up"]


def test_a_loss_before_a_fault_fails(chaos):
    result = judge(chaos, sink_run({9: 7}))  # the second before the link went down
    assert not result["passed"] and result["lost_while_up"] == 7


def test_a_part_that_ignored_sigint_fails(chaos):
    fwd = {**other_run(), "lines": [], "returncode": -9, "killed": False,
           "unstoppable": "did not stop within 20 s of SIGINT"}
    result = judge(chaos, sink_run({}), fwd=fwd)
    assert not result["passed"]
    assert result["failures"] == ["fwd run 0 did not stop within 20 s of SIGINT: killed"]


def test_windows_covering_most_of_the_run_fail(chaos):
    back_to_back = [(float(t), t + 1.5, "link") for t in range(2, 58, 4)]  # a fault every 4 s
    result = judge(chaos, sink_run({}), windows=back_to_back)
    assert not result["passed"] and result["excused_fraction"] > chaos.MAX_EXCUSED
    assert "too little of it had every part up" in result["failures"][0]


def test_stray_kernel_descriptors_fail(chaos):
    gen = {**other_run(), "lines": [(60.5, summary(kernel_errors=2))]}
    result = judge(chaos, sink_run({}), gen=gen)
    assert result["failures"] == ["gen run 0: the kernel returned 2 stray descriptors"]
