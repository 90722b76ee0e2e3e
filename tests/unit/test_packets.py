"""xsk.testing._compare: a failed packet comparison names layers and fields, not hex dumps."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from xsk.testing._compare import assert_packet_equal, packet_diff


def frame(**ip: Any) -> Packet:
    return Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(src="192.0.2.1", dst="192.0.2.2", **ip) \
        / UDP(sport=1, dport=2) / Raw(b"0123456789")


def test_equal_frames_built_and_received_compare_equal():
    wire = bytes(frame(ttl=9))  # as a program would leave it: lengths and checksums filled in
    assert packet_diff(wire, frame(ttl=9)) == []
    assert_packet_equal(wire, frame(ttl=9))


def test_fields_that_differ_are_named_with_both_values():
    lines = packet_diff(frame(ttl=63), frame(ttl=64))
    assert lines[0] == "IP.ttl: got 63, want 64"
    assert any(line.startswith("IP.chksum: got 0x") for line in lines)
    assert not any(line.startswith(("Ether.", "UDP.")) for line in lines)


def test_other_layers_and_payloads():
    tcp = Ether() / IP(dst="192.0.2.2") / TCP(dport=2)
    udp = Ether() / IP(dst="192.0.2.2") / UDP(dport=2)
    lines = packet_diff(tcp, udp)
    assert "layer 2: got TCP, want UDP" in lines
    payload = packet_diff(frame() / Raw(b"x"), frame() / Raw(b"y"))
    assert any("first difference at byte 10" in line for line in payload)
    short = packet_diff(Ether() / IP(), Ether() / IP() / UDP())
    assert any("got nothing, want UDP" in line for line in short)


def test_assert_packet_equal_explains_itself():
    with pytest.raises(AssertionError) as info:
        assert_packet_equal(frame(ttl=1), frame(ttl=2))
    text = str(info.value)
    assert text.startswith("packets differ:\n  got:  Ether / IP / UDP")
    assert "IP.ttl: got 1, want 2" in text


def test_pytest_shows_the_diff_for_assert_equal(pytester):
    pytester.makepyfile("""
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether

        def test_compare():
            assert Ether() / IP(ttl=1) / UDP() == Ether() / IP(ttl=2) / UDP()
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*packets differ:*", "*IP.ttl: got 1, want 2*"])


def test_pytest_explains_scapys_field_comparison(pytester):
    """Equal bytes, unequal to scapy (a checksum left to fill in vs its value): the message says
    so and points at assert_packet_equal, instead of an empty diff."""
    pytester.makepyfile("""
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether

        def test_compare():
            built = Ether() / IP(dst="192.0.2.2") / UDP()
            assert Ether(bytes(built)) == built
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*equal on the wire*", "*assert_packet_equal(got, want)*"])
