"""A capture as a profile's stream, in memory: its frames in order and in a cycle at the stream's
rate beside a template stream, byte for byte (or with a sequence header and a valid checksum when
asked), and one clear error per mistake. The wire: tests/kernel/test_profiles.py."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

import xsk
from xsk.errors import ConfigError
from xsk.traffic._mix import Mix, resolve
from xsk.traffic._profile import Profile, Stream

from .test_mix import MS, _rebuilt, _run

UDP4 = Ether(dst="02:00:00:00:00:0b") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=9) / Raw(bytes(30))
TCP6 = (Ether(dst="02:00:00:00:00:0b") / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=2, dport=80, flags="PA")
        / Raw(b"y" * 40))
ICMP4 = Ether(dst="02:00:00:00:00:0b") / IP(dst="10.0.0.2") / ICMP()
ARP1 = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.2")


def _capture(tmp_path, packets, name="c.pcap"):
    path = tmp_path / name
    wrpcap(str(path), packets)
    return path


def test_a_capture_stream_sends_its_frames_in_order_and_in_a_cycle_at_its_rate(tmp_path):
    frames = [UDP4, TCP6, ICMP4, ARP1]
    path = _capture(tmp_path, frames)
    profile = Profile([Stream(pcap=str(path), name="cap", rate=20_000, count=30),
                       Stream(Ether() / IP() / UDP(), name="tpl", rate=10_000)])
    plans = resolve(profile, src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        out, which = _run(mix, umem, 10 * MS)
        cap, tpl = mix.results()
    got = [f for f, w in zip(out, which, strict=True) if w == 0]
    assert got == [bytes(frames[i % 4]) for i in range(30)], "as captured, in order, cycled, at their lengths"
    assert cap["packets"] == 30 and cap["bytes"] == sum(len(bytes(frames[i % 4])) for i in range(30))
    assert not cap["seq"]
    assert tpl["packets"] in (91, 92), "the template stream beside it, whose frames the capture's did not disturb"
    assert all(bytes(Ether(f)[UDP].payload)[:2] == b"XK" and _rebuilt(f) == f
               for f, w in zip(out, which, strict=True) if w == 1), "its own header, its checksums right"


def test_seq_writes_the_header_into_each_captured_payload_and_keeps_the_checksums_valid(tmp_path):
    no_sum = Ether() / IP(dst="10.0.0.2") / UDP(sport=3, dport=9, chksum=0) / Raw(bytes(20))
    path = _capture(tmp_path, [UDP4, TCP6, no_sum])
    plans = resolve(Profile([Stream(pcap=str(path), name="cap", seq=True, count=7)]), src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        out, _ = _run(Mix(plans, umem, 16), umem, 2 * MS, batch=16)
    assert len(out) == 7
    for k, f in enumerate(out):
        p = Ether(f)
        l4 = p[UDP] if UDP in p else p[TCP]
        payload = bytes(l4.payload)
        assert payload[:2] == b"XK" and struct.unpack(">Q", payload[2:10])[0] == k
        original = bytes([UDP4, TCP6, no_sum][k % 3][Raw].load)
        assert payload[18:] == original[18:], "only the header's 18 bytes changed"
        if k % 3 == 2:
            assert l4.chksum == 0, "a datagram without a checksum keeps none"
        else:
            assert _rebuilt(f) == f, "the checksum as scapy computes it"


def test_a_capture_stream_in_a_toml_profile_is_found_relative_to_the_file(tmp_path):
    (tmp_path / "caps").mkdir()
    _capture(tmp_path / "caps", [UDP4], "one.pcap")
    path = tmp_path / "p.toml"
    path.write_text('[[stream]]\nname = "replay"\npcap = "caps/one.pcap"\nrate = "1k"\nburst = 4\n')
    profile = Profile.load(path)
    assert profile.streams[0].pcap == str(tmp_path / "caps" / "one.pcap")
    (plan,) = resolve(profile, src_mac="02:00:00:00:00:0a")
    assert plan.pps == 1000 and plan.burst == 4 and list(plan.sizes) == [len(UDP4)]


def test_mistakes_in_a_capture_stream_are_one_error_naming_the_stream_and_the_key(tmp_path):
    path = _capture(tmp_path, [UDP4, ICMP4])
    bad = [
        (Stream(UDP4, pcap=str(path), name="both"), r"stream 0 \('both'\): pcap: give packet or pcap, not both"),
        (Stream(pcap=str(tmp_path / "none.pcap"), name="gone"), r"\('gone'\): pcap: .*none.pcap: no such file"),
        (Stream(pcap=str(path), name="sized", size=100), r"\('sized'\): pcap: size doesn't apply to a capture"),
        (Stream(pcap=str(path), name="vary", vary={"IP.ttl": "inc"}), r"pcap: vary doesn't apply"),
        (Stream(name="nothing"), r"\('nothing'\): packet: every stream needs a packet .* or a pcap file"),
    ]
    for stream, message in bad:
        with pytest.raises(ConfigError, match=message):
            Profile([stream])
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    with pytest.raises(ConfigError, match=r"stream 0 \('e'\): pcap: .*empty.pcap holds no frames"):
        resolve(Profile([Stream(pcap=str(empty), name="e")]), src_mac="02:00:00:00:00:0a")
    with pytest.raises(ConfigError, match=r"\('s'\): seq: .*frame 1 is not UDP or TCP over IP.*seq = false"):
        resolve(Profile([Stream(pcap=str(path), name="s", seq=True)]), src_mac="02:00:00:00:00:0a")
    short = _capture(tmp_path, [Ether() / IP() / UDP() / Raw(bytes(10))], "short.pcap")
    with pytest.raises(ConfigError, match=r"seq: .*frame 0 has 10 bytes of UDP/TCP payload, fewer than the 18"):
        resolve(Profile([Stream(pcap=str(short), name="s", seq=True)]), src_mac="02:00:00:00:00:0a")
    big = _capture(tmp_path, [UDP4, Ether() / IP() / UDP() / Raw(bytes(3000))], "big.pcap")
    with pytest.raises(ConfigError, match=r"\('big'\): pcap: .*frame 1 is 3042 bytes, larger than the 2048-byte UMEM"):
        resolve(Profile([Stream(pcap=str(big), name="big")]), src_mac="02:00:00:00:00:0a")


def test_a_capture_longer_than_the_mtu_is_refused_asking_for_a_larger_mtu(tmp_path):
    from xsk.traffic._mix import check_plans_mtu

    path = _capture(tmp_path, [UDP4, Ether() / IP() / UDP() / Raw(bytes(1600))])
    plans = resolve(Profile([Stream(pcap=str(path), name="cap")]), src_mac="02:00:00:00:00:0a")
    with pytest.raises(ConfigError, match=r"stream 'cap': its 1642-byte frames are longer than veth0's MTU of 1500.*"
                                          r"Raise the MTU"):
        check_plans_mtu("veth0", 1500, plans)
    assert np.array_equal(plans[0].sizes, [len(UDP4), 1642])
