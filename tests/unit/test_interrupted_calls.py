"""Ctrl-C between a ring and the batch that was to hold its frames leaves nothing orphaned.

A KeyboardInterrupt can be raised at any call in Python: right after the C call that moved
frames to the user and before a Batch holds them, nobody could give them back. recv and take
give them back themselves, then let the interrupt go on.
"""

from __future__ import annotations

import pytest

import xsk
import xsk._socket
from xsk._batch import Batch
from xsk.testing import MemorySocket


def _interrupt(*_args, **_kwargs):
    raise KeyboardInterrupt


def test_recv_into_a_batch_interrupted_before_the_batch_holds_the_frames(monkeypatch):
    with xsk.Umem(frame_count=256, hugepages="off") as umem, MemorySocket(umem, ring_size=64, rx_len=60) as sock:
        b = sock.recv(16, timeout=1)
        assert len(b) == 16
        b.release()
        monkeypatch.setattr(Batch, "_refilled", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            sock.recv(16, timeout=1, into=b)
        monkeypatch.undo()
        assert umem.accounting().user == 0  # the 16 frames the ring gave went back
        umem.verify()
        again = sock.recv(16, timeout=1, into=b)  # and the socket goes on as before
        assert len(again) == 16
        again.release()


def test_recv_of_a_new_batch_interrupted_before_it_exists(monkeypatch):
    with xsk.Umem(frame_count=256, hugepages="off") as umem, MemorySocket(umem, ring_size=64, rx_len=60) as sock:
        monkeypatch.setattr(xsk._socket, "Batch", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            sock.recv(8, timeout=1)
        monkeypatch.undo()
        assert umem.accounting().user == 0
        umem.verify()


def test_take_interrupted_before_the_batch_holds_the_frames(monkeypatch):
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        monkeypatch.setattr(Batch, "_refilled", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            umem.take(10)
        monkeypatch.undo()
        assert umem.accounting().user == 0 and umem.accounting().pool == 64
        umem.verify()


def test_release_token_gives_back_only_the_frames_of_that_token():
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        orphaned, other = umem.take(4), umem.take(4)
        orphaned._spent = True  # as if no batch had come to hold them: what the guards see
        assert umem.ledger.release_token(orphaned._token) == 4
        assert umem.accounting().user == 4 and umem.ledger.release_token(orphaned._token) == 0
        other.release()
        umem.verify()


def test_recv_into_an_empty_batch_interrupted(monkeypatch):
    """into= may also be an empty batch that is not spent (a recv that timed out): the guard
    tells it from one that took the frames by the batch's token."""
    with xsk.Umem(frame_count=256, hugepages="off") as umem, MemorySocket(umem, ring_size=64, rx_len=60) as sock:
        sock.kernel_running = False
        empty = sock.recv(16, timeout=0)
        assert len(empty) == 0 and not empty.spent
        sock.kernel_running = True
        monkeypatch.setattr(Batch, "_refilled", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            sock.recv(16, timeout=1, into=empty)
        monkeypatch.undo()
        assert umem.accounting().user == 0
        umem.verify()
