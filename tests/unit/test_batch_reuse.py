"""Batch reuse (``into=``): refilled in place, never while it owns frames, stale views dead."""

import numpy as np
import pytest

import xsk
from xsk.testing import MemorySocket


@pytest.fixture
def umem():
    u = xsk.Umem(frame_count=256, hugepages="off")
    yield u
    u.close()


def test_take_into_refills_the_same_batch_with_a_fresh_token(umem):
    b = umem.take(8, 60)
    token, buffers = b._token, None
    umem.release(b)
    for length in (60, 1500):
        assert umem.take(16, length, into=b) is b
        assert len(b) == 16 and not b.spent and np.all(b.lens == length)
        assert b._token != token and np.all(umem.ledger._word[b.frame_indices] & 0xFFFF_FFFF == b._token)
        buffers = buffers or b._bufs
        assert b._bufs is buffers  # the second refill allocated nothing new
        token = b._token
        umem.release(b)
    assert umem.accounting().pool == 256


def test_a_batch_that_still_owns_frames_is_never_refilled(umem):
    b = umem.take(4)
    with pytest.raises(xsk.FrameOwnershipError, match="still owns 4 frames"):
        umem.take(4, into=b)
    assert len(b) == 4 and umem.accounting().user == 4
    other = xsk.Umem(frame_count=8, hugepages="off")
    spent = other.take(1)
    other.release(spent)
    with pytest.raises(xsk.FrameOwnershipError, match="another UMEM"):
        umem.take(1, into=spent)
    other.close()
    b.release()


def test_views_of_the_old_frames_die_when_the_batch_is_handed_over(umem):
    b = umem.take(2, 60)
    view = b.data(0)
    umem.release(b)
    umem.take(2, 60, into=b)
    with pytest.raises(ValueError):
        view[0] = 1  # released at hand-over: it can't reach a frame the batch may no longer own
    b.release()


def test_recv_into_over_memory_rings_keeps_every_frame_accounted():
    with xsk.Umem(frame_count=1024, hugepages="off") as umem:
        sock = MemorySocket(umem, ring_size=256)
        tx = rx = None
        sent = received = 0
        for _ in range(50):
            tx = umem.take(64, 60, into=tx)
            sent += sock.send(tx)
            if len(tx):
                umem.release(tx)
            rx = sock.recv(64, timeout=0, into=rx)
            received += len(rx)
            assert np.all(rx.lens == 60) and np.all(rx.offsets == 256)
            sock.release(rx)
            umem.verify()
        assert sent == 50 * 64 and received > 0
        sock.close()
        assert umem.accounting().pool == 1024


def test_a_partial_send_leaves_the_rest_in_the_reused_batch():
    with xsk.Umem(frame_count=1024, hugepages="off") as umem:
        sock = MemorySocket(umem, ring_size=16)
        b = umem.take(8, 60)
        umem.release(b)
        umem.take(40, 60, into=b)
        addrs = b.addrs.copy()
        sent = sock.send(b)
        assert 0 < sent < 40 and np.array_equal(b.addrs, addrs[sent:])
        while len(b):  # the rest goes from where it stopped: the C pointers moved with the arrays
            sock.send(b)
        assert b.spent
        sock.close()
        assert umem.accounting().pool == 1024
