"""Any field varied, over veth: gen's frames reach the receiving namespace with every value of
every varied field, and the kernel's own stack accepts them (it drops a datagram whose checksum
is wrong and counts it in InCsumErrors; a SYN with a wrong checksum gets no RST)."""

from __future__ import annotations

import collections

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from xsk import netns
from xsk.testing import Capture
from xsk.traffic import SEQ_LEN, Generator, Profile, Stream, Vary

from .test_cli import _udp_server, xsk


def _snmp(ns: str, proto: str, name: str) -> int:
    with netns.entered(ns), open("/proc/thread-self/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith(f"{proto}:")]
    return int(rows[1][rows[0].index(name)])


def _checksums_right(frame: Packet) -> bool:
    again = Ether(bytes(frame))
    for layer in (IP, UDP, TCP):
        if layer in again:
            del again[layer].chksum
    return bytes(Ether(bytes(again))) == bytes(frame)


def test_gen_varies_four_fields_and_the_payload_and_the_kernel_takes_every_datagram(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    errors_before = _snmp(b.netns, "Udp", "InCsumErrors")
    got: list[bytes] = []
    server = _udp_server(b.netns, b.ip, 9000, 640, got)
    capture = Capture(b.ifname, b.netns)
    try:
        r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--src-ip", a.ip, "--dst-ip", b.ip,
                "--dst-port", "9000", "--size", "128", "--count", "640", "--rate", "5k",
                "--vary", "IP.ttl=inc:1-64", "--vary", "IP.id=random", "--vary", "IP.tos=inc:0-252,step=4",
                "--vary", "UDP.sport=dec:1000-1063", "--payload", "inc")
        assert r.returncode == 0, r.stderr
        server.join(70)
        frames = [f for f in capture.receive(timeout=3) if UDP in f and f[UDP].dport == 9000]
    finally:
        capture.close()
    assert len(got) == 640, "every datagram passed the kernel's length and checksum checks"
    assert _snmp(b.netns, "Udp", "InCsumErrors") == errors_before
    assert len(frames) == 640
    assert collections.Counter(f[IP].ttl for f in frames) == {ttl: 10 for ttl in range(1, 65)}
    assert {f[IP].tos for f in frames} == set(range(0, 253, 4))
    assert collections.Counter(f[UDP].sport for f in frames) == {port: 10 for port in range(1000, 1064)}
    assert len({f[IP].id for f in frames}) > 500
    assert all(_checksums_right(f) for f in frames)
    # the payload past the sequence header is the inc pattern, counted from the end of the headers
    assert all(d[SEQ_LEN:] == bytes(range(SEQ_LEN, 128 - 42)) for d in got)


def test_generator_streams_vary_tcp_and_ipv6_fields_and_every_syn_is_answered(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    syn = Ether(dst=b.mac) / IP(src=a.ip, dst=b.ip) / TCP(dport=9, flags="S")
    v6 = Ether(dst=b.mac) / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=5, dport=9002) / Raw(bytes(30))
    profile = Profile([
        Stream(syn, name="syn", rate="5k", count=400, seq=False,
               vary={"TCP.sport": "inc:2000-2199", "IP.ttl": "random:32-64", "TCP.seq": "random",
                     "IP.flags": Vary("inc", 0, 2, step=2)}),
        Stream(v6, name="v6", rate="5k", count=300, payload="random", size=120,
               vary={"IPv6.fl": "inc:0xffff0,count=30", "IPv6.hlim": "dec:1-255",
                     "IPv6.src": "inc:fd00::1:0-fd00::1:9", "UDP.sport": "random:5000-5009"}),
    ])
    rsts_before = _snmp(b.netns, "Tcp", "OutRsts")
    errors_before = _snmp(b.netns, "Tcp", "InCsumErrors")
    capture = Capture(b.ifname, b.netns)
    try:
        with Generator(a.ifname, netns=a.netns) as gen:
            gen.start(profile)
            sent = gen.wait(timeout=60)
        frames = capture.receive(timeout=3)  # all of them (and the ARP reply the RSTs needed)
    finally:
        capture.close()
    assert sent["per_stream"]["syn"]["packets"] == 400 and sent["per_stream"]["v6"]["packets"] == 300
    syns = [f for f in frames if TCP in f and f[TCP].dport == 9]
    sixes = [f for f in frames if IPv6 in f and UDP in f and f[UDP].dport == 9002]
    assert len(syns) == 400 and len(sixes) == 300
    assert _snmp(b.netns, "Tcp", "InCsumErrors") == errors_before
    assert _snmp(b.netns, "Tcp", "OutRsts") - rsts_before == 400, "a RST for every SYN: its checksum was right"
    assert collections.Counter(f[TCP].sport for f in syns) == {port: 2 for port in range(2000, 2200)}
    assert {f[IP].ttl for f in syns} <= set(range(32, 65)) and len({f[IP].ttl for f in syns}) > 20
    assert {int(f[IP].flags) for f in syns} == {0, 2}
    assert all(_checksums_right(f) for f in syns)
    # 30 values from 0xffff0, wrapping at the field's 20 bits
    assert collections.Counter(f[IPv6].fl for f in sixes) == {(0xFFFF0 + i) & 0xFFFFF: 10 for i in range(30)}
    assert [f[IPv6].hlim for f in sixes[:3]] == [255, 254, 253]
    assert {f[IPv6].src for f in sixes} == {f"fd00::1:{i}" for i in range(10)}
    assert {f[UDP].sport for f in sixes} == set(range(5000, 5010))
    assert all(_checksums_right(f) for f in sixes)
    assert len({bytes(f[UDP].payload)[SEQ_LEN:] for f in sixes}) == 1, "random: drawn once for the stream"
