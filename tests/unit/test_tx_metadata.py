"""AF_XDP TX metadata (xsk.txmeta) without a kernel: the request writer, the descriptor checks, the
completion log and its hand-over to the pool, over MemorySocket, whose stand-in kernel serves
requests as copy mode with XDP_UMEM_TX_SW_CSUM does (a CLOCK_TAI timestamp, the checksum).

Only registering such a UMEM needs libxdp 1.5; nothing here registers one, so these tests let
Umem(tx_metadata=True) be made whatever libxdp this build has (``allow_tx_metadata``) and run on
Debian 12 and 13 alike. What a build without it answers is tested without that, at the top.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

import xsk
from xsk import txmeta
from xsk._binding import ffi, lib
from xsk.testing import MemorySocket

MD = txmeta.METADATA_LEN


def _libxdp_at_least_1_5() -> bool:
    try:
        major, minor = (int(x) for x in txmeta.LIBXDP_VERSION.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (1, 5)


def test_the_capability_is_what_the_libxdp_found_at_build_time_can_do():
    assert txmeta.LIBXDP_VERSION != "unknown"
    assert _libxdp_at_least_1_5() == txmeta.AVAILABLE
    assert txmeta.METADATA_LEN == 24 and txmeta.METADATA_DTYPE.itemsize == 24
    assert (txmeta.XDP_TX_METADATA, txmeta.FLAG_TIMESTAMP, txmeta.FLAG_CHECKSUM) == (2, 1, 2)  # the kernel's uapi
    assert int(lib.XDP_UMEM_TX_SW_CSUM) == 2 and int(lib.XDP_UMEM_TX_METADATA_LEN) == 4


@pytest.mark.skipif(txmeta.AVAILABLE, reason="this build's libxdp can register a UMEM with TX metadata")
def test_without_libxdp_1_5_a_umem_with_tx_metadata_is_refused_naming_the_version():
    with pytest.raises(xsk.UnsupportedError) as err:
        xsk.Umem(frame_count=64, hugepages="off", tx_metadata=True)
    message = str(err.value)
    assert f"libxdp {txmeta.LIBXDP_VERSION}" in message and "libxdp >= 1.5" in message
    assert "xsk_umem__create_opts" in message and "Debian 13" in message
    assert err.value.errno is not None


def test_tx_sw_checksum_needs_tx_metadata():
    with pytest.raises(xsk.ConfigError, match=r"tx_sw_checksum: .* needs tx_metadata=True"):
        xsk.Umem(frame_count=64, hugepages="off", tx_sw_checksum=True)


@pytest.fixture
def allow_tx_metadata(monkeypatch):
    """Umem(tx_metadata=True) is made on any build: no test here registers it with a kernel."""
    monkeypatch.setattr(txmeta, "AVAILABLE", True)


@pytest.fixture
def umem(allow_tx_metadata):
    with xsk.Umem(frame_count=256, hugepages="off", tx_metadata=True) as u:
        yield u
        u.verify()


@pytest.fixture
def sock(umem):
    with MemorySocket(umem, ring_size=64) as s:
        yield s


def _udp(i: int, payload: bytes = b"hello") -> bytes:
    return bytes(Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / IP(src="10.0.0.1", dst="10.0.0.2")
                 / UDP(sport=1000 + i, dport=9000, chksum=0) / Raw(payload + bytes([i])))


def _true_checksum(frame: bytes) -> int:
    """The frame's UDP/TCP checksum as scapy computes it."""
    p = Ether(frame)
    layer = p[UDP] if UDP in p else p[TCP]
    layer.chksum = None
    rebuilt = Ether(bytes(p))
    return int((rebuilt[UDP] if UDP in rebuilt else rebuilt[TCP]).chksum)


def _checksum_in(frame: bytes) -> int:
    p = Ether(frame)
    return int((p[UDP] if UDP in p else p[TCP]).chksum)


def test_take_leaves_the_metadata_area_in_front_of_each_frame(umem):
    assert umem.tx_metadata_len == MD and "TX metadata" in repr(umem)
    b = umem.take(8, 60)
    assert set(b.offsets) == {MD} and set(b.room_all()) == {umem.frame_size - MD}
    umem.release(b)
    assert umem.accounting().pool == 256
    with xsk.Umem(frame_count=64, hugepages="off") as plain:
        b = plain.take(8, 60)
        assert set(b.offsets) == {0} and plain.tx_metadata_len == 0
        b.release()


def test_timestamps_come_per_frame_with_the_addresses_sent_once_the_completion_is_reaped(umem, sock):
    before = time.clock_gettime_ns(time.CLOCK_TAI)
    b = umem.take_packets([_udp(i) for i in range(10)])
    sent = b.addrs.copy()
    b.request_tx(timestamp=True)
    assert set(b.options) == {txmeta.XDP_TX_METADATA}
    meta = umem.array[(sent[0] - MD).astype(np.int64):(sent[0]).astype(np.int64)].view(txmeta.METADATA_DTYPE)[0]
    assert meta["flags"] == txmeta.FLAG_TIMESTAMP and meta["csum_start"] == 0  # the request, as the kernel reads it
    assert sock.send(b) == 10 and b.spent
    assert sock.flush(timeout=1)
    after = time.clock_gettime_ns(time.CLOCK_TAI)
    ts = sock.tx_timestamps()
    assert isinstance(ts, txmeta.TxTimestamps) and ts.lost == 0
    assert ts.addrs.tolist() == sent.tolist()  # oldest first, as sent
    assert ts.ns.dtype == np.uint64 and np.all(ts.ns >= before) and np.all(ts.ns <= after)
    assert np.all(np.diff(ts.ns.astype(np.int64)) >= 0)
    assert len(sock.tx_timestamps().addrs) == 0  # read once
    acc = umem.accounting()
    assert acc.tx == 0 and acc.user == 0 and acc.balanced  # the frames went back as always
    assert not umem._tx_requested.any()  # every request was served and forgotten


def test_a_frame_sent_again_without_a_request_gives_no_timestamp(umem, sock):
    b = umem.take(4, 60)
    b.request_tx(timestamp=True)
    sock.send(b)
    sock.flush()
    assert len(sock.tx_timestamps().addrs) == 4
    # the same frames (the pool is a stack), sent without asking: their old areas must not count
    again = umem.take(4, 60)
    sock.send(again)
    sock.flush()
    assert len(sock.tx_timestamps().addrs) == 0


def test_requests_withdrawn_and_requests_on_frames_released_unsent(umem, sock):
    b = umem.take(4, 60)
    b.request_tx(timestamp=True)
    b.request_tx()  # neither: withdrawn
    assert not b.options.any()
    b.request_tx(timestamp=True)
    umem.release(b)  # never sent: nothing marked, nothing logged
    c = umem.take(4, 60)
    sock.send(c)
    sock.flush()
    assert len(sock.tx_timestamps().addrs) == 0 and not umem._tx_requested.any()


@pytest.mark.parametrize("packet", [
    Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2, chksum=0) / Raw(b"odd length!"),
    Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2, chksum=0) / Raw(b"even"),
    Ether() / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1, dport=2, chksum=0) / Raw(b"x" * 37),
    Ether() / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=1, dport=2, chksum=0) / Raw(b"y" * 40),
    Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, chksum=0, options=[("NOP", None)] * 4),
], ids=["udp4-odd", "udp4-even", "udp6", "tcp6", "tcp4-options"])
def test_checksum_true_seeds_the_pseudo_header_sum_that_the_kernel_completes(umem, sock, packet):
    frame = bytes(packet)
    b = umem.take_packets([frame] * 3)
    addrs, lens = b.addrs.copy(), b.lens.copy()
    b.request_tx(checksum=True)
    seeded = _checksum_in(bytes(b.data(0)))
    counts = np.zeros(4, dtype=np.uint64)
    lib.xsk_pkt_l4_csum_count(umem.area_pointer(), ffi.from_buffer("uint64_t[]", addrs),
                              ffi.from_buffer("uint32_t[]", lens), 3, umem.size, umem.frame_size,
                              ffi.from_buffer("uint64_t[]", counts))
    assert counts[lib.XSK_CSUM_PARTIAL] == 3  # left partial by the sender, as offload wants it
    meta = umem.array[int(addrs[0]) - MD:int(addrs[0])].view(txmeta.METADATA_DTYPE)[0]
    l4 = 14 + (20 if IP in packet else 40)
    assert meta["flags"] == txmeta.FLAG_CHECKSUM and meta["csum_start"] == l4
    assert meta["csum_offset"] == (6 if UDP in packet else 16)
    sock.send(b)
    sock.flush()
    for a, n in zip(addrs, lens, strict=True):  # the stand-in kernel filled them in, as the kernel would
        got = bytes(umem.array[int(a):int(a) + int(n)])
        assert _checksum_in(got) == _true_checksum(frame) != seeded
    assert len(sock.tx_timestamps().addrs) == 0  # no timestamp was asked for


def test_checksum_at_a_given_place_for_all_frames_or_per_frame(umem, sock):
    frames = [_udp(i, b"payload") for i in range(4)]
    b = umem.take_packets(frames)
    addrs = b.addrs.copy()
    # the caller seeds the field itself here: with the pseudo-header sum, from a checksum=True twin
    twin = umem.take_packets(frames)
    twin.request_tx(checksum=True)
    seeds = twin.read_at(40, 2)
    twin.release()
    b.write_at(40, seeds)
    b.request_tx(checksum=(34, 6), timestamp=True)
    meta = umem.array[int(addrs[1]) - MD:int(addrs[1])].view(txmeta.METADATA_DTYPE)[0]
    assert meta["flags"] == txmeta.FLAG_CHECKSUM | txmeta.FLAG_TIMESTAMP and (meta["csum_start"],
                                                                               meta["csum_offset"]) == (34, 6)
    b.request_tx(checksum=(np.full(4, 34), np.array([6, 6, 6, 6])), timestamp=True)
    sock.send(b)
    sock.flush()
    for a, f in zip(addrs, frames, strict=True):
        assert _checksum_in(bytes(umem.array[int(a):int(a) + len(f)])) == _true_checksum(f)
    ts = sock.tx_timestamps()
    # the timestamp overwrote the place the checksum request was in: the kernel's own layout
    assert len(ts.addrs) == 4 and np.all(ts.ns > 1 << 32)


def test_only_a_packets_first_fragment_carries_the_request(umem):
    b = umem.take(6, 100)
    b.options[:] = [xsk.XDP_PKT_CONTD, 0, xsk.XDP_PKT_CONTD, xsk.XDP_PKT_CONTD, 0, 0]
    b.request_tx(timestamp=True)
    md = txmeta.XDP_TX_METADATA
    assert (b.options & md).tolist() == [md, 0, md, 0, 0, md]
    assert (b.options & xsk.XDP_PKT_CONTD).tolist() == [1, 0, 1, 1, 0, 0]  # the chain is left alone
    b.release()


def test_bad_requests_are_refused_naming_the_frame_and_change_nothing(umem):
    b = umem.take_packets([_udp(i) for i in range(4)])
    arp = umem.take_packets([bytes(Ether() / ARP())])
    before = umem.array.copy()
    with pytest.raises(xsk.ConfigError, match=r"frame 2 .* csum_start \+ csum_offset \+ 2 is more than its length"):
        b.request_tx(checksum=(np.array([34, 34, 60, 34]), 6))
    with pytest.raises(xsk.ConfigError, match=r"checksum: .*16-bit"):
        b.request_tx(checksum=(-1, 6))
    with pytest.raises(xsk.ConfigError, match=r"checksum: one .* per frame: arrays of 4"):
        b.request_tx(checksum=(np.arange(3), 6))
    for bad in ("l4", (1.5, 2), (1, 2, 3), [34, 6], (True, 6)):
        with pytest.raises(xsk.ConfigError, match="checksum"):
            b.request_tx(checksum=bad)
    b.set_offsets(MD - 2)
    with pytest.raises(xsk.ConfigError, match=f"frame 0 .* less than {MD} bytes into its frame"):
        b.request_tx(timestamp=True)
    b.set_offsets(MD)
    with pytest.raises(xsk.ConfigError, match="no UDP or TCP header"):
        arp.request_tx(checksum=True)
    assert np.array_equal(umem.array, before) and not b.options.any()
    arp.release()
    b.release()


def test_send_refuses_data_inside_the_metadata_area_and_sends_nothing(umem, sock):
    b = umem.take(4, 60)
    b.set_offsets(np.array([MD, MD, 8, MD]))
    with pytest.raises(xsk.FrameTooLargeError, match=f"frame 2 .* starts 8 bytes into its frame: .*first {MD} bytes"):
        sock.send(b)
    assert len(b) == 4 and umem.accounting().tx == 0
    b.set_offsets(MD)
    assert sock.send(b) == 4


def test_options_a_socket_cannot_send_are_refused(allow_tx_metadata):
    with xsk.Umem(frame_count=64, hugepages="off") as plain, MemorySocket(plain, ring_size=64) as s:
        b = plain.take(2, 60)
        b.options[:] = txmeta.XDP_TX_METADATA
        with pytest.raises(xsk.ConfigError, match=r"XDP_TX_METADATA .* Umem\(tx_metadata=True\)"):
            s.send(b)
        with pytest.raises(xsk.ConfigError, match=r"request_tx: .*Umem\(tx_metadata=True\)"):
            b.request_tx(timestamp=True)
        b.options[:] = 0x100
        with pytest.raises(xsk.ConfigError, match="unknown descriptor options 0x100"):
            s.send(b)
        with pytest.raises(xsk.ConfigError, match="tx_metadata=True"):
            s.tx_timestamps()
        b.options[:] = 0
        assert s.send(b) == 2


def test_requests_stay_with_their_frames_across_a_partial_send(umem, sock):
    sock.kernel_running = False
    filler = umem.take(60, 60)
    assert sock.send(filler) == 60  # the 64-entry TX ring has room for 4 more
    assert umem.accounting().pool >= 7
    b = umem.take(4, 60)
    later = umem.take(3, 60)
    b.request_tx(timestamp=True)
    later.request_tx(timestamp=True)
    assert sock.send(b) == 4 and sock.send(later) == 0 and len(later) == 3
    sock.kernel_running = True
    sock.flush()
    assert len(sock.tx_timestamps().addrs) == 4
    assert sock.send(later) == 3
    sock.flush()
    assert len(sock.tx_timestamps().addrs) == 3


def test_the_log_keeps_the_newest_and_counts_what_it_overwrote(umem, sock):
    cap = sock._group.txmd.cap
    assert cap >= umem.frame_count
    sent = []
    for _ in range(5):  # 5 x 60 timestamped completions, never read in between
        b = umem.take(60, 60)
        sent += b.addrs.tolist()
        b.request_tx(timestamp=True)
        assert sock.send(b) == 60
        sock.flush()
    over = len(sent) - cap
    ts = sock.tx_timestamps(max=10)
    assert ts.lost == over > 0 and len(ts.addrs) == 10 and ts.addrs.tolist() == sent[over:over + 10]
    rest = sock.tx_timestamps()
    assert rest.lost == 0 and len(rest.addrs) == cap - 10 and rest.addrs.tolist() == sent[over + 10:]
    with pytest.raises(xsk.ConfigError, match="max: "):
        sock.tx_timestamps(max=-1)


def test_closing_a_socket_with_requests_in_flight_forgets_them(umem):
    sock = MemorySocket(umem, ring_size=64)
    sock.kernel_running = False
    b = umem.take(8, 60)
    b.request_tx(timestamp=True)
    sock.send(b)
    assert umem._tx_requested.sum() == 8
    sock.close()  # the kernel never completed them: they return to the pool, their requests forgotten
    assert umem.accounting().pool == 256 and not umem._tx_requested.any()


def test_the_tai_offset_is_whole_seconds():
    off = txmeta.tai_offset_ns()
    assert off % 1_000_000_000 == 0 and 0 <= off < 100 * 1_000_000_000


# --- xsk gen --tx-timestamps' measurement (xsk.traffic._sender), over the stand-in kernel -----------

def test_hist_index_in_numpy_is_the_c_one():
    from xsk.traffic._sender import hist_index

    values = [0, 1, 255, 256, 257, 511, 512, 1000, 12345, 1 << 20, (1 << 20) - 1, (1 << 30) + 7, 1 << 41,
              (1 << 42) + 1, 1 << 60]
    values += list(np.random.default_rng(7).integers(0, 1 << 40, 2000))
    assert hist_index(np.array(values, dtype=np.uint64)).tolist() == [lib.xsk_hist_index(int(v)) for v in values]


def test_send_streams_measures_each_frame_from_its_header_time_to_the_kernels(umem, sock):
    from xsk.traffic._mix import resolve
    from xsk.traffic._profile import Profile, Stream
    from xsk.traffic._sender import merge_tx_stamps, send_streams
    from xsk.traffic._seqstats import LatencyHistogram

    profile = Profile([Stream("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)", name="a"),
                       Stream("Ether()/IP(dst='10.0.0.3')/UDP(dport=9001)", name="b", size=200)])
    plans = resolve(profile, src_mac="02:00:00:00:00:01", src_ip="10.0.0.1")
    out = send_streams(plans, umem, sock, batch=32, count=1000, tx_timestamps=True)
    assert out["packets"] == 1000
    t = out["tx_timestamps"]
    assert (t["frames"], t["missing"], t["lost"]) == (1000, 0, 0)
    per = [LatencyHistogram.from_export(h) for h in t["per_stream"]]
    assert [h.count for h in per] == [s["packets"] for s in out["streams"]]
    assert per[0].min_ns is not None and per[0].max_ns is not None
    assert 0 <= per[0].min_ns <= per[0].max_ns < 1_000_000_000
    merged = merge_tx_stamps([t, t], ["a", "b"])
    assert merged["frames"] == 2000 and set(merged["per_stream"]) == {"a", "b"}
    assert merged["header_to_kernel_us"]["p50"] is not None
    assert umem.accounting().tx == 0 and not umem._tx_requested.any()


def test_send_streams_without_tx_timestamps_asks_for_none(umem, sock):
    from xsk.traffic._mix import resolve
    from xsk.traffic._profile import Profile, Stream
    from xsk.traffic._sender import send_streams

    plans = resolve(Profile([Stream("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)")]), src_mac="02:00:00:00:00:01")
    out = send_streams(plans, umem, sock, batch=32, count=100)
    assert "tx_timestamps" not in out and len(sock.tx_timestamps().addrs) == 0
