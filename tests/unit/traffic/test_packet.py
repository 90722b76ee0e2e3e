"""Packet plans patched per batch: fields, sequence payloads and checksums, in C and in the numpy reference."""

import struct

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

import xsk
from xsk.errors import ConfigError
from xsk.traffic import _ranges as ranges
from xsk.traffic._fields import PacketPlan, layout, varying_fields


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
    assert lay.payload is not None
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
