"""Streams without a sequence header counted by a match on their frames: the flow of each stream
from its packet and ranges, and one C call per batch that counts what matched (frames with a
sequence header left to SeqStats). scapy builds the frames; no kernel here."""

from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import xsk
from xsk.traffic import Profile, Stream
from xsk.traffic._flows import FlowCount, flow_specs, merge
from xsk.traffic._mix import resolve


def _profile():
    return Profile([
        Stream(Ether() / IP(dst="192.0.2.2") / UDP(sport=5, dport=9000), name="seq", rate="1k"),
        Stream(Ether() / IP(dst="192.0.2.2") / UDP(sport=6, dport=9000), name="raw", seq=False,
               fields={"src_port": "100-199"}),
        Stream("Ether()/IPv6(src='fd00::1', dst='fd00::2')/TCP(sport=7, dport=80)", name="tcp6", seq=False),
        Stream(Ether() / IP(src="10.9.9.9", dst="192.0.2.2") / UDP(sport=150, dport=9000), name="shadow",
               seq=False),
    ])


def test_each_unsequenced_stream_becomes_its_flow_with_its_ranges():
    specs = {f.name: f for f in flow_specs(_profile())}
    assert set(specs) == {"raw", "tcp6", "shadow"}, "a stream with a sequence header is counted by it"
    assert specs["raw"].describe() == "udp *:100-199 > 192.0.2.2:9000", "the IPv4 source is the sender's"
    assert specs["tcp6"].describe() == "tcp fd00::1:7 > fd00::2:80"
    assert specs["shadow"].shadowed_by == "raw" and specs["raw"].shadowed_by is None


def test_a_batch_is_counted_per_flow_whatever_its_payload_and_addresses_the_sequence_frames_aside():
    profile = _profile()
    plans = {p.name: p for p in resolve(profile, src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")}
    raw = Ether(plans["raw"].packet)
    raw[UDP].sport = 120  # where its range has got to
    rewritten = raw.copy()
    rewritten[IP].ttl = 3  # a router on the way: new MACs, TTL; and a payload a device rewrote
    rewritten[Ether].dst = "02:00:00:00:00:99"
    del rewritten[IP].chksum
    frames = [bytes(rewritten / Raw(b"rewritten")), bytes(raw), plans["tcp6"].packet, plans["seq"].packet,
              bytes(Ether() / IP(dst="192.0.2.2") / UDP(sport=120, dport=9001)),  # another port: nobody's
              bytes(Ether() / IP(dst="192.0.2.2") / UDP(sport=200, dport=9000))]  # outside the range
    count = FlowCount(flow_specs(profile))
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        b = umem.take(len(frames))
        for i, f in enumerate(frames):
            b.write(i, f)
        assert count.add(b) == 3
        b.release()
    out = count.export()
    assert (out["raw"]["packets"], out["tcp6"]["packets"], out["shadow"]["packets"]) == (2, 1, 0)
    assert out["raw"]["bytes"] == len(frames[0]) + len(frames[1])
    assert merge([out, out])["raw"]["packets"] == 4
