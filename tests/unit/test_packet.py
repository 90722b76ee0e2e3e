"""Packet building blocks: ranges, the safe template parser, checksums, per-batch patching, pcap, seqstats."""

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

import xsk
from xsk import checksum, pcap, ranges, template
from xsk.errors import ConfigError
from xsk.pacer import parse_rate
from xsk.packet import PacketPlan, layout, varying_fields
from xsk.seqstats import SeqStats


def test_ranges():
    assert list(ranges.ports("1000-1003")) == [1000, 1001, 1002, 1003]
    v, rows = ranges.addresses("10.0.0.254-10.0.1.1")
    assert v == 4 and [bytes(r) for r in rows] == [bytes([10, 0, 0, x]) for x in (254, 255)] + [
        bytes([10, 0, 1, 0]), bytes([10, 0, 1, 1])]
    v, rows = ranges.addresses("fd00::ffff:ffff:ffff:ffff-fd00::1:0:0:0:1")
    assert v == 6 and len(rows) == 3
    assert bytes(rows[1]) == bytes.fromhex("fd000000000000010000000000000000")
    assert [bytes(r) for r in ranges.macs("02:00:00:00:00:fe-02:00:00:00:01:00")][-1] == bytes.fromhex("020000000100")
    for bad in ("", "2000-1000", "x", "70000", "1-2-3"):
        with pytest.raises(ConfigError):
            ranges.ports(bad)
    for bad in ("10.0.0.1-fd00::1", "10.0.0.300", "10.0.0.0-11.0.0.0"):
        with pytest.raises(ConfigError):
            ranges.addresses(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_range_parsers_never_crash(text):
    for parse in (ranges.ports, ranges.addresses, ranges.macs):
        with contextlib.suppress(ConfigError):
            parse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_template_parser_never_runs_code_or_crashes(text):
    with contextlib.suppress(ConfigError):
        template.parse(text)


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/xsk-pwned')", "Ether().__class__", "[x for x in ()]",
    "IP(dst=().__class__.__bases__)", "eval('1')", "Ether(**{'dst': 'x'})", "lambda: 0",
])
def test_template_rejects_code(text):
    with pytest.raises(ConfigError, match="bad template"):
        template.parse(text)


def test_template_builds_packets():
    p = template.parse("Ether(dst='02:00:00:00:00:02')/IP(dst='10.0.0.2', ttl=9)/UDP(dport=9000)/Raw(b'ab'*9)")
    assert p[IP].ttl == 9 and bytes(p[Raw]) == b"ab" * 9


def _verify(frame: bytes) -> bool:
    p = Ether(frame)
    q = Ether(frame)
    for layer in (IP, UDP, TCP):
        if layer in q:
            del q[layer].chksum
    q = Ether(bytes(q))
    return all(p[layer].chksum == q[layer].chksum for layer in (IP, UDP, TCP) if layer in p)


@pytest.mark.parametrize("build", [
    lambda: Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(bytes(40)),
    lambda: Ether() / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(bytes(40)),
    lambda: Ether() / IPv6(src="fd00::1", dst="fd00::2") / UDP() / Raw(bytes(40)),
    lambda: Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2) / Raw(bytes(40)),
])
@pytest.mark.parametrize("random", [False, True])
def test_patched_frames_have_correct_checksums(build, random):
    frame = bytes(build())
    v6 = layout(frame).ip_version == 6
    src = ranges.addresses("fd00::1-fd00::40" if v6 else "10.0.0.1-10.0.0.40")[1]
    fields = varying_fields(frame, src_ip=src, src_port=ranges.ports("1000-1033"), dst_port=ranges.ports("7-9"))
    plan = PacketPlan(frame, fields, seq=True, random=random, seed=1)
    with xsk.Umem(frame_count=128, hugepages="off") as umem:
        b = umem.take(100, len(frame))
        plan.write_template(umem, b.addrs)
        plan.patch(umem, b.addrs.astype(np.uint64), 12345, stream=7, ts_ns=987654321)
        frames = [bytes(b.data(i)) for i in range(len(b))]
        umem.release(b)
    assert all(_verify(f) for f in frames)
    lay = layout(frame)
    seqs = [struct.unpack_from(">Q", f, lay.payload + 2)[0] for f in frames]
    assert seqs == [(7 << 56) | (12345 + i) for i in range(100)]
    if not random:
        assert [Ether(f).sport for f in frames[:3]] == [1000 + (12345 + i) % 34 for i in range(3)]


def test_udp_without_checksum_stays_without():
    frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(chksum=0) / Raw(bytes(40)))
    plan = PacketPlan(frame, varying_fields(frame, src_port=ranges.ports("1-5")), seq=True)
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        b = umem.take(4, len(frame))
        plan.write_template(umem, b.addrs)
        plan.patch(umem, b.addrs.astype(np.uint64), 0)
        assert all(Ether(bytes(b.data(i)))[UDP].chksum == 0 for i in range(4))
        umem.release(b)


def test_seq_needs_room():
    with pytest.raises(ConfigError, match="seq: a sequence header needs"):
        PacketPlan(bytes(Ether() / IPv6() / UDP() / Raw(bytes(4))), seq=True)


def test_checksum_helpers_agree():
    data = bytes(range(37))
    assert checksum.checksum(data) == checksum.finish(checksum.row_sums(
        np.frombuffer(data + b"\0", np.uint8).reshape(1, -1)))[0]
    new = bytearray(data)
    new[10:12] = b"\x12\x34"
    assert checksum.incremental(checksum.checksum(data), data[10:12], bytes(new[10:12])) == checksum.checksum(new)


def test_rates():
    assert parse_rate("100k", 60) == 100_000
    assert parse_rate("1.5M", 60) == 1_500_000
    assert parse_rate("2Gbit", 1000) == pytest.approx(250_000)
    for bad in ("", "fast", "-1", "0"):
        with pytest.raises(ConfigError):
            parse_rate(bad, 60)


def test_pcap_errors(tmp_path):
    path = tmp_path / "x.pcap"
    with pcap.Writer(str(path)) as w:
        w.write([bytes(60), bytes(70)], 5)
    good = path.read_bytes()
    assert [len(f) for f in pcap.read(str(path)).frames] == [60, 70]
    cases = {
        good[:10]: "truncated pcap header",
        good[:-3]: "truncated",
        good[:24 + 8] + struct.pack("<I", 10**6) + good[24 + 12:]: "exceeds the snap length",
        b"\0" * 40: "not a pcap",
        good[:20] + struct.pack("<I", 101) + good[24:]: "not Ethernet",
    }
    for data, message in cases.items():
        path.write_bytes(data)
        with pytest.raises(pcap.PcapError, match=message):
            pcap.read(str(path))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), magic=st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"]))
def test_pcap_reader_fuzz(tmp_path_factory, data, magic):
    path = tmp_path_factory.mktemp("fuzz") / "f.pcap"
    path.write_bytes(magic + data)
    with contextlib.suppress(pcap.PcapError):
        pcap.read(str(path))


def _seq_frames(nums, stream=0):
    base = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(bytes(18)))
    rows = []
    for n in nums:
        f = bytearray(base)
        f[42:60] = b"XK" + struct.pack(">QQ", (stream << 56) | n, 1000)
        rows.append(np.frombuffer(bytes(f), np.uint8))
    return np.stack(rows), np.full(len(rows), len(base))


def test_seqstats_counts_loss_duplicates_reordering():
    s = SeqStats()
    for chunk in ([0, 1, 2, 3], [5, 4, 4], [9, 7], [0]):
        rows, lens = _seq_frames(chunk)
        s.add_batch(rows, lens, now_ns=3000)
    out = s.summary()
    assert out["lost"] == 2  # 6 and 8
    assert out["duplicates"] == 2  # the second 4 and the second 0
    assert out["reordered"] == 2  # 4 after 5, 7 after 9
    assert out["latency_us"]["min"] == 2.0


@pytest.mark.parametrize("build", [
    lambda: Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(bytes(40)),
    lambda: Ether() / Dot1Q(vlan=5) / IPv6(src="fd00::1", dst="fd00::2") / TCP() / Raw(bytes(40)),
])
def test_c_patcher_matches_the_numpy_reference(build):
    frame = bytes(build())
    v6 = layout(frame).ip_version == 6
    fields = varying_fields(frame, dst_ip=ranges.addresses("fd00::5-fd00::9" if v6 else "10.1.0.0-10.1.3.255")[1],
                            src_port=ranges.ports("1-65535"),
                            src_mac=ranges.macs("02:00:00:00:00:01-02:00:00:00:00:07"))
    plan = PacketPlan(frame, fields, seq=True)
    with xsk.Umem(frame_count=512, hugepages="off") as umem:
        b = umem.take(400, len(frame))
        addrs = b.addrs.astype(np.uint64)
        half = addrs[:200], addrs[200:]
        plan.write_template(umem, addrs)
        plan.patch(umem, half[0], 99, stream=3, ts_ns=42)
        plan.patch_numpy(umem, half[1], 99, stream=3, ts_ns=42)
        rows = umem.read_rows(addrs, len(frame))
        assert np.array_equal(rows[:200], rows[200:])
        assert all(_verify(bytes(r)) for r in rows[:20])
        umem.release(b)


def test_seqstats_window_keeps_memory_fixed_and_counts_what_falls_behind():
    from xsk.seqstats import WINDOW

    s = SeqStats()
    for first in range(0, 3 * WINDOW, 4096):  # far more numbers than the window holds
        rows, lens = _seq_frames(range(first, first + 4096))
        s.add_batch(rows, lens, now_ns=3000)
    (stream,) = s.streams.values()
    assert len(stream.bits) == WINDOW
    rows, lens = _seq_frames([3 * WINDOW - 5, 3 * WINDOW - 5, 5])  # a duplicate inside, one long gone
    s.add_batch(rows, lens, now_ns=3000)
    out = s.summary()
    assert out["duplicates"] == 2 and out["too_late"] == 1 and out["lost"] == 0


def test_seqstats_reads_a_batch_in_place_like_rows():
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        rows, lens = _seq_frames([0, 1, 3, 2, 2, 9])
        b = umem.take(len(rows))
        for i, row in enumerate(rows):
            b.write(i, row.tobytes())
        in_place, copied = SeqStats(), SeqStats()
        in_place.add_frames(b, now_ns=3000)
        copied.add_batch(rows, lens, now_ns=3000)
        assert in_place.summary() == copied.summary()
        assert in_place.summary()["lost"] == 5 and in_place.summary()["duplicates"] == 1
        b.release()
