"""Streams of every kind over veth: a capture's frames as a profile's stream (as captured, or with
a sequence header the sink counts), checked on the receiving end by AF_PACKET and by xsk's sink."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from xsk.errors import ConfigError
from xsk.testing import Capture
from xsk.traffic import Generator, Profile, Sink, Stream


def test_capture_streams_go_out_as_captured_or_counted_by_their_sequence_header(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    plain = [Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / UDP(sport=1000 + i, dport=9100)
             / Raw(bytes([i]) * (20 + 10 * i)) for i in range(3)]
    counted = [Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / UDP(sport=2000, dport=9200) / Raw(b"a" * 40),
               Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / TCP(sport=2001, dport=9201, flags="A")
               / Raw(b"b" * 30)]
    wrpcap(str(tmp_path / "plain.pcap"), plain)
    wrpcap(str(tmp_path / "counted.pcap"), counted)
    profile = tmp_path / "caps.toml"
    profile.write_text('[[stream]]\nname = "plain"\npcap = "plain.pcap"\nrate = "5k"\ncount = 300\n\n'
                       '[[stream]]\nname = "counted"\npcap = "counted.pcap"\nrate = "5k"\ncount = 200\nseq = true\n')
    loaded = Profile.load(profile)
    capture = Capture(b.ifname, b.netns)  # what the sink's filter leaves to the kernel: the plain stream
    try:
        with Sink(b.ifname, netns=b.netns, filter="udp:9200,tcp:9201", count=200, profile=loaded) as sink, \
                Generator(a.ifname, netns=a.netns) as gen:
            gen.start(loaded)
            sent = gen.wait(timeout=60)
            got = sink.wait(timeout=30)
        frames = [f for f in capture.receive(timeout=2) if UDP in f and f[UDP].dport == 9100]
    finally:
        capture.close()
    assert sent["per_stream"]["plain"]["packets"] == 300 and sent["per_stream"]["counted"]["packets"] == 200
    assert [bytes(f) for f in frames] == [bytes(plain[i % 3]) for i in range(300)], "as captured, in order, cycled"
    (sid,) = sent["per_stream"]["counted"]["ids"]
    stream = got["per_stream"][str(sid)]
    assert (stream["name"], stream["packets"], stream["lost"], stream["duplicates"]) == ("counted", 200, 0, 0)
    assert stream["bytes"] == sent["per_stream"]["counted"]["bytes"] == 100 * (len(counted[0]) + len(counted[1]))


def test_a_capture_the_link_cannot_carry_is_refused_before_anything_is_sent(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    big = Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / UDP(dport=9100) / Raw(bytes(1600))
    wrpcap(str(tmp_path / "big.pcap"), [big])
    with Generator(a.ifname, netns=a.netns) as gen, pytest.raises(
            ConfigError, match=r"stream 'big': its 1642-byte frames are longer than .*MTU of 1500.*Raise the MTU"):
        gen.start(Profile([Stream(pcap=str(tmp_path / "big.pcap"), name="big", count=10)]))


def _headers(frames):
    """(stream id, counter, transmit time ns) of each frame's sequence header, in arrival order."""
    out = []
    for f in frames:
        payload = bytes(f[UDP].payload)
        assert payload[:2] == b"XK"
        seq, ts = struct.unpack(">QQ", payload[2:18])
        out.append((seq >> 56, seq & ((1 << 56) - 1), ts))
    return out


def test_a_chain_sends_one_stream_after_the_other_and_bursts_arrive_in_clusters(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    pkt = Ether(dst=b.mac) / IP(src=a.ip, dst=b.ip)
    profile = Profile([Stream(pkt / UDP(sport=1, dport=9300), name="A", rate="2k", count=100, next="B"),
                       Stream(pkt / UDP(sport=2, dport=9300), name="B", rate="2k", count=200),
                       Stream(pkt / UDP(sport=3, dport=9301), name="pulses", bursts=3, burst=50, ibg=0.2)])
    capture = Capture(b.ifname, b.netns)
    try:
        with Generator(a.ifname, netns=a.netns) as gen:
            gen.start(profile)
            sent = gen.wait(timeout=60)
        frames = [f for f in capture.receive(timeout=2) if UDP in f and f[UDP].dport in (9300, 9301)]
    finally:
        capture.close()
    per = sent["per_stream"]
    assert (per["A"]["packets"], per["B"]["packets"], per["pulses"]["packets"]) == (100, 200, 150)
    ids = {name: per[name]["ids"][0] for name in per}
    chain = [h for h, f in zip(_headers(frames), frames, strict=True) if f[UDP].dport == 9300]
    assert [(i, k) for i, k, _ in chain] == [(ids["A"], k) for k in range(100)] + [(ids["B"], k) for k in range(200)]
    assert chain[100][2] > chain[99][2], "B's first frame was sent after A's last"
    pulses = sorted(ts for _, _, ts in _headers([f for f in frames if f[UDP].dport == 9301]))
    assert len(pulses) == 150
    gaps = np.diff(pulses) / 1e9
    cuts = [k + 1 for k, g in enumerate(gaps) if g > 0.1]
    assert cuts == [50, 100], "three clusters of fifty, with the gap between them and nowhere else"


def test_gen_sends_a_list_of_tcp_flags_in_turn_and_the_kernel_takes_every_checksum(veth_pair):
    from .test_cli import xsk
    from .test_vary import _checksums_right, _snmp

    a, b = veth_pair.a, veth_pair.b
    errors_before = _snmp(b.netns, "Tcp", "InCsumErrors")
    segments_before = _snmp(b.netns, "Tcp", "InSegs")
    capture = Capture(b.ifname, b.netns)
    try:
        r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--src-ip", a.ip, "--dst-ip", b.ip,
                "--tcp", "--dst-port", "9400", "--count", "30", "--rate", "2k", "--vary", "TCP.flags=list:S,SA,A",
                "--vary", "IP.ttl=random-list:7,77")
        assert r.returncode == 0, r.stderr
        frames = [f for f in capture.receive(timeout=2) if TCP in f and f[TCP].dport == 9400]
    finally:
        capture.close()
    assert [str(f[TCP].flags) for f in frames] == ["S", "SA", "A"] * 10
    assert {f[IP].ttl for f in frames} == {7, 77}
    assert all(_checksums_right(f) for f in frames)
    assert _snmp(b.netns, "Tcp", "InSegs") - segments_before == 30, "the kernel's TCP took every segment"
    assert _snmp(b.netns, "Tcp", "InCsumErrors") == errors_before


def test_a_payload_drawn_per_frame_reaches_the_kernel_udp_socket_whole_and_different_each_time(veth_pair):
    from .test_cli import _udp_server, xsk
    from .test_vary import _snmp

    a, b = veth_pair.a, veth_pair.b
    errors_before = _snmp(b.netns, "Udp", "InCsumErrors")
    got: list[bytes] = []
    server = _udp_server(b.netns, b.ip, 9500, 500, got)
    r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--src-ip", a.ip, "--dst-ip", b.ip,
            "--dst-port", "9500", "--size", "300", "--count", "500", "--rate", "5k", "--payload", "random-per-frame")
    assert r.returncode == 0, r.stderr
    server.join(70)
    assert len(got) == 500, "every datagram passed the kernel's checksum check"
    assert _snmp(b.netns, "Udp", "InCsumErrors") == errors_before
    assert [struct.unpack(">Q", d[2:10])[0] for d in got] == list(range(500)), "the sequence header as always"
    assert len({d[18:] for d in got}) > 200, "the bytes past it drawn for each frame (from 256, at random)"
