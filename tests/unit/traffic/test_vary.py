"""Any field varied: names resolved to bytes and bits, the inc/dec/random forms and their wrap,
checksums as scapy computes them (C and the numpy reference), payload patterns, and one clear
error for each mistake. No kernel (tests/kernel/test_vary.py sends them over veth)."""

from __future__ import annotations

import collections
import struct

import numpy as np
import pytest
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

import xsk
from xsk.cli import common
from xsk.cli.gen import _vary_option
from xsk.errors import ConfigError
from xsk.traffic import Location, Profile, Stream, Vary, locate
from xsk.traffic._fields import PacketPlan
from xsk.traffic._mix import Mix, resolve
from xsk.traffic._vary import counters, payload_bytes

UDP4 = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / Raw(bytes(40))
TCP6_VLAN = Ether() / Dot1Q(vlan=3) / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=1, dport=2) / Raw(bytes(40))


def _rebuilt(frame: bytes) -> bytes:
    """The frame as scapy builds it with every checksum recomputed."""
    p = Ether(frame)
    for layer in (IP, UDP, TCP):
        if layer in p:
            del p[layer].chksum
    return bytes(p)


@pytest.mark.parametrize("packet, name, where", [
    (UDP4, "IP.ttl", (22, 1, 0, 8)),
    (UDP4, "IP.tos", (15, 1, 0, 8)),
    (UDP4, "IP.id", (18, 2, 0, 16)),
    (UDP4, "IP.flags", (20, 1, 5, 3)),
    (UDP4, "IP.frag", (20, 2, 0, 13)),
    (UDP4, "IP.src", (26, 4, 0, 32)),
    (UDP4, "UDP.sport", (34, 2, 0, 16)),
    (UDP4, "Ether.dst", (0, 6, 0, 48)),
    (TCP6_VLAN, "Dot1Q.vlan", (14, 2, 0, 12)),
    (TCP6_VLAN, "Dot1Q.prio", (14, 1, 5, 3)),
    (TCP6_VLAN, "IPv6.tc", (18, 2, 4, 8)),
    (TCP6_VLAN, "IPv6.fl", (19, 3, 0, 20)),
    (TCP6_VLAN, "IPv6.src", (26, 16, 0, 128)),
    (TCP6_VLAN, "TCP.flags", (70, 2, 0, 9)),
    (TCP6_VLAN, "TCP.window", (72, 2, 0, 16)),
    (Ether() / IP() / GRE() / IP(ttl=9) / UDP(), "IP:2.ttl", (46, 1, 0, 8)),
    (UDP4, "@22", (22, 1, 0, 8)),
    (UDP4, "@14:2/0x0fff", (14, 2, 0, 12)),
    (UDP4, "@20:2/0xe000", (20, 2, 13, 3)),
])
def test_a_name_resolves_to_the_bytes_and_bits_scapy_builds(packet, name, where):
    loc = locate(packet, name)
    assert (loc.offset, loc.width, loc.shift, loc.bits) == where
    if name.startswith("@"):
        return
    # the bits found are the field's: setting the field to all ones in scapy changes only those bytes
    layer_name, _, field = name.partition(".")
    cls, _, nth = layer_name.partition(":")
    changed = packet.copy()
    layer = changed.getlayer(cls, nb=int(nth or 1))
    if layer.getfieldval(field) is None or isinstance(layer.getfieldval(field), (str, bytes)):
        return  # an address: its bytes are its value
    layer.setfieldval(field, (1 << loc.bits) - 1)
    a, b = bytes(packet), bytes(changed)
    diff = {i for i in range(len(a)) if a[i] != b[i]} - _checksum_bytes(packet)
    assert diff and diff <= set(range(loc.offset, loc.offset + loc.width))
    assert loc.read(b) == (1 << loc.bits) - 1


def _checksum_bytes(packet) -> set[int]:
    frame = bytes(packet)
    out = set()
    for name in ("IP.chksum", "IP:2.chksum", "TCP.chksum", "UDP.chksum"):
        try:
            loc = locate(frame, name)
        except ConfigError:
            continue
        out |= set(range(loc.offset, loc.offset + loc.width))
    return out


@pytest.mark.parametrize("name, message", [
    ("IP.ttll", r"IP.ttll: IP has no field 'ttll' \(its fields: version, ihl, tos"),
    ("TCP.flags", r"TCP.flags: the packet has no TCP layer \(Ether / IP / UDP"),
    ("IP:2.ttl", r"IP:2.ttl: the packet has no 2 IP layers"),
    ("ttl", r"bad field name 'ttl': LAYER.FIELD \(e.g. IP.ttl"),
    ("@14:2/0x0f0f", r"@14:2/0x0f0f: the mask's bits must be contiguous"),
    ("@14:9", r"@14:9: a field by offset is 1..8 bytes wide"),
    ("@90:2", r"@90:2: runs past the end of the 82-byte frame"),
])
def test_a_bad_name_gets_one_line_naming_it_and_the_accepted_forms(name, message):
    with pytest.raises(ConfigError, match=message) as info:
        locate(UDP4, name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, vary", [
    ("inc:1-64", Vary("inc", "1", "64")),
    ("inc 1-64", Vary("inc", "1", "64")),
    ("dec:1-64,step=2", Vary("dec", "1", "64", step=2)),
    ("random:10.0.0.1-10.0.0.9", Vary("random", "10.0.0.1", "10.0.0.9")),
    ("random:fe80::1-fe80::ff", Vary("random", "fe80::1", "fe80::ff")),
    ("inc:100,count=10,step=3", Vary("inc", "100", None, step=3, count=10)),
    ("inc", Vary("inc")),
    ("random", Vary("random")),
    ("dec,step=0x10", Vary("dec", step=16)),
    ("list:S,SA,A", Vary("list", values=("S", "SA", "A"))),
    ("random-list: 10.0.0.1, 10.0.0.7", Vary("random-list", values=("10.0.0.1", "10.0.0.7"))),
    ("list:fd00::1,fd00::2", Vary("list", values=("fd00::1", "fd00::2"))),
])
def test_the_text_form_reads_and_writes_back(text, vary):
    assert Vary.parse(text) == vary
    assert Vary.parse(str(vary)) == vary


@pytest.mark.parametrize("text, message", [
    ("up:1-5", r"bad variation 'up:1-5': 'inc:LO-HI', 'dec:LO-HI' or 'random:LO-HI'"),
    ("inc:1-", r"bad variation 'inc:1-'"),
    ("inc:1-5,count=3", r"give a range or a count, not both"),
    ("inc:1-5,step=0", r"'step' must be a whole number >= 1, got 0"),
    ("inc:1-5,every=2", r"the options are 'step=N' and 'count=N'"),
    ("inc:1-5,step=x", r"'step' must be a whole number"),
    ("list", r"bad variation 'list': a list is values separated by commas, e.g. 'list:S,SA,A'"),
    ("list:S,,A", r"a list is values separated by commas"),
    ("random-list:", r"e.g. 'random-list:S,SA,A'"),
])
def test_a_bad_variation_gets_one_line_naming_the_accepted_forms(text, message):
    with pytest.raises(ConfigError, match=message):
        Vary.parse(text)


def _values(frame: bytes, vary: dict, n: int, index0: int = 0, seq: bool = False) -> tuple[list[bytes], list]:
    cs, frame = counters(frame, vary)
    plan = PacketPlan(frame, [], seq=seq, counters=cs, seed=3)
    with xsk.Umem(frame_count=1024, hugepages="off") as umem:
        b = umem.take(n, len(frame))
        plan.write_template(umem, b.addrs)
        plan.patch(umem, b.addrs.astype(np.uint64), index0)
        frames = [bytes(b.data(i)) for i in range(n)]
        b.release()
    locs = {name: locate(frame, name) if not name.startswith("IPv6.src") else None for name in vary}
    return frames, [{name: (loc.read(f) if loc else Ether(f)[IPv6].src) for name, loc in locs.items()}
                    for f in frames]


def test_inc_dec_step_and_count_walk_and_wrap():
    frames, got = _values(bytes(UDP4), {"IP.ttl": "inc:1-64", "IP.id": "dec:100-200,step=7",
                                        "IP.tos": "inc:250,count=10", "UDP.dport": "inc",
                                        "Ether.src": "inc:02:00:00:00:00:fe-02:00:00:00:01:01"}, 300)
    assert [g["IP.ttl"] for g in got] == [1 + i % 64 for i in range(300)]
    assert [g["IP.id"] for g in got[:16]] == [200 - 7 * i for i in range(15)] + [200]
    assert [g["IP.tos"] for g in got[:11]] == [250, 251, 252, 253, 254, 255, 0, 1, 2, 3, 250]
    assert [g["UDP.dport"] for g in got[:3]] == [2, 3, 4], "inc alone counts up from the template's value"
    assert [Ether(f).src for f in frames[:5]] == ["02:00:00:00:00:fe", "02:00:00:00:00:ff", "02:00:00:00:01:00",
                                                  "02:00:00:00:01:01", "02:00:00:00:00:fe"]
    assert all(_rebuilt(f) == f for f in frames)


def test_the_packet_index_picks_the_value_so_batches_continue_where_the_last_ended():
    _, got = _values(bytes(UDP4), {"IP.ttl": "inc:1-64"}, 10, index0=62)
    assert [g["IP.ttl"] for g in got] == [63, 64, 1, 2, 3, 4, 5, 6, 7, 8]


def test_random_draws_stay_in_the_range_and_reach_every_value():
    _, got = _values(bytes(TCP6_VLAN), {"Dot1Q.vlan": "random:100-115", "TCP.flags": "random:0-511,step=64",
                                        "IPv6.fl": "random"}, 1000)
    assert {g["Dot1Q.vlan"] for g in got} == set(range(100, 116))
    assert {g["TCP.flags"] for g in got} == set(range(0, 512, 64))
    assert len({g["IPv6.fl"] for g in got}) > 900


def test_values_as_the_field_takes_them_and_wide_fields_in_their_low_64_bits():
    frames, got = _values(bytes(TCP6_VLAN), {"IPv6.src": "inc:fe80::1-fe80::3", "TCP.flags": "inc:S-SA"}, 4)
    assert [g["IPv6.src"] for g in got] == ["fe80::1", "fe80::2", "fe80::3", "fe80::1"]
    assert [str(Ether(f)[TCP].flags) for f in frames[:3]] == ["S", "FS", "R"]  # S=2 .. SA=18, in order
    with pytest.raises(ConfigError, match=r"IPv6.src: a 128-bit field varies only in its low 64 bits"):
        counters(bytes(TCP6_VLAN), {"IPv6.src": "random"})


def test_a_list_takes_its_values_in_turn_or_draws_them_and_keeps_the_checksums():
    frames, got = _values(bytes(TCP6_VLAN), {"TCP.flags": "list:S,SA,A,FA", "Dot1Q.vlan": "list:5,0x10,7",
                                             "IPv6.src": "list:fd00::9,fd00::1:2"}, 12, index0=1)
    assert [str(Ether(f)[TCP].flags) for f in frames[:5]] == ["SA", "A", "FA", "S", "SA"]
    assert [g["Dot1Q.vlan"] for g in got[:4]] == [16, 7, 5, 16]
    assert [g["IPv6.src"] for g in got[:3]] == ["fd00::1:2", "fd00::9", "fd00::1:2"]
    assert all(_rebuilt(f) == f for f in frames)
    assert all(Ether(f)[TCP].dataofs == 5 for f in frames), "the bits beside the flags stay the template's"
    frames, got = _values(bytes(UDP4), {"IP.ttl": "random-list:1,64,255", "IP.dst": "random-list:10.0.0.3,10.0.0.8"},
                          600)
    assert collections.Counter(g["IP.ttl"] for g in got).keys() == {1, 64, 255}
    assert all(150 <= n <= 250 for n in collections.Counter(g["IP.ttl"] for g in got).values()), "uniform"
    assert {Ether(f)[IP].dst for f in frames} == {"10.0.0.3", "10.0.0.8"}
    assert all(_rebuilt(f) == f for f in frames)


@pytest.mark.parametrize("vary, message", [
    ({"IP.ttl": "list:1,300"}, r"IP.ttl: '300' does not fit the field's 8 bits"),
    ({"TCP.flags": "list:S,Q"}, r"TCP.flags: 'Q' is not a value of TCP.flags"),
    ({"IPv6.src": "list:fd00::1,fe80::1"}, r"IPv6.src: a 128-bit field varies only in its low 64 bits: give values "
                                           r"that share the high 64 bits"),
])
def test_a_bad_list_value_gets_one_line_naming_the_field(vary, message):
    with pytest.raises(ConfigError, match=message):
        counters(bytes(TCP6_VLAN) if "TCP" in str(vary) or "IPv6" in str(vary) else bytes(UDP4), vary)


@pytest.mark.parametrize("packet", [
    UDP4, TCP6_VLAN, Ether() / Dot1Q(vlan=9) / IP(src="10.0.0.1") / TCP() / Raw(bytes(30)),
    Ether() / IPv6(src="fd00::1") / UDP() / Raw(bytes(30))])
@pytest.mark.parametrize("seq", [False, True])
def test_checksums_stay_valid_whatever_varies_and_c_matches_the_numpy_reference(packet, seq):
    frame = bytes(packet)
    v6 = IPv6 in packet
    vary = {"Ether.dst": "inc:02:00:00:00:00:01-02:00:00:00:00:09", "Ether.src": "dec"}
    vary |= ({"IPv6.fl": "inc:7,count=1000", "IPv6.hlim": "dec:1-255", "IPv6.dst": "inc:fd00::5-fd00::40"} if v6 else
             {"IP.ttl": "inc:1-64", "IP.tos": "dec:0-255,step=3", "IP.id": "inc", "IP.dst": "inc:10.9.0.1-10.9.1.0",
              "IP.flags": "inc:0-2"})
    vary |= {f"{'TCP' if TCP in packet else 'UDP'}.sport": "inc:1000-1033"}
    if TCP in packet:
        vary |= {"TCP.flags": "inc:0-511,step=5", "TCP.seq": "inc:4294967290,count=20", "TCP.window": "inc",
                 "TCP.urgptr": "list:1,0xffff,300"}
    if Dot1Q in packet:
        vary |= {"Dot1Q.vlan": "inc:1-4094", "Dot1Q.prio": "dec"}
    cs, frame = counters(frame, vary)
    plan = PacketPlan(frame, [], seq=seq, counters=cs)
    with xsk.Umem(frame_count=1024, hugepages="off") as umem:
        b = umem.take(800, len(frame))
        addrs = b.addrs.astype(np.uint64)
        plan.write_template(umem, addrs)
        plan.patch(umem, addrs[:400], 99, stream=3, ts_ns=42)
        plan.patch_numpy(umem, addrs[400:], 99, stream=3, ts_ns=42)
        rows = umem.read_rows(addrs, len(frame))
        b.release()
    assert np.array_equal(rows[:400], rows[400:])
    assert all(_rebuilt(bytes(r)) == bytes(r) for r in rows[:400])


@pytest.mark.parametrize("vary, message", [
    ({"IP.ttl": "inc:1-300"}, r"IP.ttl: '300' does not fit the field's 8 bits"),
    ({"IP.src": "inc:10.0.0.1-foo"}, r"IP.src: 'foo' is not a value of IP.src"),
    ({"IP.ttl": "inc:9-1"}, r"IP.ttl: the range 9-1 runs backwards"),
    ({"@22": "inc:10.0.0.1"}, r"@22: '10.0.0.1' is not a number"),
    ({"IP.len": "inc"}, r"IP.len overlaps the IPv4 total length, which the generator keeps consistent"),
    ({"IP.chksum": "inc"}, r"IP.chksum overlaps the IPv4 header checksum"),
    ({"IP.proto": "inc"}, r"IP.proto overlaps the IPv4 protocol"),
    ({"UDP.len": "inc"}, r"UDP.len overlaps the UDP length"),
    ({"Ether.type": "inc"}, r"Ether.type overlaps the EtherType"),
    ({"IP.ttl": "inc", "@22": "dec"}, r"@22 and IP.ttl overlap: vary each bit once"),
    ({"@33:2": "inc"}, r"@33:2 straddles the edge of the IPv4 header \(bytes 14..33\)"),
    ({"@42:2": "inc"}, r"@42:2 overlaps the sequence header"),
])
def test_each_mistake_in_a_variation_gets_one_line_naming_the_field(vary, message):
    with pytest.raises(ConfigError, match=message) as info:
        cs, frame = counters(bytes(UDP4), vary)
        PacketPlan(frame, [], seq=True, counters=cs)
    assert "\n" not in str(info.value)


def test_a_field_past_the_shortest_frame_is_refused():
    cs, frame = counters(bytes(UDP4) + bytes(100), {"@120": "inc"})
    with pytest.raises(ConfigError, match=r"@120: bytes 120..120 lie past the shortest frame \(82 bytes\)"):
        PacketPlan(frame, [], counters=cs, varying_length=True, min_len=82)


def test_payload_patterns():
    assert payload_bytes("fixed:0xab", 3) == b"\xab\xab\xab"
    assert payload_bytes("inc", 258)[:3] == b"\0\1\2" and payload_bytes("inc", 258)[256:] == b"\0\1"
    assert payload_bytes("random", 64, seed=1) == payload_bytes("random", 64, seed=1) != bytes(64)
    assert payload_bytes("zeros", 2) == payload_bytes(None, 2) == b"\0\0"
    assert payload_bytes("random-per-frame", 3) == bytes(3), "the template's: each frame gets its own"
    for bad in ("fixed:300", "fixed", "ones", "inc:3", "random:each"):
        with pytest.raises(ConfigError, match=r"bad payload .*: zeros, fixed:BYTE \(e.g. fixed:0xab\), inc"):
            payload_bytes(bad, 4)


MS = 1_000_000


def test_a_profile_stream_varies_fields_and_fills_its_payload_with_right_checksums_at_every_size():
    streams = [Stream(Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9), name="a", rate=40_000,
                      size="imix", payload="inc", vary={"IP.ttl": "inc:1-64", "IP.id": "random", "UDP.sport": "dec"}),
               Stream("Ether()/Dot1Q(vlan=5)/IPv6(dst='fd00::2')/TCP(dport=80)", name="b", rate=10_000,
                      size="100-140", payload="random", seq=False,
                      vary={"Dot1Q.vlan": "inc:10-12", "IPv6.fl": "random", "TCP.flags": Vary("inc", "S", "SA")})]
    plans = resolve(Profile(streams), src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")
    frames, which = [], []
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        b = umem.take(0)
        for now in range(0, 20 * MS, MS):
            while n := mix.due(now):
                b = umem.take(min(n, 64), into=b)
                assert mix.fill(b, now) == len(b)
                frames += [bytes(b.data(i)) for i in range(len(b))]
                which += mix.last_streams(len(b)).tolist()
                b.release()
    a = [f for f, w in zip(frames, which, strict=True) if w == 0]
    bb = [f for f, w in zip(frames, which, strict=True) if w == 1]
    assert len(a) > 500 and len(bb) > 150
    for f in frames:
        p = Ether(f)
        for layer in (IP, IPv6, UDP, TCP):
            if layer in p:
                for name in ("len", "plen", "chksum"):
                    if name in p[layer].fields:
                        delattr(p[layer], name)
        assert bytes(p) == f, "lengths and checksums as scapy computes them"
    assert [Ether(f)[IP].ttl for f in a[:70]] == [1 + i % 64 for i in range(70)]
    assert [Ether(f)[Dot1Q].vlan for f in bb[:4]] == [10, 11, 12, 10]
    sizes = {len(f) for f in a}
    assert sizes == {60, 590, 1514}
    big = next(f for f in a if len(f) == 1514)
    seq_end = 42 + 18
    assert big[seq_end:seq_end + 4] == bytes([18, 19, 20, 21]), "inc from the end of the packet (42 bytes + 18)"
    assert len({f[-10:] for f in bb if len(f) == 140}) == 1 and bb[0][-10:] != bytes(10)


def _scapy_made(f: bytes) -> bool:
    p = Ether(f)
    for layer in (IP, IPv6, UDP, TCP):
        if layer in p:
            for name in ("len", "plen", "chksum"):
                if name in p[layer].fields:
                    delattr(p[layer], name)
    return bytes(p) == f


def test_a_payload_drawn_per_frame_differs_frame_to_frame_with_right_checksums_at_every_size():
    streams = [Stream(Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9) / Raw(b"keep"), name="a",
                      rate=40_000, size="100-300", payload="random-per-frame", vary={"IP.ttl": "inc:1-64"}),
               Stream("Ether()/IPv6(dst='fd00::2')/TCP(dport=80)", name="b", rate=10_000, size=200,
                      payload="random-per-frame", seq=False)]
    plans = resolve(Profile(streams), src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")
    assert [p.random_from for p in plans] == [42 + 18, 74], "past the sequence header; past the TCP header"
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        frames, which = _run_profile(Mix(plans, umem, 64), umem, 20 * MS)
    a = [f for f, w in zip(frames, which, strict=True) if w == 0]
    bb = [f for f, w in zip(frames, which, strict=True) if w == 1]
    assert len(a) > 700 and len(bb) > 190
    assert all(_scapy_made(f) for f in frames), "lengths and checksums as scapy computes them"
    assert {len(f) for f in a} == set(range(100, 301))
    assert all(bytes(Ether(f)[UDP].payload)[:4] == b"XK\0\0" for f in a), "the sequence header is not drawn over"
    # the packet's own payload (b"keep") lies under the sequence header: drawn over from its end
    tails = [f[60:] for f in a]
    assert len({t[:40] for t in tails}) > 200, "each frame its own bytes (256 drawn, picked at random)"
    assert len({f[74:] for f in bb}) > 100 and all(len(f) == 200 for f in bb)
    again = resolve(Profile(streams), src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        frames2, _ = _run_profile(Mix(again, umem, 64), umem, 20 * MS)
    assert [f[60:] for f in frames2[:50]] == [f[60:] for f in frames[:50]], "the same run draws the same bytes"


def test_a_field_in_a_payload_drawn_per_frame_is_refused():
    with pytest.raises(ConfigError, match=r"'a'\): vary: @70:2 overlaps the payload drawn per frame"):
        resolve(Profile([Stream("Ether()/IP()/UDP()", name="a", size=100, payload="random-per-frame",
                                vary={"@70:2": "inc"})]), src_mac="02:00:00:00:00:0a")


def _run_profile(mix, umem, until_ns):
    frames, which = [], []
    b = umem.take(0)
    for now in range(0, until_ns, MS):
        while n := mix.due(now):
            b = umem.take(min(n, 64), into=b)
            assert mix.fill(b, now) == len(b)
            frames += [bytes(b.data(i)) for i in range(len(b))]
            which += mix.last_streams(len(b)).tolist()
            b.release()
    return frames, which


@pytest.mark.parametrize("text, message", [
    ('[[stream]]\npacket = "Ether()/IP()/UDP()"\nvary = { ttl = "inc" }\n', r"vary: bad field name 'ttl'"),
    ('[[stream]]\npacket = "Ether()/IP()/UDP()"\nvary = { "IP.ttl" = "up" }\n',
     r"stream 0 \('stream0'\): vary: IP.ttl: bad variation 'up'"),
    ('[[stream]]\npacket = "Ether()/IP()/UDP()"\nvary = { "IP.ttll" = "inc" }\n',
     r"stream 0 \('stream0'\): vary: IP.ttll: IP has no field 'ttll'"),
    ('[[stream]]\npacket = "Ether()/IP()/UDP()"\npayload = "ones"\n', r"stream 0 \('stream0'\): payload: bad payload"),
    ('[[stream]]\npacket = "Ether()/IP()/UDP()"\nvary = 5\n', r"vary: a table of field = variation"),
])
def test_toml_profiles_name_the_stream_and_the_key(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve(Profile.load(path), src_mac="02:00:00:00:00:0a")


def test_a_toml_profile_varies_fields(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[stream]]\npacket = "Ether()/IP(dst=\'192.0.2.2\')/UDP()"\npayload = "fixed:0x5a"\n'
                    'vary = { "IP.ttl" = "inc:1-64", "@15:1/0x0f" = "random:5-6" }\n')
    (plan,) = resolve(Profile.load(path), src_mac="02:00:00:00:00:0a")
    assert [(c.name, c.offset, c.count) for c in plan.counters] == [("IP.ttl", 22, 64), ("@15:1/0x0f", 15, 2)]
    assert plan.frame[-1] == 0x5A


def test_gen_vary_options_and_their_errors_in_the_command_lines_terms():
    assert _vary_option(["IP.ttl=inc:1-64", "@22:2=random"]) == {"IP.ttl": "inc:1-64", "@22:2": "random"}
    assert _vary_option(["TCP.flags=list:S,SA,A"]) == {"TCP.flags": "list:S,SA,A"}
    assert _vary_option(None) is None
    with pytest.raises(ConfigError) as info:
        _vary_option(["IP.ttl"])
    text = common.describe(info.value)
    assert text.startswith("--vary: 'IP.ttl': FIELD=HOW, e.g. IP.ttl=inc:1-64") and "'inc:START,count=N" in text
    with pytest.raises(ConfigError, match=r"IP\.ttl is given twice"):
        _vary_option(["IP.ttl=inc", "IP.ttl=dec"])


def test_location_reads_a_field():
    loc = locate(bytes(TCP6_VLAN), "Dot1Q.vlan")
    assert isinstance(loc, Location) and loc.read(bytes(TCP6_VLAN)) == 3 and loc.mask == 0x0FFF
    assert struct.unpack("!H", bytes(TCP6_VLAN)[14:16])[0] & loc.mask == 3


@pytest.mark.parametrize("packet, name", [
    (Ether() / IP() / GRE() / IP() / UDP(), "IP:2.ttl"),
    (Ether() / IP() / UDP(dport=4789) / VXLAN(vni=5) / Ether() / IP() / UDP(), "@68"),
])
def test_a_field_under_a_checksum_the_generator_does_not_keep_is_refused(packet, name):
    from scapy.layers.inet import ICMP

    with pytest.raises(ConfigError, match=rf"{name}: lies under the checksum of the \w+ header at byte \d+"):
        counters(bytes(packet), {name: "inc"})
    with pytest.raises(ConfigError, match=r"ICMP.id: lies under the checksum of the ICMP header at byte 34"):
        counters(bytes(Ether() / IP() / ICMP()), {"ICMP.id": "inc"})


def test_the_example_profile_resolves():
    from pathlib import Path

    path = Path(__file__).parents[3] / "examples" / "profiles" / "field_sweep.toml"
    plans = resolve(Profile.load(path), src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")
    assert [len(p.counters) for p in plans] == [3, 3]
