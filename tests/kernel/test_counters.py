"""The kernel's XDP_STATISTICS counters, checked the way its AF_XDP selftest checks them."""

import time

import xsk

from .traffic import send_seq, template


def _sockets(pair, ua, ub, **rx_kwargs):
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **rx_kwargs)
    return tx, rx


def _wait_for(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pred()


def test_invalid_tx_descriptors_land_in_tx_invalid_descs(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _sockets(veth_pair, ua, ub)
    with tx, rx:
        tpl = template(veth_pair)
        b = ua.take(32)
        b.fill(tpl)
        b.lens[::2] = 3000  # half the descriptors run past their 2048-byte frame
        assert tx.send(b, check_bounds=False) == 32
        tx.flush(timeout=0.5)
        assert tx.statistics()["tx_invalid_descs"] == 16
        got = rx.recv(64, timeout=1)
        assert len(got) == 16
        got.release()
        # this kernel completes rejected descriptors too (older ones never did: then the frames
        # come back when the socket closes); either way none is lost
        assert ua.accounting().tx in (0, 16)
    assert ua.accounting().pool == ua.frame_count


def test_oversized_frame_is_refused_before_the_kernel_sees_it(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=64), make_umem(frame_count=64)
    tx, rx = _sockets(veth_pair, ua, ub)
    with tx, rx:
        b = ua.take(2)
        b.lens[:] = [60, 2049]
        try:
            tx.send(b)
            raise AssertionError("send accepted a frame larger than its UMEM frame")
        except xsk.FrameTooLargeError as exc:
            assert "do not fit in a 2048-byte frame" in str(exc)
        assert len(b) == 2 and ua.accounting().user == 2  # nothing changed
        ua.release(b)


def test_rx_ring_never_released_fills_rx_ring_full(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=1024), make_umem(frame_count=1024)
    tx, rx = _sockets(veth_pair, ua, ub, ring_size=64, fill_frames=512)  # fill ring deeper than RX
    with tx, rx:
        tpl = template(veth_pair)
        for first in range(0, 512, 64):
            assert send_seq(tx, tpl, first, 64) == 64
            tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_ring_full"] > 0)
        stats = rx.statistics()
        got = rx.recv(512, timeout=0)
        assert len(got) == 64  # the ring held what it could; the rest were counted, not delivered
        assert stats["rx_ring_full"] == 512 - 64
        got.release()
        assert ub.accounting().balanced


def test_empty_fill_ring_shows_in_rx_fill_ring_empty_descs(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _sockets(veth_pair, ua, ub, fill_frames=0)
    with tx, rx:
        assert ub.accounting().fill == 0
        assert send_seq(tx, template(veth_pair), 0, 10) == 10
        tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_fill_ring_empty_descs"] >= 10)
        assert len(rx.recv(64, timeout=0.1)) == 0
        # the user gives frames to the fill ring: reception resumes
        assert rx.fill(ub.take(32)) == 32
        assert send_seq(tx, template(veth_pair), 0, 10) == 10
        tx.flush()
        got = rx.recv(64, timeout=2)
        assert len(got) == 10
        got.release()
