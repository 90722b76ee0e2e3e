"""The safe template parser: scapy packets from their syntax tree, never from running code."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.packet import Raw

from xsk.errors import ConfigError
from xsk.traffic import template


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


def test_parsing_never_asks_scapy_to_resolve_an_address(monkeypatch):
    """A bare Ether() built by scapy resolves its destination: ARP from this host to its gateway
    for an off-link address, and 2 s of waiting. Found sending a profile; parse must not."""
    from scapy.config import conf

    asked = []
    monkeypatch.setattr(conf.neighbor, "resolve", lambda *a, **k: asked.append(a) or None)
    for text in ("Ether()/IP(dst='192.0.2.2')/UDP()", "Ether()/IPv6(dst='2001:db8::2')/UDP()",
                 "Ether()/Dot1Q(vlan=3)/IP(dst='198.51.100.1')/TCP()"):
        pkt = template.parse(text)
        assert "dst" not in pkt.fields  # left for the caller to fill from the interface
    assert asked == []
