"""Sequence-numbered frames across a veth pair, every byte verified (xskxceiver's ground)."""

import pytest

import xsk

from .traffic import SEQ_OFFSET, Receiver, send_seq, seq_rows, template, transfer

XDP_MODES = ["skb", "native"]


@pytest.mark.parametrize("xdp_mode", XDP_MODES)
def test_100k_frames_in_order_byte_for_byte(veth_pair, make_umem, xdp_mode):
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, xdp_mode=xdp_mode) as rx:
        assert rx.xdp_mode == xdp_mode and tx.xdp_mode is None
        assert rx.mode == "copy" and tx.mode == "copy"  # veth has no zero-copy
        tpl = template(veth_pair)
        r = transfer(tx, rx, tpl, 100_000)
        assert r.received == 100_000 and r.perfect
        assert r.offsets == {256}  # XDP_PACKET_HEADROOM, no UMEM headroom
        stats = rx.statistics()
        assert stats["rx_dropped"] == 0 and stats["rx_invalid_descs"] == 0
        assert ua.accounting().tx == 0
    assert ua.accounting().pool == ua.frame_count and ub.accounting().pool == ub.frame_count


@pytest.mark.parametrize("xdp_mode", XDP_MODES)
def test_single_packet(veth_pair, make_umem, xdp_mode):
    ua, ub = make_umem(frame_count=64), make_umem(frame_count=64)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, xdp_mode=xdp_mode) as rx:
        tpl = template(veth_pair, size=60)
        b = ua.take(1)
        b.write(0, tpl)
        assert tx.send(b) == 1 and b.spent
        assert tx.flush()
        got = rx.recv(16, timeout=2)
        assert len(got) == 1 and bytes(got.data(0)) == tpl
        got.release()


@pytest.mark.parametrize("frame_size", [2048, 4096])
@pytest.mark.parametrize("xdp_mode", XDP_MODES)
def test_frame_sizes(veth_pair_factory, make_umem, frame_size, xdp_mode):
    pair = veth_pair_factory(mtu=3000 if frame_size == 4096 else None)
    size = 1400 if frame_size == 2048 else 2900
    ua, ub = make_umem(frame_size=frame_size), make_umem(frame_size=frame_size)
    with xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, xdp_mode=xdp_mode) as rx:
        r = transfer(tx, rx, template(pair, size=size), 5_000)
        assert r.received == 5_000 and r.perfect


@pytest.mark.parametrize("xdp_mode", XDP_MODES)
def test_headroom(veth_pair, make_umem, xdp_mode):
    ua, ub = make_umem(), make_umem(headroom=512)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, xdp_mode=xdp_mode) as rx:
        r = transfer(tx, rx, template(veth_pair), 10_000)
        assert r.received == 10_000 and r.perfect
        assert r.offsets == {256 + 512}


@pytest.mark.parametrize("xdp_mode", XDP_MODES)
def test_bidirectional(veth_pair, make_umem, xdp_mode):
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, xdp_mode=xdp_mode) as a, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, xdp_mode=xdp_mode) as b:
        fwd, back = template(veth_pair), template(veth_pair, reverse=True)
        ra, rb = Receiver(a, back), Receiver(b, fwd)
        for first in range(0, 20_000, 500):
            assert send_seq(a, fwd, first, 500) == 500
            assert send_seq(b, back, first, 500) == 500
            a.flush()
            b.flush()
            rb.drain(first + 500)
            ra.drain(first + 500)
        assert rb.received == ra.received == 20_000
        assert ra.perfect and rb.perfect


def test_poll_rx_and_tx(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False, ring_size=64) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False) as rx:
        assert rx.poll(timeout=0.05) == (False, False)  # nothing to read: times out cleanly
        ready = tx.poll(timeout=0.5, rx=False, tx=True)
        assert ready.writable
        tpl = template(veth_pair)
        b = ua.take(64)
        b.fill(tpl)
        b.patch(SEQ_OFFSET, seq_rows(0, 64))
        assert tx.send(b) == 64
        assert tx.poll(timeout=1, rx=False, tx=True).writable
        assert rx.poll(timeout=2).readable
        r = Receiver(rx, tpl)
        assert r.drain(64) == 64 and r.perfect
        assert tx.flush()
