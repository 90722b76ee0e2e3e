"""The kernel's AF_XDP selftest matrix (tools/testing/selftests/bpf/xskxceiver.c) over veth.

Each test is named after the xskxceiver case it stands for and runs in xskxceiver's three
modes: the receiver's XDP program in generic (skb) mode, in native (driver) mode, and native
with busy polling (SO_PREFER_BUSY_POLL). Frames carry sequence numbers and
every byte is compared, as xskxceiver does. The ownership ledger is checked after every
test by the ``make_umem`` fixture (all frames back in the pool).

Cases that need hardware (zero-copy, hardware ring sizes) are kept and skip here with the
reason.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import itertools
import socket
import struct
import time
from typing import NamedTuple

import numpy as np
import pytest

import xsk
from xsk import netns
from xsk.program import object_path

from .traffic import SEQ_OFFSET, Receiver, send_seq, seq_rows, template, transfer

MIN_PKT = 64


class Mode(NamedTuple):
    """How the receiving side runs: its XDP program's attach mode, and busy polling (µs, 0: off)."""

    xdp: str
    bp: int  # busy polling, microseconds per syscall

    @property
    def rx(self) -> dict:
        return {"xdp_mode": self.xdp, "busy_poll": self.bp}


MODES = {"skb": Mode("skb", 0), "native": Mode("native", 0), "busy-poll": Mode("native", 20)}


@pytest.fixture(params=list(MODES))
def mode(request) -> Mode:
    """xskxceiver's three modes: generic XDP, driver XDP, and driver XDP with busy polling."""
    return MODES[request.param]


def _pair_sockets(pair, ua, ub, mode, **rx_kwargs):
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False)
    try:
        rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **{**mode.rx, **rx_kwargs})
    except BaseException:
        tx.close()
        raise
    return tx, rx


def _wait_for(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pred()


def _seqs(batch: xsk.Batch) -> list[int]:
    return [int(s) for s in batch.read_at(SEQ_OFFSET, 8).copy().view(">u8").ravel()]


def _recv_all(sock: xsk.Socket, want: int, timeout: float = 2.0) -> list[int]:
    """Sequence numbers of frames received until ``want`` came or ``timeout``; frames go back to fill."""
    got: list[int] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if len(b):
            got += _seqs(b)
            b.release()
    return got


# --- send/receive --------------------------------------------------------------------------
def test_SEND_RECEIVE(veth_pair_factory, make_umem, mode):
    pair = veth_pair_factory(mtu=3000)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    tx, rx = _pair_sockets(pair, ua, ub, mode)
    with tx, rx:
        r = transfer(tx, rx, template(pair, size=2900), 20_000)
        assert r.received == 20_000 and r.perfect


def test_SEND_RECEIVE_2K_FRAME(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_size=2048), make_umem(frame_size=2048)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        assert rx.xdp_mode == mode.xdp and rx.busy_poll == mode.bp and rx.mode == "copy"
        r = transfer(tx, rx, template(veth_pair), 100_000)
        assert r.received == 100_000 and r.perfect
        assert r.offsets == {256}  # XDP_PACKET_HEADROOM, no UMEM headroom
        stats = rx.statistics()
        assert stats["rx_dropped"] == 0 and stats["rx_invalid_descs"] == 0


def test_SEND_RECEIVE_SINGLE_PKT(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=64), make_umem(frame_count=64)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        tpl = template(veth_pair, size=60)
        b = ua.take(1)
        b.write(0, tpl)
        assert tx.send(b) == 1 and b.spent
        assert tx.flush()
        got = rx.recv(16, timeout=2)
        assert len(got) == 1 and bytes(got.data(0)) == tpl
        got.release()


def test_UMEM_HEADROOM(veth_pair, make_umem, mode):
    ua, ub = make_umem(), make_umem(headroom=512)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        r = transfer(tx, rx, template(veth_pair), 10_000)
        assert r.received == 10_000 and r.perfect
        assert r.offsets == {256 + 512}


def test_BIDIRECTIONAL(veth_pair, make_umem, mode):
    """Both ends send and receive at once, then the directions swap: each end's socket turns
    from sender to receiver (xskxceiver swaps the roles of its two threads)."""
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, **mode.rx) as a, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, **mode.rx) as b:
        fwd, back = template(veth_pair), template(veth_pair, reverse=True)
        ra, rb = Receiver(a, back), Receiver(b, fwd)
        for first in range(0, 10_000, 500):
            assert send_seq(a, fwd, first, 500) == 500
            assert send_seq(b, back, first, 500) == 500
            a.flush()
            b.flush()
            rb.drain(first + 500)
            ra.drain(first + 500)
        assert rb.received == ra.received == 10_000
        assert ra.perfect and rb.perfect
        swapped = transfer(b, a, back, 5_000)  # b only sends, a only receives
        assert swapped.received == 5_000 and swapped.perfect


def test_TEARDOWN(veth_pair, make_umem, mode):
    """Create, use and delete the sockets ten times in a row (the kernel tears down asynchronously)."""
    ua, ub = make_umem(frame_count=64), make_umem(frame_count=64)
    tpl = template(veth_pair)
    for round_ in range(10):
        tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
        with tx, rx:
            assert send_seq(tx, tpl, round_, 1) == 1
            assert tx.flush()
            assert _recv_all(rx, 1) == [round_]
        assert ua.accounting().pool == ub.accounting().pool == 64


# --- poll ----------------------------------------------------------------------------------
def test_POLL_RX(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 64) == 64
        assert rx.poll(timeout=2).readable
        r = Receiver(rx, tpl)
        assert r.drain(64) == 64 and r.perfect


def test_POLL_TX(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        assert tx.poll(timeout=0.5, rx=False, tx=True).writable
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 64) == 64
        assert tx.poll(timeout=1, rx=False, tx=True).writable  # copy mode: poll also transmits
        assert tx.flush()
        r = Receiver(rx, tpl)
        assert r.drain(64) == 64 and r.perfect


def test_POLL_RXQ_FULL(veth_pair, make_umem, mode):
    """Nobody sends: poll on RX times out cleanly, and again after the RX ring was filled and drained."""
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode, ring_size=64, fill_frames=128)
    with tx, rx:
        t0 = time.monotonic()
        assert rx.poll(timeout=0.1) == (False, False)
        assert time.monotonic() - t0 >= 0.09
        assert send_seq(tx, template(veth_pair), 0, 128) == 128
        tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_ring_full"] == 64)
        assert rx.poll(timeout=0.1).readable
        got = rx.recv(256, timeout=0)
        assert len(got) == 64  # the full RX ring; the rest were counted in rx_ring_full
        got.release()
        assert rx.poll(timeout=0.1) == (False, False)
        assert len(rx.recv(256, timeout=0.05)) == 0


def test_POLL_TXQ_FULL(veth_pair, make_umem, mode):
    """More frames than the TX ring holds: send takes what fits and leaves the rest with the
    caller (backpressure, not loss); poll for TX says when there is room again."""
    ua, ub = make_umem(frame_count=512), make_umem(frame_count=512)
    tx = xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False, ring_size=64)
    rx = xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, **mode.rx)
    with tx, rx:
        tpl = template(veth_pair)
        b = ua.take(200)
        b.fill(tpl)
        b.patch(SEQ_OFFSET, seq_rows(0, 200))
        sent = tx.send(b)
        assert 0 < sent <= 64 and len(b) == 200 - sent
        assert ua.accounting().user == 200 - sent
        while len(b):
            assert tx.poll(timeout=1, rx=False, tx=True).writable
            sent += tx.send(b)
        assert sent == 200 and tx.flush()
        assert sorted(_recv_all(rx, 200)) == list(range(200))


# --- invalid descriptors -------------------------------------------------------------------
def _invalid_desc_cases(frame_size: int, frame_count: int) -> list[tuple[str, int, int, int, bool]]:
    """(name, frame, offset, length, valid) after xskxceiver's testapp_invalid_desc, aligned mode."""
    last = frame_count - 1
    cases = [
        ("address 0", 0, 0, MIN_PKT, True),
        ("too long", 1, 0, frame_size + 1, False),
        ("up to the end of the UMEM", last, frame_size - MIN_PKT, MIN_PKT, True),
        ("straddling the end of the UMEM", last, frame_size - MIN_PKT // 2, MIN_PKT, False),
    ]
    if frame_size == 4096:
        cases += [("straddling a 4K page", 2, 4096 - MIN_PKT // 2, MIN_PKT, False),
                  ("straddling 2K inside a 4K frame", 3, 2048 - MIN_PKT // 2, MIN_PKT, True)]
    else:
        cases += [("straddling a 4K page", 3, 2048 - MIN_PKT // 2, MIN_PKT, False),
                  ("straddling a 2K frame", 2, 2048 - MIN_PKT // 2, MIN_PKT, False)]
    return [*cases, ("valid, last", 4, 0, MIN_PKT, True)]


def _check_descriptor_cases(pair, tx: xsk.Socket, rx: xsk.Socket, cases) -> None:
    """Send one descriptor per case (name, frame, offset, length, valid), unchecked by us, in order:
    exactly the valid ones arrive, in order, and the kernel counts the rest as invalid."""
    umem = tx.umem
    tpl = np.frombuffer(template(pair, size=MIN_PKT), dtype=np.uint8)
    for seq, (name, frame, offset, length, _valid) in enumerate(cases):
        b = _take_frame(umem, frame)
        b.set_offsets(offset)
        room = umem.frame_size - offset
        b.write(0, tpl[:room].tobytes())  # what fits; the kernel must reject the rest unread
        if room >= SEQ_OFFSET + 8:
            b.patch(SEQ_OFFSET, seq_rows(seq, 1))
        b.lens[0] = length
        assert tx.send(b, check_bounds=False) == 1, name
        tx.flush(timeout=0.2)
    valid = [seq for seq, case in enumerate(cases) if case[4]]
    assert _recv_all(rx, len(valid)) == valid
    assert _recv_all(rx, 1, timeout=0.2) == []
    assert tx.statistics()["tx_invalid_descs"] == len(cases) - len(valid)


def _take_frame(umem: xsk.Umem, index: int) -> xsk.Batch:
    b = umem.take(umem.frame_count)
    mine = b.select(b.frame_indices == index)
    b.release()
    assert len(mine) == 1
    return mine


@pytest.mark.parametrize("frame_size", [4096, 2048], ids=["ALIGNED_INV_DESC", "ALIGNED_INV_DESC_2K_FRAME_SIZE"])
def test_ALIGNED_INV_DESC(veth_pair, make_umem, mode, frame_size):
    frame_count = 64
    ua, ub = make_umem(frame_size=frame_size, frame_count=frame_count), make_umem(frame_size=frame_size)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        _check_descriptor_cases(veth_pair, tx, rx, _invalid_desc_cases(frame_size, frame_count))
    # Descriptors outside the UMEM can't even be expressed: addresses come only from frames
    # the caller owns, and the ledger refuses any other address before a ring sees it.
    for addr in (ua.size, 2**64 - 2):
        with pytest.raises(xsk.FrameOwnershipError, match="outside the UMEM"):
            ua.ledger.release(np.array([addr], dtype=np.uint64), ua.take(0)._token)
    b = ua.take(1)
    with pytest.raises(xsk.FrameTooLargeError):
        b.set_offsets(-2)
    b.release()


# --- unaligned chunk mode -----------------------------------------------------------------
@pytest.mark.parametrize("frame_size", [3000, 4000])
def test_SEND_RECEIVE_UNALIGNED(veth_pair, make_umem, mode, frame_size):
    """Frames of any size laid back to back (XDP_UMEM_UNALIGNED_CHUNK_FLAG), so packets
    straddle 4 KiB pages; the kernel reports RX addresses as base + offset << 48."""
    ua = make_umem(frame_size=frame_size, frame_count=1024, unaligned=True)
    ub = make_umem(frame_size=frame_size, frame_count=1024, unaligned=True)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        tpl = template(veth_pair, size=1400)
        r = transfer(tx, rx, tpl, 20_000)
        assert r.received == 20_000 and r.perfect
        assert r.offsets == {256}
        # 20,000 frames went round a 1024-frame UMEM, so every frame was used, and these
        # frames' packets cross a 4 KiB page:
        starts = np.arange(ub.frame_count) * frame_size + 256
        assert np.count_nonzero(starts // 4096 != (starts + 1400 - 1) // 4096) > 300


def test_UNALIGNED_INV_DESC(veth_pair, make_umem, mode):
    frame_size, frame_count = 3000, 64
    ua = make_umem(frame_size=frame_size, frame_count=frame_count, unaligned=True)
    ub = make_umem(frame_size=frame_size, unaligned=True)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    last = frame_count - 1
    cases = [  # (name, frame, offset, length, valid)
        ("address 0", 0, 0, MIN_PKT, True),
        ("straddling a 4K page", 1, 4096 - frame_size - MIN_PKT // 2, MIN_PKT, True),
        ("longer than a chunk", 2, 0, frame_size + 1, False),
        ("up to the end of the UMEM", last, frame_size - MIN_PKT, MIN_PKT, True),
        ("straddling the end of the UMEM", last, frame_size - MIN_PKT // 2, MIN_PKT, False),
        ("valid, last", 4, 0, MIN_PKT, True),
    ]
    with tx, rx:
        _check_descriptor_cases(veth_pair, tx, rx, cases)


# --- statistics ----------------------------------------------------------------------------
def test_STAT_RX_DROPPED(veth_pair, make_umem, mode):
    """UMEM headroom so large that every other (big) frame doesn't fit: rx_dropped counts them."""
    ua, ub = make_umem(), make_umem(headroom=512)  # 2048 - 256 - 512 = 1280 bytes of room
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    small, big = template(veth_pair, size=MIN_PKT), template(veth_pair, size=1400)
    with tx, rx:
        for i in range(50):
            assert send_seq(tx, small, i, 1) == 1
            assert send_seq(tx, big, 1000 + i, 1) == 1
        tx.flush()
        assert _recv_all(rx, 50) == list(range(50))
        assert _wait_for(lambda: rx.statistics()["rx_dropped"] == 50)


def test_STAT_TX_INVALID(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        b = ua.take(32)
        b.fill(template(veth_pair))
        b.patch(SEQ_OFFSET, seq_rows(0, 32))
        b.lens[::2] = 3000  # half the descriptors run past their 2048-byte frame
        assert tx.send(b, check_bounds=False) == 32
        tx.flush(timeout=0.5)
        assert tx.statistics()["tx_invalid_descs"] == 16
        assert _recv_all(rx, 16) == list(range(1, 32, 2))
        # this kernel completes rejected descriptors too (older ones never did: then the frames
        # come back when the socket closes); either way none is lost
        assert ua.accounting().tx in (0, 16)
    assert ua.accounting().pool == ua.frame_count


def test_STAT_RX_FULL(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=1024), make_umem(frame_count=1024)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode, ring_size=64, fill_frames=512)
    with tx, rx:
        tpl = template(veth_pair)
        for first in range(0, 512, 64):
            assert send_seq(tx, tpl, first, 64) == 64
            tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_ring_full"] == 512 - 64)
        got = rx.recv(512, timeout=0)
        assert _seqs(got) == list(range(64))  # what the ring held; the rest counted, not delivered
        got.release()
        assert ub.accounting().balanced


def test_STAT_FILL_EMPTY(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode, fill_frames=0)
    with tx, rx:
        tpl = template(veth_pair)
        assert ub.accounting().fill == 0
        assert send_seq(tx, tpl, 0, 10) == 10
        tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_fill_ring_empty_descs"] == 10)
        assert len(rx.recv(64, timeout=0.1)) == 0
        assert rx.fill(ub.take(32)) == 32  # frames on the fill ring: reception resumes
        assert send_seq(tx, tpl, 10, 10) == 10
        tx.flush()
        assert _recv_all(rx, 10) == list(range(10, 20))


# --- XDP programs of the test's own --------------------------------------------------------
def test_XDP_DROP_HALF(veth_pair, make_umem, mode, test_program):
    ua, ub = make_umem(), make_umem()
    b = veth_pair.b
    with xsk.CustomProgram(test_program("xdp_drop_half"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog:
        assert prog.mode == mode.xdp and prog.name == "xdp_drop_half"
        with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
             xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp) as rx:
            tpl = template(veth_pair)
            for first in range(0, 1000, 100):
                assert send_seq(tx, tpl, first, 100) == 100
                tx.flush()
            assert _recv_all(rx, 500) == list(range(0, 1000, 2))
            assert struct.unpack("<Q", prog.lookup("seen", 0, 8))[0] == 1000


def test_XDP_SHARED_UMEM(veth_pair, make_umem, mode, test_program):
    """Two sockets on one queue share a UMEM (and its fill and completion rings); the program
    picks the socket by destination MAC."""
    ua, ub = make_umem(), make_umem()
    a, b = veth_pair.a, veth_pair.b
    to_0 = template(veth_pair)  # destination 02:00:00:00:00:0b: slot 1
    to_1 = bytearray(to_0)
    to_1[5] = 0x0C  # destination ...:0c: slot 0
    with xsk.CustomProgram(test_program("xdp_by_dst_mac"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog:
        rx = {"tx": False, "program": prog, "busy_poll": mode.bp}
        with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
             xsk.Socket(ub, b.ifname, netns=b.netns, xskmap_key=1, **rx) as odd, \
             xsk.Socket(ub, b.ifname, netns=b.netns, xskmap_key=0, **rx) as even:
            assert odd._fq is even._fq  # one fill ring for the queue
            r_odd, r_even = Receiver(odd, to_0), Receiver(even, bytes(to_1))
            for first in range(0, 2000, 100):
                assert send_seq(tx, to_0, first, 100) == 100
                assert send_seq(tx, bytes(to_1), first, 100) == 100
                tx.flush()
                r_odd.drain(first + 100)
                r_even.drain(first + 100)
            assert r_odd.received == r_even.received == 2000
            assert r_odd.perfect and r_even.perfect
            acc = ub.accounting()
            assert acc.balanced and acc.user == 0
        assert ub.accounting().pool == ub.frame_count


def test_XDP_METADATA_COPY(veth_pair, make_umem, mode, test_program):
    """The program writes a frame counter with bpf_xdp_adjust_meta; it arrives in front of each frame."""
    ua, ub = make_umem(), make_umem()
    b = veth_pair.b
    with xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog, \
         xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp) as rx:
        tpl = template(veth_pair)
        metas: list[int] = []
        seqs: list[int] = []
        for first in range(0, 1000, 100):
            assert send_seq(tx, tpl, first, 100) == 100
            tx.flush()
            deadline = time.monotonic() + 2
            while len(seqs) < first + 100 and time.monotonic() < deadline:
                got = rx.recv(256, timeout=0.05)
                if len(got):
                    metas += got.metadata(4).copy().view("<u4").ravel().tolist()
                    seqs += _seqs(got)
                    got.release()
        assert seqs == list(range(1000))
        assert metas == list(range(1000))


def test_XSKMAP_SWAP_WHILE_TRAFFIC_FLOWS(veth_pair, make_umem, mode):
    """Halfway through, with frames still in flight, the queue's XSKMAP slot is pointed at
    another socket on the same queue and UMEM: every frame lands in exactly one of them,
    none lost or duplicated, each socket's share in order."""
    ua, ub = make_umem(), make_umem()
    a, b = veth_pair.a, veth_pair.b
    # xsk's own redirect program (no rules: everything to xsks_map[queue]) loaded as a custom one
    with xsk.CustomProgram(object_path(), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog, \
         xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp) as first, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp, xskmap_key=1) as second:
        tpl = template(veth_pair)
        got: dict[str, list[int]] = {"first": [], "second": []}

        def drain(timeout: float = 0.0) -> None:
            deadline = time.monotonic() + timeout
            while True:
                idle = True
                for name, sock in (("first", first), ("second", second)):
                    b = sock.recv(256, timeout=0)
                    if len(b):
                        got[name] += _seqs(b)
                        b.release()
                        idle = False
                if idle and time.monotonic() >= deadline:
                    return

        for start in range(0, 4000, 100):
            assert send_seq(tx, tpl, start, 100) == 100  # no flush: frames are still on their way
            if start == 2000:
                prog.place(0, second)
            drain()
        tx.flush()
        drain(timeout=0.5)
        assert sorted(got["first"] + got["second"]) == list(range(4000))  # none lost, none twice
        assert got["first"] == sorted(got["first"]) and got["second"] == sorted(got["second"])
        assert got["first"][0] == 0 and got["second"] and got["second"][-1] == 3999
        assert max(got["first"]) < min(got["second"])  # the switch happened once, at one point


# --- multi-buffer (XDP_USE_SG) ---------------------------------------------------------------
JUMBO_MTU = 9000


def _send_packets(sock: xsk.Socket, frames: list[bytes]) -> int:
    """Send each frame as a packet of frame-sized fragments chained with XDP_PKT_CONTD."""
    umem = sock.umem
    size = umem.frame_size
    pieces = [(f[i:i + size], i + size < len(f)) for f in frames for i in range(0, len(f), size)]
    b = umem.take(len(pieces))
    assert len(b) == len(pieces)
    for i, (piece, more) in enumerate(pieces):
        b.write(i, piece)
        b.options[i] = xsk.XDP_PKT_CONTD if more else 0
    sent = 0
    deadline = time.monotonic() + 5
    while len(b) and time.monotonic() < deadline:
        sent += sock.send(b)
        if len(b):
            sock.poll(0.01, rx=False, tx=True)
    assert sock.flush(timeout=2)
    return sent


def _recv_packets(sock: xsk.Socket, want: int, timeout: float = 2.0) -> list[bytes]:
    """Whole packets (fragments joined) until ``want`` came or ``timeout``; frames go back to fill."""
    packets: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(packets) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if not len(b):
            continue
        starts = [*b.packet_starts().tolist(), len(b)]
        assert not b.options[-1] & xsk.XDP_PKT_CONTD, "recv returned a packet cut short"
        for first, end in itertools.pairwise(starts):
            packets.append(b"".join(bytes(b.data(i)) for i in range(first, end)))
        b.release()
    return packets


def _jumbo(pair, seq: int, size: int = JUMBO_MTU + 14) -> bytes:
    frame = bytearray(template(pair, size=size))
    frame[SEQ_OFFSET:SEQ_OFFSET + 8] = seq.to_bytes(8, "big")
    return bytes(frame)


def test_SEND_RECEIVE_9K_PACKETS(veth_pair_factory, make_umem, mode):
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx, multi_buffer=True)
    with tx, rx:
        got: list[bytes] = []
        want: list[bytes] = []
        for first in range(0, 300, 30):
            frames = [_jumbo(pair, first + i) for i in range(30)]
            want += frames
            assert _send_packets(tx, frames) == 30 * 3  # 9014 bytes: 3 fragments of 4 KiB frames
            got += _recv_packets(rx, 30)
        assert got == want
        assert rx.statistics()["rx_dropped"] == 0


def test_SEND_RECEIVE_9K_PACKETS_without_multi_buffer_are_dropped(veth_pair_factory, make_umem, mode):
    """A receiver without XDP_USE_SG can't take a packet larger than its frame: the kernel
    drops it and counts it in rx_dropped, and normal-sized traffic still arrives."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx)
    with tx, rx:
        assert _send_packets(tx, [_jumbo(pair, i) for i in range(10)]) == 30
        small = [_jumbo(pair, 100 + i, size=1000) for i in range(10)]
        assert _send_packets(tx, small) == 10
        assert _recv_packets(rx, 10) == small
        assert _wait_for(lambda: rx.statistics()["rx_dropped"] == 10)


def test_TOO_MANY_FRAGS(veth_pair_factory, make_umem, mode):
    """A packet with more fragments than the kernel allows (MAX_SKB_FRAGS + 1 = 18 here) is
    dropped as invalid; the packets around it get through."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=2048), make_umem(frame_size=4096)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx, multi_buffer=True)
    with tx, rx:
        before = _jumbo(pair, 1, size=3000)
        after = _jumbo(pair, 3, size=3000)
        b = ua.take(20)
        b.fill(template(pair, size=60))
        b.options[:] = xsk.XDP_PKT_CONTD
        b.options[-1] = 0  # one packet of 20 fragments
        assert _send_packets(tx, [before]) == 2
        sent = tx.send(b)
        tx.flush(timeout=0.5)
        if len(b):
            b.release()
        assert _send_packets(tx, [after]) == 2
        assert sent == 20
        assert _recv_packets(rx, 2) == [before, after]
        assert tx.statistics()["tx_invalid_descs"] >= 18


def test_ALIGNED_INV_DESC_MULTI_BUFF(veth_pair_factory, make_umem, mode):
    """An invalid fragment anywhere in a packet drops the whole packet (counted as invalid);
    the packets before and after it arrive whole."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx, multi_buffer=True)
    with tx, rx:
        first, last = _jumbo(pair, 1, size=6000), _jumbo(pair, 3, size=6000)
        assert _send_packets(tx, [first]) == 2
        b = ua.take(3)
        b.fill(template(pair, size=60))
        b.lens[1] = 4097  # the middle fragment runs past its frame
        b.options[:] = [xsk.XDP_PKT_CONTD, xsk.XDP_PKT_CONTD, 0]
        assert tx.send(b, check_bounds=False) == 3
        tx.flush(timeout=0.5)
        assert _send_packets(tx, [last]) == 2
        assert _recv_packets(rx, 2) == [first, last]
        assert _recv_packets(rx, 1, timeout=0.2) == []
        assert tx.statistics()["tx_invalid_descs"] >= 1


def test_XDP_METADATA_COPY_MULTI_BUFF(veth_pair_factory, make_umem, mode, test_program):
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    b = pair.b
    with xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog, \
         xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp, multi_buffer=True) as rx:
        frames = [_jumbo(pair, i) for i in range(20)]
        assert _send_packets(tx, frames) == 60
        metas, got = [], []
        deadline = time.monotonic() + 2
        while len(got) < 20 and time.monotonic() < deadline:
            batch = rx.recv(256, timeout=0.05)
            if len(batch):
                starts = batch.packet_starts()
                metas += batch.metadata(4)[starts].copy().view("<u4").ravel().tolist()
                ends = [*starts[1:].tolist(), len(batch)]
                got += [b"".join(bytes(batch.data(i)) for i in range(s, e)) for s, e in zip(starts, ends, strict=True)]
                batch.release()
        assert got == frames and metas == list(range(20))


def test_XDP_PKT_CONTD_needs_a_multi_buffer_socket(veth_pair, make_umem):
    ua = make_umem(frame_count=64)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx:
        b = ua.take(2)
        b.options[0] = xsk.XDP_PKT_CONTD
        with pytest.raises(xsk.ConfigError, match="multi_buffer=True"):
            tx.send(b)
        assert len(b) == 2
        b.release()


# --- what needs hardware -------------------------------------------------------------------
SIOCETHTOOL = 0x8946
ETHTOOL_GRINGPARAM = 0x10


def _hardware_rings(ns: str, ifname: str) -> tuple[int, int] | None:
    """(max RX, max TX) descriptors of the driver's rings, or None when it has none to report."""
    buf = ctypes.create_string_buffer(struct.pack("9I", ETHTOOL_GRINGPARAM, *([0] * 8)))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    with netns.entered(ns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, request)
        except OSError as exc:
            if exc.errno == errno.EOPNOTSUPP:
                return None
            raise
    fields = struct.unpack("9I", buf.raw[:36])
    return fields[1], fields[4]


@pytest.mark.parametrize("case", ["HW_SW_MIN_RING_SIZE", "HW_SW_MAX_RING_SIZE"])
def test_hardware_ring_sizes(veth_pair, make_umem, case):
    rings = _hardware_rings(veth_pair.b.netns, veth_pair.b.ifname)
    if rings is None:
        pytest.skip(f"{case}: veth has no hardware rings to resize (ETHTOOL_GRINGPARAM: not supported)")
    ring = 64 if case == "HW_SW_MIN_RING_SIZE" else min(rings)
    ua, ub = make_umem(), make_umem()
    tx, rx = _pair_sockets(veth_pair, ua, ub, MODES["native"], ring_size=ring)
    with tx, rx:
        r = transfer(tx, rx, template(veth_pair), 5_000, chunk=min(ring, 512))
        assert r.received == 5_000 and r.perfect


def test_zero_copy_is_reported_not_faked(veth_pair, make_umem):
    ua = make_umem()
    refused = r"zero-copy mode .*Operation not supported .*use mode='copy' or 'auto'"
    with pytest.raises(xsk.UnsupportedError, match=refused):
        xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, mode="zerocopy")
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, mode="auto") as s:
        assert s.mode == "copy"  # the fallback, reported as what the kernel gave
