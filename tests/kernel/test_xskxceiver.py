"""The kernel's AF_XDP selftest matrix (xskxceiver, Linux 6.18 and its stable updates) over veth.

Each ``test_<CASE>`` stands for the xskxceiver case of that name and asserts the kernel's own
expectation, or where this kernel does otherwise, what it does and why; tests named in lower
case are xsk's own, beside them. Every case runs in
xskxceiver's three modes on veth: the receiver's XDP program in generic (skb) mode, in native
(driver) mode, and native with busy polling (SO_PREFER_BUSY_POLL). Frames carry sequence
numbers and every received byte is compared with what was sent (``_checked_seqs``, the
``Receiver`` of tests/kernel/traffic.py); after every test the kernel conftest verifies the
whole ownership ledger of every UMEM made.

Where our API can't express a descriptor the kernel's table sends (an address outside the
UMEM, a negative offset), the test asserts that xsk refuses it before any ring sees it.
The multi-buffer cases send the kernel's tables as they are, and each descriptor is read back
from the TX ring. On the kernel these tests run on, a dropped packet (an invalid descriptor in
it, or one fragment too many) is dropped up to its end, the next descriptor without
XDP_PKT_CONTD: one without an end of its own takes the packet after it along. xskxceiver and
the 6.18 sources expect the next descriptor to start a new packet instead; the comment above
``_inv_desc_mb_table`` gives the evidence. Cases veth cannot run as the kernel asks are
declared before they run, with the kernel's reason: the hardware ring sizes (a skip mark, and a
test that veth still has no rings) and the tail-grow cases (an assertion of exactly what veth
does with each frame). No case skips at run time. Zero-copy is a negative test here (the bind is
refused and reported).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import itertools
import socket
import struct
import subprocess
import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pytest

import xsk
from xsk import netns
from xsk._binding import ffi, lib
from xsk._program import object_path

from .traffic import SEQ_OFFSET, Receiver, send_seq, seq_rows, template, transfer

MIN_PKT = 64
DEFAULT_PKT_CNT = 4096  # xskxceiver's packets per case
AF_XDP, SO_BUSY_POLL, SO_PREFER_BUSY_POLL = 44, 46, 69


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


def _checked_seqs(batch: xsk.Batch, tpl: bytes) -> list[int]:
    """Sequence numbers of the batch's frames, each frame checked byte for byte against ``tpl``
    (its length, and every byte but the 8-byte sequence number)."""
    assert set(batch.lens.tolist()) <= {len(tpl)}, f"frame lengths {set(batch.lens.tolist())}, sent {len(tpl)}"
    rows = batch.gather(len(tpl))
    seqs = rows[:, SEQ_OFFSET:SEQ_OFFSET + 8].copy().view(">u8").ravel()
    want = np.frombuffer(tpl, dtype=np.uint8)
    rows[:, SEQ_OFFSET:SEQ_OFFSET + 8] = want[SEQ_OFFSET:SEQ_OFFSET + 8]
    differ = np.flatnonzero(np.any(rows != want, axis=1))
    assert not len(differ), f"frame {int(differ[0])} (sequence {int(seqs[differ[0]])}) differs from what was sent"
    return [int(x) for x in seqs]


def _recv_all(sock: xsk.Socket, want: int, tpl: bytes, timeout: float = 2.0) -> list[int]:
    """Sequence numbers of frames received until ``want`` came or ``timeout``, every frame's bytes
    checked against ``tpl``; the frames go back to the fill ring."""
    got: list[int] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if len(b):
            got += _checked_seqs(b, tpl)
            b.release()
    return got


def _xdp_attach_mode(ns: str, ifname: str) -> str:
    """How the interface's XDP program is attached, as the kernel reports it: "native" or "skb"."""
    out = subprocess.run(["ip", "-n", ns, "-d", "-o", "link", "show", "dev", ifname],
                         capture_output=True, text=True, check=True).stdout.split()
    if "xdpgeneric" in out:
        return "skb"
    assert "xdp" in out, f"no XDP program on {ifname}: {out}"
    return "native"


def _busy_poll_of(sock: xsk.Socket) -> tuple[int, int]:
    """(SO_BUSY_POLL, SO_PREFER_BUSY_POLL) of the socket, read back from the kernel."""
    s = socket.socket(AF_XDP, socket.SOCK_RAW, 0, fileno=sock.fd)  # AF_XDP: the family must be given
    try:
        return s.getsockopt(socket.SOL_SOCKET, SO_BUSY_POLL), s.getsockopt(socket.SOL_SOCKET, SO_PREFER_BUSY_POLL)
    finally:
        s.detach()


def _link(ns: str, ifname: str, state: str) -> None:
    subprocess.run(["ip", "-n", ns, "link", "set", ifname, state], check=True, capture_output=True)


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
        # the mode is what the kernel reports: the program's attachment, the socket's options
        assert _xdp_attach_mode(veth_pair.b.netns, veth_pair.b.ifname) == mode.xdp
        assert _busy_poll_of(rx) == (mode.bp, 1 if mode.bp else 0)
        assert rx.mode == "copy"
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


def test_TEARDOWN(veth_pair_factory, make_umem, mode):
    """Ten times in a row: make the UMEMs and sockets, run the full traffic (xskxceiver's 4096
    frames), delete it all (the kernel tears sockets down asynchronously)."""
    pair = veth_pair_factory()
    tpl = template(pair)
    for _ in range(10):
        ua, ub = make_umem(), make_umem()
        tx, rx = _pair_sockets(pair, ua, ub, mode)
        with tx, rx:
            r = transfer(tx, rx, tpl, DEFAULT_PKT_CNT)
            assert r.received == DEFAULT_PKT_CNT and r.perfect
        assert ua.accounting().pool == ua.frame_count and ub.accounting().pool == ub.frame_count
        ua.close()
        ub.close()


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
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 128) == 128
        tx.flush()
        assert _wait_for(lambda: rx.statistics()["rx_ring_full"] == 64)
        assert rx.poll(timeout=0.1).readable
        got = rx.recv(256, timeout=0)
        assert _checked_seqs(got, tpl) == list(range(64))  # the full RX ring; the rest counted in rx_ring_full
        got.release()
        assert rx.poll(timeout=0.1) == (False, False)
        assert len(rx.recv(256, timeout=0.05)) == 0


def test_POLL_TXQ_FULL(veth_pair, make_umem, mode):
    """A full TX ring that the kernel can't take from (our end's link is down): poll() for TX
    times out, since the kernel reports TX room only while no more than half the ring is in use.
    With the link up, poll drives the copy-mode transmit and says writable once half the ring is
    free; every frame then arrives."""
    a = veth_pair.a
    ua, ub = make_umem(frame_count=4096), make_umem(frame_count=4096)
    tx = xsk.Socket(ua, a.ifname, netns=a.netns, rx=False, ring_size=2048)
    rx = xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, fill_frames=2048, **mode.rx)
    with tx, rx:
        tpl = template(veth_pair)
        b = ua.take(2048)
        b.write_template(tpl)
        b.patch(SEQ_OFFSET, seq_rows(0, 2048))
        tx._path.max_kicks = 0  # onto the ring without waking the kernel: the ring fills
        assert tx.send(b) == 2048 and b.spent
        _link(a.netns, a.ifname, "down")
        consumed = int(tx._tx.consumer[0])
        t0 = time.monotonic()
        assert tx.poll(timeout=0.2, rx=False, tx=True) == (False, False)
        assert time.monotonic() - t0 >= 0.19
        assert int(tx._tx.consumer[0]) == consumed  # nothing left the ring
        _link(a.netns, a.ifname, "up")
        assert tx.poll(timeout=2, rx=False, tx=True).writable
        assert (int(tx._tx.consumer[0]) - consumed) & 0xFFFFFFFF >= 1024  # at most half the ring in use
        tx._path.max_kicks = 2048 // 32
        assert tx.flush(timeout=2)
        assert _recv_all(rx, 2048, tpl) == list(range(2048))


# --- invalid descriptors -------------------------------------------------------------------
REFUSED = None  # a descriptor the kernel's table sends that xsk can't express (see _refused_before_the_ring)


def _inv_desc_table(umem: xsk.Umem) -> list[tuple[str, int, int, bool | None]]:
    """xskxceiver's testapp_invalid_desc table for this UMEM: (name, address, length, valid), in order.

    Validity is the kernel's: in aligned mode a descriptor may not cross its frame, in unaligned
    mode it may cross chunks (and 4 KiB pages) as long as it stays inside the UMEM."""
    size, aligned_2k = umem.size, not umem.unaligned and umem.frame_size == 2048
    return [
        ("zero address", 0, MIN_PKT, True),
        ("valid", 0, MIN_PKT, True),
        ("straddling the UMEM's start", -2, MIN_PKT, REFUSED),
        ("too long", 0, 9001, False),
        ("ending at the UMEM's end", size - MIN_PKT, MIN_PKT, True),
        ("past the UMEM's end", size, MIN_PKT, REFUSED),
        ("straddling the UMEM's end", size - MIN_PKT // 2, MIN_PKT, False),
        ("straddling a 4K page", 4096 - MIN_PKT // 2, MIN_PKT, umem.unaligned),
        ("straddling a 2K boundary", 2048 - MIN_PKT // 2, MIN_PKT, not aligned_2k),
        ("sync", 0, MIN_PKT, True),
    ]


def _take_frames(umem: xsk.Umem, frames: list[int]) -> xsk.Batch:
    """A batch holding exactly these frames, in ascending order."""
    everything = umem.take(umem.frame_count)
    mine = everything.select(np.isin(everything.frame_indices, frames))
    everything.release()
    assert sorted(mine.frame_indices.tolist()) == sorted(frames), "a frame is not back in the pool"
    return mine


def _send_descriptor(tx: xsk.Socket, address: int, length: int, tpl: bytes, seq: int) -> None:
    """One TX descriptor (address, length), unchecked by xsk, carrying ``tpl`` with sequence ``seq``
    as far as it fits in the UMEM. When it runs into the next frame, the test holds that frame
    too while the kernel reads it."""
    umem = tx.umem
    frame, offset = divmod(address, umem.frame_size)
    data = bytearray(tpl[:length])
    data[SEQ_OFFSET:SEQ_OFFSET + 8] = seq.to_bytes(8, "big")
    end = min(address + len(data), umem.size)
    held = _take_frames(umem, sorted({frame, min(end - 1, umem.size - 1) // umem.frame_size}))
    umem.array[address:end] = np.frombuffer(bytes(data[:end - address]), dtype=np.uint8)
    desc = held.select(held.frame_indices == frame)
    desc.set_offsets(offset)
    desc.lens[0] = length
    assert tx.send(desc, check_bounds=False) == 1 and desc.spent
    assert tx.flush(timeout=1)  # the kernel completes invalid descriptors too
    held.release()


def _refused_before_the_ring(tx: xsk.Socket, address: int) -> None:
    """An address the kernel's table sends that xsk can't express: a negative offset is refused
    by the batch, an address outside the UMEM by the data path's ledger check; neither reaches
    the TX ring."""
    umem = tx.umem
    if address < 0:
        b = umem.take(1)
        with pytest.raises(xsk.FrameTooLargeError):
            b.set_offsets(address)
        b.release()
        return
    b = umem.take(1, MIN_PKT)
    producer = int(tx._tx.producer[0])
    addrs = np.array([address], dtype=np.uint64)
    rc = lib.xsk_path_send(tx._path, ffi.from_buffer("uint64_t[]", addrs), b.c_lens(), ffi.NULL, 1, b._token, 0)
    assert rc == lib.XSK_ERR_RANGE and int(tx._tx.producer[0]) == producer
    b.release()


def _check_descriptor_table(tx: xsk.Socket, rx: xsk.Socket, tpl: bytes,
                            table: list[tuple[str, int, int, bool | None]]) -> None:
    """Send the table's descriptors in order (sequence number = index): exactly the valid ones
    arrive, in order and byte for byte, and the kernel counts every other one it saw as invalid."""
    for seq, (_name, address, length, valid) in enumerate(table):
        if valid is REFUSED:
            _refused_before_the_ring(tx, address)
        else:
            _send_descriptor(tx, address, length, tpl, seq)
    arriving = [seq for seq, entry in enumerate(table) if entry[3]]
    assert _recv_all(rx, len(arriving), tpl) == arriving
    assert _recv_all(rx, 1, tpl, timeout=0.2) == []
    assert tx.statistics()["tx_invalid_descs"] == sum(1 for entry in table if entry[3] is False)


@pytest.mark.parametrize("frame_size", [4096, 2048], ids=["ALIGNED_INV_DESC", "ALIGNED_INV_DESC_2K_FRAME_SIZE"])
def test_ALIGNED_INV_DESC(veth_pair, make_umem, mode, frame_size):
    ua, ub = make_umem(frame_size=frame_size, frame_count=64), make_umem(frame_size=frame_size)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        table = _inv_desc_table(ua)
        _check_descriptor_table(tx, rx, template(veth_pair, size=MIN_PKT), table)
        assert [name for name, *_, valid in table if valid] == (
            ["zero address", "valid", "ending at the UMEM's end", "straddling a 2K boundary", "sync"]
            if frame_size == 4096 else ["zero address", "valid", "ending at the UMEM's end", "sync"])


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
        # the addresses the frames really arrived at: packets that cross a 4 KiB page
        crossing = [a for a in r.addresses if a // 4096 != (a + len(tpl) - 1) // 4096]
        assert len(crossing) > 300 and all(a % frame_size == 256 for a in r.addresses)


def test_UNALIGNED_INV_DESC(veth_pair, make_umem, mode):
    ua = make_umem(frame_size=4096, frame_count=64, unaligned=True)
    ub = make_umem(frame_size=4096, unaligned=True)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        table = _inv_desc_table(ua)
        _check_descriptor_table(tx, rx, template(veth_pair, size=MIN_PKT), table)
        assert [name for name, *_, valid in table if valid is False] == ["too long", "straddling the UMEM's end"]


def test_UNALIGNED_INV_DESC_4001_FRAME_SIZE(veth_pair, make_umem, mode):
    """The kernel's case runs the unaligned table on 4001-byte chunks, so that the UMEM's end is
    not on a page boundary. xsk refuses odd chunk sizes (below: the copy-mode completion clears
    an odd address's bit 0, naming the chunk before it), so it runs on 3998-byte chunks, the
    UMEM's end 2,048 bytes into a page as 4001's is 1,024 bytes in."""
    with pytest.raises(xsk.ConfigError, match="even number"):
        xsk.Umem(frame_size=4001, unaligned=True, hugepages="off")
    ua = make_umem(frame_size=3998, frame_count=1024, unaligned=True)
    ub = make_umem(frame_size=3998, frame_count=1024, unaligned=True)
    assert 64 < ua.size % 4096 < 4096 - 64
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        _check_descriptor_table(tx, rx, template(veth_pair, size=MIN_PKT), _inv_desc_table(ua))


def test_odd_addresses_come_back_from_copy_mode_completions_with_bit_0_cleared(veth_pair, make_umem):
    """The evidence for refusing odd unaligned chunk sizes: a frame sent from an odd address is
    completed under that address with bit 0 cleared (seen on Linux 6.18). With odd chunk sizes
    every other chunk starts at an odd address, and its completion would name the chunk before.
    If this test fails, the kernel has changed: odd sizes (UNALIGNED_INV_DESC_4001_FRAME_SIZE)
    can be allowed."""
    ua = make_umem(frame_size=4000, frame_count=64, unaligned=True)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx:
        b = ua.take(8, MIN_PKT)
        b.write_template(template(veth_pair, size=MIN_PKT))
        b.set_offsets(np.array([1, 0, 3, 2, 5, 4, 7, 6]))
        sent = b.addrs.tolist()
        assert tx.send(b) == 8 and tx.flush()
        cq = tx._place.group.cq
        ring = ffi.cast("uint64_t *", cq.ring)
        consumer = int(cq.consumer[0])
        completed = [int(ring[(consumer - 8 + i) & cq.mask]) for i in range(8)]
        assert completed == [a & ~1 for a in sent] and completed != sent
        assert ua.ledger.kernel_errors == 0  # within one chunk the cleared bit still names the right one


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
        assert _recv_all(rx, 50, small) == list(range(50))
        assert _wait_for(lambda: rx.statistics()["rx_dropped"] == 50)


def test_STAT_TX_INVALID(veth_pair, make_umem, mode):
    ua, ub = make_umem(frame_count=256), make_umem(frame_count=256)
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        tpl = template(veth_pair)
        b = ua.take(32)
        b.write_template(tpl)
        b.patch(SEQ_OFFSET, seq_rows(0, 32))
        b.lens[::2] = 3000  # half the descriptors run past their 2048-byte frame
        assert tx.send(b, check_bounds=False) == 32
        # the kernel completes rejected descriptors too (Linux 6.18: every descriptor comes back
        # through the completion ring), so nothing stays on the TX side
        assert tx.flush(timeout=1) and ua.accounting().tx == 0
        assert tx.statistics()["tx_invalid_descs"] == 16
        assert _recv_all(rx, 16, tpl) == list(range(1, 32, 2))
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
        assert _checked_seqs(got, tpl) == list(range(64))  # what the ring held; the rest counted, not delivered
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
        assert _recv_all(rx, 10, tpl) == list(range(10, 20))


# --- XDP programs of the test's own --------------------------------------------------------
def test_XDP_DROP_HALF(veth_pair, make_umem, mode, test_program):
    ua, ub = make_umem(), make_umem()
    b = veth_pair.b
    with xsk.CustomProgram(test_program("xdp_drop_half"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog:
        assert _xdp_attach_mode(b.netns, b.ifname) == mode.xdp and prog.name == "xdp_drop_half"
        with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
             xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp) as rx:
            tpl = template(veth_pair)
            for first in range(0, 1000, 100):
                assert send_seq(tx, tpl, first, 100) == 100
                tx.flush()
            assert _recv_all(rx, 500, tpl) == list(range(0, 1000, 2))
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
            assert odd._place.group.fq is even._place.group.fq  # one fill ring for the queue
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
                    seqs += _checked_seqs(got, tpl)
                    got.release()
        assert seqs == list(range(1000))
        assert metas == list(range(1000))


def test_XDP_PROG_CLEANUP(veth_pair, make_umem, mode):
    """xskxceiver's bpf_link persistence case: two sockets of one UMEM on the queue, the XSKMAP
    slot at the first; traffic; the first sockets go, the slot is pointed at the second, and its
    traffic arrives through the same, still attached, program; it goes when it is closed."""
    a, b = veth_pair.a, veth_pair.b
    ua, ub = make_umem(), make_umem()
    tpl = template(veth_pair)
    with xsk.CustomProgram(object_path(), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog:
        rx = {"tx": False, "program": prog, "busy_poll": mode.bp}
        with xsk.Socket(ub, b.ifname, netns=b.netns, xskmap_key=1, **rx) as second:
            with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
                 xsk.Socket(ub, b.ifname, netns=b.netns, xskmap_key=0, **rx) as first:
                r = transfer(tx, first, tpl, DEFAULT_PKT_CNT)
                assert r.received == DEFAULT_PKT_CNT and r.perfect
            prog.place(0, second)
            with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx:
                r = transfer(tx, second, tpl, DEFAULT_PKT_CNT)
                assert r.received == DEFAULT_PKT_CNT and r.perfect
            assert _xdp_attach_mode(b.netns, b.ifname) == mode.xdp and second.statistics()["rx_dropped"] == 0
    shown = subprocess.run(["ip", "-n", b.netns, "-o", "link", "show", "dev", b.ifname],
                           capture_output=True, text=True, check=True).stdout
    assert "prog/xdp" not in shown


def test_xskmap_swap_while_traffic_flows(veth_pair, make_umem, mode):
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
                        got[name] += _checked_seqs(b, tpl)
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


def _recv_packets(sock: xsk.Socket, want: int, timeout: float = 2.0, offsets: set[int] | None = None,
                  shapes: set[tuple[int, ...]] | None = None) -> list[bytes]:
    """Whole packets (fragments joined) until ``want`` came or ``timeout``; frames go back to fill.
    ``offsets`` collects where in its frame each fragment's data arrived, ``shapes`` each
    packet's fragment lengths."""
    packets: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(packets) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if not len(b):
            continue
        if offsets is not None:
            offsets.update(int(o) for o in np.unique(b.offsets))
        starts = [*b.packet_starts().tolist(), len(b)]
        assert not b.options[-1] & xsk.XDP_PKT_CONTD, "recv returned a packet cut short"
        for first, end in itertools.pairwise(starts):
            packets.append(b"".join(bytes(b.data(i)) for i in range(first, end)))
            if shapes is not None:
                shapes.add(tuple(int(n) for n in b.lens[first:end]))
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


def test_9k_packets_without_multi_buffer_are_dropped(veth_pair_factory, make_umem, mode):
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


def test_SEND_RECEIVE_UNALIGNED_9K_PACKETS(veth_pair_factory, make_umem, mode):
    """9000-byte packets in 4 KiB chunks of unaligned UMEMs: three fragments out (4096, 4096,
    808), three in (3840, 3840, 1320 after the kernel's headroom), every byte and every
    fragment's place in its chunk as sent."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua = make_umem(frame_size=4096, frame_count=1024, unaligned=True)
    ub = make_umem(frame_size=4096, frame_count=1024, unaligned=True)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx, multi_buffer=True)
    with tx, rx:
        got: list[bytes] = []
        want: list[bytes] = []
        offsets: set[int] = set()
        shapes: set[tuple[int, ...]] = set()
        for first in range(0, DEFAULT_PKT_CNT, 64):
            frames = [_jumbo(pair, first + i, size=9000) for i in range(64)]
            want += frames
            assert _send_packets(tx, frames) == 64 * 3
            got += _recv_packets(rx, 64, offsets=offsets, shapes=shapes)
        assert len(got) == DEFAULT_PKT_CNT and got == want
        assert offsets == {256} and shapes == {(3840, 3840, 1320)} and rx.statistics()["rx_dropped"] == 0


C = xsk.XDP_PKT_CONTD
LAST = "last"  # a fragment in the UMEM's last frame
PAST_END = "past the end"  # a fragment whose address is the UMEM's size plus its offset
Fragment = tuple[object, int, int, int]  # (where: None, LAST or PAST_END, offset, length, options)


def _tx_ring_tail(tx: xsk.Socket, n: int) -> list[tuple[int, int, int]]:
    """The last ``n`` descriptors published on the TX ring as (address, length, options): what
    the kernel reads (it never writes the TX ring, so they are there after it took them)."""
    ring = ffi.cast("struct xdp_desc *", tx._tx.ring)
    end, mask = int(tx._tx.producer[0]), int(tx._tx.mask)
    return [(int(d.addr), int(d.len), int(d.options)) for d in (ring[(end - n + i) & mask] for i in range(n))]


def _send_packet(tx: xsk.Socket, fragments: Sequence[Fragment], tpl: bytes, seq: int) -> bytes:
    """One packet's descriptors, sent in one batch as they are (unchecked by xsk); each fragment
    carries ``tpl`` as far as its length (the first with sequence number ``seq``). Returns the
    bytes the packet carries. The TX ring is read back: it holds exactly these descriptors, so
    what becomes of them is the kernel's doing. A fragment that runs into the next frame has that
    frame held by the test while the kernel reads it; one past the UMEM's end carries what fits."""
    umem = tx.umem
    fs = umem.frame_size
    frames = [umem.frame_count - 1 if where == LAST else 2 * i for i, (where, *_) in enumerate(fragments)]
    spares = {f + 1 for f, (_, off, length, _) in zip(frames, fragments, strict=True)
              if off + min(length, len(tpl)) > fs and f + 1 < umem.frame_count}
    held = _take_frames(umem, sorted(set(frames) | spares))
    carried = b""
    for i, (frame, (_, off, length, _)) in enumerate(zip(frames, fragments, strict=True)):
        data = bytearray(tpl[:length])
        if i == 0 and len(data) >= SEQ_OFFSET + 8:
            data[SEQ_OFFSET:SEQ_OFFSET + 8] = seq.to_bytes(8, "big")
        address = frame * fs + off
        held_to = (frame + (2 if frame + 1 in spares else 1)) * fs  # never write a frame the test doesn't hold
        end = min(address + len(data), umem.size, held_to)
        umem.array[address:end] = np.frombuffer(bytes(data[:end - address]), dtype=np.uint8)
        carried += bytes(data)
    packet = held.select(np.isin(held.frame_indices, frames))
    packet._addrs[:] = np.array(frames, dtype=np.uint64) * np.uint64(fs)  # the packet's order, same frames
    packet.set_offsets(np.array([off for _, off, _, _ in fragments]))
    packet.lens[:] = [length for _, _, length, _ in fragments]
    packet.options[:] = [opts for *_, opts in fragments]
    assert tx.send(packet, check_bounds=False) == len(fragments) and packet.spent
    sent = [(f * fs + off, length, opts) for f, (_, off, length, opts) in zip(frames, fragments, strict=True)]
    assert _tx_ring_tail(tx, len(fragments)) == sent, "the TX ring does not hold the descriptors sent"
    assert tx.flush(timeout=1)  # invalid descriptors complete too
    if len(held):
        held.release()
    return carried


def _packet_refused_before_the_ring(tx: xsk.Socket, fragments: list[Fragment]) -> None:
    """A packet of the kernel's table that xsk can't express, a fragment at an address past the
    UMEM's end among its fragments: the data path refuses the whole send with the address named,
    none of its descriptors reaches the TX ring and every frame stays in the caller's batch."""
    umem = tx.umem
    fs = umem.frame_size
    frames = [2 * i for i in range(len(fragments))]
    packet = _take_frames(umem, frames)
    packet._addrs[:] = [umem.size + off if where == PAST_END else f * fs + off
                        for f, (where, off, _, _) in zip(frames, fragments, strict=True)]
    packet.lens[:] = [length for _, _, length, _ in fragments]
    packet.options[:] = [opts for *_, opts in fragments]
    producer = int(tx._tx.producer[0])
    with pytest.raises(xsk.FrameOwnershipError, match=f"address {umem.size:#x} is outside the UMEM"):
        tx.send(packet, check_bounds=False)
    assert int(tx._tx.producer[0]) == producer and len(packet) == len(fragments) and not packet.spent
    packet._addrs[:] = np.array(frames, dtype=np.uint64) * np.uint64(fs)  # its own frames, to give back
    packet.release()


def _check_packets(tx: xsk.Socket, rx: xsk.Socket, tpl: bytes,
                   packets: Sequence[tuple[Sequence[Fragment], bool]]) -> None:
    """Send each (fragments, valid) packet: exactly the valid ones arrive, in order, byte for byte;
    every descriptor of the others is counted invalid."""
    want = [_send_packet(tx, fragments, tpl, seq) for seq, (fragments, _) in enumerate(packets)]
    valid = [carried for carried, (_, ok) in zip(want, packets, strict=True) if ok]
    assert _recv_packets(rx, len(valid)) == valid
    assert _recv_packets(rx, 1, timeout=0.2) == []
    assert tx.statistics()["tx_invalid_descs"] == sum(len(fragments) for fragments, ok in packets if not ok)


def _seqs(packets: list[bytes]) -> list[int]:
    """The sequence number each packet carries in its first fragment."""
    return [int.from_bytes(p[SEQ_OFFSET:SEQ_OFFSET + 8], "big") for p in packets]


def _mb_sockets(pair, make_umem, mode, unaligned: bool = False, tx_frame_size: int = 4096):
    ua = make_umem(frame_size=tx_frame_size, frame_count=1024, unaligned=unaligned)
    ub = make_umem(frame_size=4096, unaligned=unaligned)
    tx = xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True)
    try:
        rx = xsk.Socket(ub, pair.b.ifname, netns=pair.b.netns, tx=False, **mode.rx, multi_buffer=True)
    except BaseException:
        tx.close()
        raise
    return tx, rx


# How a copy-mode (generic) TX socket ends a multi-buffer packet it drops, in the 6.18 sources
# (net/xdp/xsk.c, net/xdp/xsk_queue.h) and, differently, on the kernel these tests run on:
#  - __xsk_generic_xmit takes descriptors with xskq_cons_peek_desc; xskq_cons_read_desc checks
#    each with xp_validate_desc (zero length, crossing its chunk or past the UMEM's end, an option
#    other than XDP_PKT_CONTD: invalid, tx invalid_descs + 1) and leaves an invalid one on the ring;
#    the loop then ends in "if (xskq_has_descs(xs->tx)) { if (xs->skb) xsk_drop_skb(xs->skb);
#    xskq_cons_release(xs->tx); }": the packet built so far and the invalid descriptor are dropped.
#  - xsk_build_skb adds each descriptor after the first as a page fragment; one that still carries
#    XDP_PKT_CONTD (xp_mb_desc) when the skb already has MAX_SKB_FRAGS - 1 fragments fails with
#    -EOVERFLOW: xsk_inc_num_desc + xsk_drop_skb count every descriptor of the skb invalid,
#    xsk_consume_skb sets xs->skb = NULL, and __xsk_generic_xmit goes on ("continue").
#  In both cases the next descriptor starts a new packet (xs->skb is NULL), and xskxceiver's
#  tables expect exactly that. The kernel these tests run on (Linux 6.18.44) drops instead up to
#  and including the next descriptor without XDP_PKT_CONTD, each counted invalid: a dropped packet
#  without an end of its own takes the packet after it with it. No commit making that change was
#  found in the 6.18 sources we could read; the tests below assert what this kernel does, and
#  their failure message says so if the kernel goes back to what xskxceiver expects.
def _inv_desc_mb_table(umem: xsk.Umem) -> list[list[Fragment]]:
    """xskxceiver's testapp_invalid_desc_mb table (tools/testing/selftests/bpf/test_xsk.c), its
    descriptors in its order, grouped into packets as its comments group them (sequence number =
    index). XSK_UMEM__LARGE_FRAME_SIZE is 3072, XSK_UMEM__INVALID_FRAME_SIZE 9001,
    XSK_DESC__INVALID_OPTION 0xffff; its {umem_size, 3072, XDP_PKT_CONTD} is PAST_END."""
    fs = umem.frame_size
    return [
        [(None, 0, MIN_PKT, 0)],  # 0: valid packet for synch to start with
        [(None, 0, 3072, C), (None, 0, 3072, C), (None, 0, 0, 0)],  # 1: zero frame len is not legal
        [(None, 0, 3072, C), (PAST_END, 0, 3072, C)],  # 2: invalid address in the second frame
        [(None, 0, 3072, C), (None, 0, 9001, C)],  # 3: invalid len in the middle
        [(None, 0, 3072, C), (None, 0, 3072, 0xFFFF)],  # 4: invalid options in the middle
        [(None, 0, fs, C), (None, 0, fs, 0)],  # 5: transmit 2 frags, receive 3
        [(None, 0, 3072, C), (None, fs - MIN_PKT // 2, MIN_PKT, 0)],  # 6: middle frame crosses chunk boundary
        [(None, 0, MIN_PKT, 0)],  # 7: valid packet for synch so that something is received
    ]


@pytest.mark.parametrize("unaligned", [False, True], ids=["ALIGNED_INV_DESC_MULTI_BUFF",
                                                          "UNALIGNED_INV_DESC_MULTI_BUFF"])
def test_INV_DESC_MULTI_BUFF(veth_pair_factory, make_umem, mode, unaligned):
    """xskxceiver's table as it is. Packet 2's second fragment lies past the UMEM's end: xsk
    refuses that packet before the ring (nothing of it is sent). On the ring, packet 1 ends in
    its zero-length fragment (3 descriptors invalid). Packet 3's 9001-byte fragment still carries
    XDP_PKT_CONTD, and so does packet 4's 0xffff: the kernel drops from packet 3 on to the first
    end it finds, packet 5's last fragment, so the valid two-fragment packet 5 goes too (6
    invalid). Packet 6 crosses a chunk: invalid in aligned mode (2 more), valid and received
    (3072 + 64 bytes) in unaligned mode. xskxceiver expects packet 5 to arrive, as it would by the
    6.18 sources (see above)."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    tx, rx = _mb_sockets(pair, make_umem, mode, unaligned)
    with tx, rx:
        tpl = _jumbo(pair, 0, size=9000)
        sent = {}
        for seq, fragments in enumerate(_inv_desc_mb_table(tx.umem)):
            if any(where == PAST_END for where, *_ in fragments):
                _packet_refused_before_the_ring(tx, fragments)
            else:
                sent[seq] = _send_packet(tx, fragments, tpl, seq)
        got = _recv_packets(rx, 3)
        assert _recv_packets(rx, 1, timeout=0.2) == []
        seen = (_seqs(got), tx.statistics()["tx_invalid_descs"])
        xskxceiver = ([0, 5, 6, 7], 7) if unaligned else ([0, 5, 7], 9)
        assert seen == (([0, 6, 7], 9) if unaligned else ([0, 7], 11)), (
            "the kernel now starts a new packet after an invalid descriptor, as xskxceiver expects"
            if seen == xskxceiver else f"received {seen[0]}, {seen[1]} descriptors invalid")
        assert got == [sent[seq] for seq in seen[0]]  # byte for byte, fragments joined


def test_TOO_MANY_FRAGS(veth_pair_factory, make_umem, mode):
    """xskxceiver's testapp_too_many_frags as it sends it. max_frags is net.core.max_skb_frags + 1
    (18: the skb's linear part and 17 page fragments; the kernel's test reads the same sysctl, and
    takes the driver's xdp_zc_max_segs only in zero-copy mode, which veth has not). The stream: a
    sync packet (0); max_frags fragments, XDP_PKT_CONTD on all but the last (1); max_frags
    fragments all marked XDP_PKT_CONTD, the packet never ending (2); a sync packet (3); and ours,
    one more packet (4).

    xsk_build_skb refuses packet 2's last fragment with -EOVERFLOW (it still carries
    XDP_PKT_CONTD when the skb holds MAX_SKB_FRAGS - 1 fragments) and the packet is dropped.
    xskxceiver's receive stream then expects sync 3, as the 6.18 sources give (see above). This
    kernel drops on to the packet's end instead, and the first descriptor without XDP_PKT_CONTD
    is sync 3's: it goes with packet 2, max_frags + 1 descriptors counted invalid; packet 4 arrives."""
    most = _max_frags()
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    tx, rx = _mb_sockets(pair, make_umem, mode, tx_frame_size=2048)
    frag = (None, 0, MIN_PKT)
    stream = [
        [(*frag, 0)],
        [(*frag, C)] * (most - 1) + [(*frag, 0)],  # the most fragments a packet may have
        [(*frag, C)] * most,  # as many, and no end
        [(*frag, 0)],
        [(*frag, 0)],
    ]
    with tx, rx:
        tpl = template(pair, size=MIN_PKT)
        sent = [_send_packet(tx, fragments, tpl, seq) for seq, fragments in enumerate(stream)]
        got = _recv_packets(rx, 3)
        assert _recv_packets(rx, 1, timeout=0.2) == []
        seen = (_seqs(got), tx.statistics()["tx_invalid_descs"])
        xskxceiver = ([0, 1, 3, 4], most)
        assert seen == ([0, 1, 4], most + 1), (
            "the kernel now starts a new packet after one with too many fragments, as xskxceiver expects"
            if seen == xskxceiver else f"received {seen[0]}, {seen[1]} descriptors invalid")
        assert got == [sent[0], sent[1], sent[4]]  # byte for byte, packet 1's 18 fragments joined


def _max_frags() -> int:
    """xskxceiver's max_frags outside zero-copy: net.core.max_skb_frags + 1."""
    with open("/proc/sys/net/core/max_skb_frags") as f:
        return int(f.read()) + 1


def _ended_inv_desc_mb_packets(umem: xsk.Umem) -> list[tuple[list[Fragment], bool]]:
    """xskxceiver's invalid multi-buffer kinds, each packet with an end of its own (a last
    fragment without XDP_PKT_CONTD, which the kernel drops with it) so that each is dropped
    alone; a fragment that runs past the UMEM's end stands for the address past it."""
    fs = umem.frame_size
    return [
        ([(None, 0, MIN_PKT, 0)], True),  # sync
        ([(None, 0, 3072, C), (None, 0, 3072, C), (None, 0, 0, 0)], False),  # a zero-length last fragment
        ([(None, 0, 3072, C), (LAST, fs - MIN_PKT // 2, 3072, C), (None, 0, MIN_PKT, 0)], False),  # past the end
        ([(None, 0, 3072, C), (None, 0, 9001, C), (None, 0, MIN_PKT, 0)], False),  # a length no frame holds
        ([(None, 0, 3072, C), (None, 0, 3072, 0xFFFF), (None, 0, MIN_PKT, 0)], False),  # invalid options
        ([(None, 0, fs, C), (None, 0, fs, 0)], True),  # valid: 2 fragments out, 3 in
        ([(None, 0, 3072, C), (None, fs - MIN_PKT // 2, MIN_PKT, 0)], umem.unaligned),  # crossing a chunk
        ([(None, 0, MIN_PKT, 0)], True),  # sync
    ]


@pytest.mark.parametrize("unaligned", [False, True], ids=["aligned", "unaligned"])
def test_invalid_multi_buffer_packets_that_end_are_dropped_alone(veth_pair_factory, make_umem, mode, unaligned):
    """Each invalid kind of xskxceiver's table in a packet that ends: only that packet is
    dropped, every descriptor of it counted, and the packets after it arrive whole."""
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    tx, rx = _mb_sockets(pair, make_umem, mode, unaligned)
    with tx, rx:
        _check_packets(tx, rx, _jumbo(pair, 0, size=9000), _ended_inv_desc_mb_packets(tx.umem))
        assert tx.statistics()["tx_invalid_descs"] == (12 if unaligned else 14)


def test_a_packet_one_fragment_too_long_is_dropped_whole(veth_pair_factory, make_umem, mode):
    """max_frags fragments and an end arrive whole; one fragment more, the end included, drops
    the whole packet (every descriptor counted invalid) and the next packet arrives as sent."""
    most = _max_frags()
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    tx, rx = _mb_sockets(pair, make_umem, mode, tx_frame_size=2048)
    frag = (None, 0, MIN_PKT)
    with tx, rx:
        packets = [
            ([(*frag, 0)], True),
            ([(*frag, C)] * (most - 1) + [(*frag, 0)], True),  # the most there may be
            ([(*frag, C)] * most + [(*frag, 0)], False),  # one too many
            ([(*frag, 0)], True),
        ]
        _check_packets(tx, rx, template(pair, size=MIN_PKT), packets)
        assert tx.statistics()["tx_invalid_descs"] == most + 1


def test_XDP_METADATA_COPY_MULTI_BUFF(veth_pair_factory, make_umem, mode, test_program):
    pair = veth_pair_factory(mtu=JUMBO_MTU)
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    b = pair.b
    with xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog, \
         xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=True) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp, multi_buffer=True) as rx:
        frames = [_jumbo(pair, i) for i in range(20)]
        assert _send_packets(tx, frames) == 60
        metas: list[int] = []
        got: list[bytes] = []
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


def test_pkt_contd_needs_a_multi_buffer_socket(veth_pair, make_umem):
    ua = make_umem(frame_count=64)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx:
        b = ua.take(2)
        b.options[0] = xsk.XDP_PKT_CONTD
        with pytest.raises(xsk.ConfigError, match="multi_buffer=True"):
            tx.send(b)
        assert len(b) == 2
        b.release()


# --- bpf_xdp_adjust_tail ---------------------------------------------------------------------
ADJUST_TAIL = {  # xskxceiver's cases: (bytes to add or remove, packet length, multi-buffer)
    "XDP_ADJUST_TAIL_SHRINK": (-4, 128, False),
    "XDP_ADJUST_TAIL_SHRINK_MULTI_BUFF": (-4096, 6144, True),
    "XDP_ADJUST_TAIL_GROW": (4, 128, False),
    "XDP_ADJUST_TAIL_GROW_MULTI_BUFF": (4096 // 2 - 1, 6144, True),
}
# What veth does with the cases it cannot run as the kernel's case asks, declared before they run
# (read from the kernel): the test asserts exactly this outcome for every frame, so a frame lost on
# our side still fails it.
VETH_REFUSES = {
    # bpf_xdp_frags_increase_tail returns -EOPNOTSUPP when the RX queue's frag_size is 0, and veth
    # registers its queues with none (xdp_rxq_info_reg without a frag size): a multi-buffer frame
    # can't grow. The program then passes it on unchanged, as xskxceiver's does.
    "XDP_ADJUST_TAIL_GROW_MULTI_BUFF": "refused: EOPNOTSUPP",
    # A 128-byte frame gets room to grow only when veth had to copy its skb into a page of its own
    # (veth_convert_skb_to_xdp_buff); in place, the skb the sender's socket built has no tailroom
    # and the helper refuses (-EINVAL). Which frames veth copies depends on the skb, not on us:
    # each frame grows by exactly 4 bytes or is refused and dropped, and the counts add up to 64.
    "XDP_ADJUST_TAIL_GROW": "grown or refused: EINVAL",
}
_BY, _STATUS, _MOVED, _REFUSED_EINVAL, _REFUSED_EOPNOTSUPP, _OTHER = range(6)  # the program's slots


def _adjust_tail(pair, make_umem, mode, test_program, by: int, size: int, multi_buffer: bool,
                 expect: str = "moved") -> None:
    """64 packets of ``size`` bytes through a program that moves their tail by ``by`` bytes, each
    counted by the program by its outcome. ``expect`` is what veth does (VETH_REFUSES): every frame
    moved, every frame refused with EOPNOTSUPP and passed on unchanged, or each frame either grown
    or refused with EINVAL; what arrived must be exactly the frames that outcome lets through."""
    ua, ub = make_umem(frame_size=4096), make_umem(frame_size=4096)
    b = pair.b
    with xsk.CustomProgram(test_program("xdp_adjust_tail"), b.ifname, netns=b.netns, xdp_mode=mode.xdp) as prog:
        prog.update("adjust", _BY, struct.pack("<i", by))
        with xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, rx=False, multi_buffer=multi_buffer) as tx, \
             xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog, busy_poll=mode.bp,
                        multi_buffer=multi_buffer) as rx:
            frames = [_jumbo(pair, seq, size=size) for seq in range(64)]
            _send_packets(tx, frames)

            def counted() -> list[int]:
                return [struct.unpack("<i", prog.lookup("adjust", k, 4))[0]
                        for k in (_MOVED, _REFUSED_EINVAL, _REFUSED_EOPNOTSUPP, _OTHER)]

            deadline = time.monotonic() + 5
            while sum(counted()) < 64 and time.monotonic() < deadline:
                time.sleep(0.01)  # every frame has met the program
            moved, einval, eopnotsupp, other = counted()
            expected_count = moved + eopnotsupp  # what the program let through to the socket
            got = _recv_packets(rx, expected_count, timeout=2)
            assert _recv_packets(rx, 1, timeout=0.1) == []  # and nothing more
            moved_frames = [f + bytes(by) if by > 0 else f[:size + by] for f in frames]
            assert other == 0 and moved + einval + eopnotsupp == 64, (moved, einval, eopnotsupp, other)
            if expect == "moved":
                assert moved == 64 and got == moved_frames
            elif expect == "refused: EOPNOTSUPP":
                assert eopnotsupp == 64 and got == frames  # passed on unchanged, every one
            else:
                assert expect == "grown or refused: EINVAL" and eopnotsupp == 0
                assert len(got) == moved and got == [f for f in moved_frames if f in got]  # in order, exact


@pytest.mark.parametrize("case", list(ADJUST_TAIL))
def test_XDP_ADJUST_TAIL(veth_pair_factory, make_umem, mode, test_program, case):
    by, size, multi_buffer = ADJUST_TAIL[case]
    pair = veth_pair_factory(mtu=JUMBO_MTU if multi_buffer else None)
    _adjust_tail(pair, make_umem, mode, test_program, by, size, multi_buffer, VETH_REFUSES.get(case, "moved"))


def test_xdp_adjust_tail_grows_a_frame_with_tailroom(veth_pair, make_umem, mode, test_program):
    """The grow case where veth's buffer has room to grow into (1000-byte packets): all 64 grow."""
    _adjust_tail(veth_pair, make_umem, mode, test_program, 4, 1000, False)


# --- the TX ring's consumer --------------------------------------------------------------------
def test_TX_QUEUE_CONSUMER(veth_pair, make_umem, mode):
    """One copy-mode TX wakeup takes exactly 32 descriptors off a ring holding 33 (the kernel's TX
    budget; Socket.send relies on it when it wakes the kernel repeatedly); all 33 arrive."""
    ua, ub = make_umem(), make_umem()
    tx, rx = _pair_sockets(veth_pair, ua, ub, mode)
    with tx, rx:
        tpl = template(veth_pair)
        b = ua.take(33)
        b.write_template(tpl)
        b.patch(SEQ_OFFSET, seq_rows(0, 33))
        tx._path.max_kicks = 0  # onto the ring without a wakeup
        assert tx.send(b) == 33
        consumer = int(tx._tx.consumer[0])
        assert int(tx._tx.producer[0]) - consumer == 33
        tx._path.max_kicks = 1
        tx._kick()  # one sendto()
        assert int(tx._tx.consumer[0]) - consumer == 32
        tx._path.max_kicks = tx.ring_size // 32
        assert tx.flush()
        assert _recv_all(rx, 33, tpl) == list(range(33))


# --- what needs hardware -------------------------------------------------------------------
SIOCETHTOOL = 0x8946
ETHTOOL_GRINGPARAM, ETHTOOL_SRINGPARAM = 0x10, 0x11
_RINGPARAM = struct.Struct("9I")  # cmd; rx, rx_mini, rx_jumbo, tx max pending; rx, rx_mini, rx_jumbo, tx pending


def _ringparam(ns: str, ifname: str, cmd: int, values: tuple[int, ...] = (0,) * 8) -> tuple[int, ...] | None:
    """ETHTOOL_GRINGPARAM/SRINGPARAM on the interface: the 8 fields after the call, or None when
    the driver has no rings to report."""
    buf = ctypes.create_string_buffer(_RINGPARAM.pack(cmd, *values))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf))
    with netns.entered(ns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, request)
        except OSError as exc:
            if exc.errno == errno.EOPNOTSUPP:
                return None
            raise
    return _RINGPARAM.unpack(buf.raw[:_RINGPARAM.size])[1:]


VETH_HAS_NO_RINGS = ("veth implements no ethtool ring parameters (drivers/net/veth.c's veth_ethtool_ops has no "
                     "get_ringparam/set_ringparam): there are no hardware rings to size; "
                     "test_veth_has_no_rings_to_size checks that this still holds")


def test_veth_has_no_rings_to_size(veth_pair):
    """The reason the HW ring-size cases are declared not to run here: veth refuses the query."""
    assert _ringparam(veth_pair.a.netns, veth_pair.a.ifname, ETHTOOL_GRINGPARAM) is None


@pytest.mark.skip(reason=VETH_HAS_NO_RINGS)
@pytest.mark.parametrize("case", ["HW_SW_MIN_RING_SIZE", "HW_SW_MAX_RING_SIZE"])
def test_HW_SW_RING_SIZE(veth_pair, make_umem, case):
    """The driver's rings set to their smallest (64 TX, 128 RX descriptors) or largest sizes, with
    traffic at xskxceiver's batch sizes for each (1 and 63; 2048 and the TX maximum less 8)."""
    a = veth_pair.a
    saved = _ringparam(a.netns, a.ifname, ETHTOOL_GRINGPARAM)
    assert saved is not None, f"{case}: {a.ifname} reports no rings"
    rx_max, _, _, tx_max, *_ = saved
    rx_pending, tx_pending = (128, 64) if case == "HW_SW_MIN_RING_SIZE" else (rx_max, tx_max)
    assert _ringparam(a.netns, a.ifname, ETHTOOL_SRINGPARAM,
                      (*saved[:4], rx_pending, saved[5], saved[6], tx_pending)) is not None, \
        f"{case}: {a.ifname}'s driver reports its rings but cannot resize them"
    try:
        now = _ringparam(a.netns, a.ifname, ETHTOOL_GRINGPARAM)
        assert now is not None and (now[4], now[7]) == (rx_pending, tx_pending), now  # the driver took them
        frames = 8192 if case == "HW_SW_MAX_RING_SIZE" else 4096
        ua = make_umem(frame_count=frames)
        ub = make_umem(frame_count=frames, fill_size=frames, comp_size=frames)
        tx, rx = _pair_sockets(veth_pair, ua, ub, MODES["native"])
        with tx, rx:
            batches = (1, 63) if case == "HW_SW_MIN_RING_SIZE" else (2048, tx_max - 8)
            for batch in batches:
                r = transfer(tx, rx, template(veth_pair), DEFAULT_PKT_CNT, chunk=2048, batch=batch)
                assert r.received == DEFAULT_PKT_CNT and r.perfect
    finally:
        _ringparam(a.netns, a.ifname, ETHTOOL_SRINGPARAM, saved)


def test_zero_copy_bind_is_refused_and_auto_falls_back_to_copy(veth_pair, make_umem):
    """veth has no zero-copy AF_XDP: asking for it is refused and reported, and "auto" gives copy
    mode and says so (xskxceiver runs its zero-copy mode only where a trial bind succeeds)."""
    ua = make_umem()
    refused = r"zero-copy mode .*Operation not supported .*use mode='copy' or 'auto'"
    with pytest.raises(xsk.UnsupportedError, match=refused):
        xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, mode="zerocopy")
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, mode="auto") as s:
        assert s.mode == "copy"  # the fallback, reported as what the kernel gave
