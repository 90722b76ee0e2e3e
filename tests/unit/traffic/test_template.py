"""The safe template parser: scapy packets from their syntax tree, never from running code."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.packet import Raw

from xsk.errors import ConfigError
from xsk.traffic import _template as template


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

    asked: list[tuple[object, ...]] = []

    def resolve(*a: object, **k: object) -> None:  # scapy's resolver, with no answer
        asked.append(a)

    monkeypatch.setattr(conf.neighbor, "resolve", resolve)
    for text in ("Ether()/IP(dst='192.0.2.2')/UDP()", "Ether()/IPv6(dst='2001:db8::2')/UDP()",
                 "Ether()/Dot1Q(vlan=3)/IP(dst='198.51.100.1')/TCP()"):
        pkt = template.parse(text)
        assert "dst" not in pkt.fields  # left for the caller to fill from the interface
    assert asked == []


def _raw_template(chars: int) -> str:
    """A valid template of exactly ``chars`` characters: one Raw layer of x bytes."""
    return "Raw(b'" + "x" * (chars - 8) + "')"


def test_a_template_is_at_most_4096_characters():
    """docs/security.md: templates of at most 4,096 characters. Exactly 4,096 parse; 4,097 are
    refused before any parsing, with the limit named."""
    assert len(_raw_template(4096)) == 4096
    assert bytes(template.parse(_raw_template(4096))) == b"x" * 4088
    with pytest.raises(ConfigError, match="template is longer than 4096 characters"):
        template.parse(_raw_template(4097))


@pytest.mark.parametrize(("text", "size"), [
    ("b'x' * 65536", 65536), ("65536 * b'x'", 65536), ("b'xy' * 32768", 65536), ("b'x' * 0", 0),
    ("b'x' * 65537", None), ("65537 * b'x'", None), ("b'xy' * 32769", None),
    ("b'' * 65537", None),  # the count is bounded on its own too, even when the result is empty
])
def test_bytes_times_int_makes_at_most_65536_bytes(text, size):
    """docs/security.md: ``bytes * int`` of at most 65,536 bytes. The product at the limit is
    built; one byte (or one repetition) more is refused with the limit named."""
    if size is None:
        with pytest.raises(ConfigError, match=r"only bytes \* count \(up to 65536 bytes\) may be multiplied"):
            template.parse(f"Raw({text})")
    else:
        assert len(bytes(template.parse(f"Raw({text})"))) == size
