"""Steering rules: which frames the XDP program sends to the AF_XDP socket.

A filter is a list of rules; a frame that matches any rule goes to the socket of its
queue, every other frame goes on to the kernel stack (XDP_PASS). A rule is a set of
terms that must all match, written as space-separated ``kind:value`` words::

    udp:9000              UDP, destination port 9000
    tcp:8000-8100         TCP, destination ports 8000..8100
    udp                   any UDP
    ether:0x88b5          EtherType 0x88b5 (after up to two VLAN tags)
    proto:47              IP protocol 47
    dst:192.0.2.2         destination IPv4 (or IPv6) address; for ARP, the target address
    port:53               destination port 53, UDP or TCP

Rules are separated by commas: ``"udp:9000, ether:0x88b5"``. At most 16 rules.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, replace

from ._binding import ffi, lib
from .errors import ConfigError

# struct xsk_rule and its limits are declared once, in xsk/_ffi/redirect.h, which the program
# (bpf/xsk_redirect.c) includes: a rule is packed into that very struct
MAX_RULES: int = lib.XSK_MAX_RULES
RULE_DST_IP4: int = lib.XSK_RULE_DST_IP4
RULE_DST_IP6: int = lib.XSK_RULE_DST_IP6
_PROTOCOLS = {"udp": 17, "tcp": 6, "icmp": 1, "icmp6": 58, "sctp": 132}
_ETHERTYPES = {"ipv4": 0x0800, "ipv6": 0x86DD, "arp": 0x0806}


@dataclass(frozen=True)
class Rule:
    """One rule: every field that is set must match (0 / None: any)."""

    ethertype: int = 0
    ip_proto: int = 0
    dport_lo: int = 0
    dport_hi: int = 0
    dst: str | None = None

    def pack(self) -> bytes:
        """The rule as the program's ``struct xsk_rule`` (a value of its ``xsk_rules`` map)."""
        r = ffi.new("struct xsk_rule *")
        r.ethertype, r.ip_proto, r.dport_lo, r.dport_hi = self.ethertype, self.ip_proto, self.dport_lo, self.dport_hi
        if self.dst is not None:
            addr = ipaddress.ip_address(self.dst)
            if addr.version == 4:  # network order in memory: the packed bytes read as a native word
                r.flags, r.dst_ip4 = RULE_DST_IP4, int.from_bytes(addr.packed, sys.byteorder)
                r.ethertype = self.ethertype or 0x0800
            else:
                r.flags = RULE_DST_IP6
                ffi.memmove(r.dst_ip6, addr.packed, 16)
                r.ethertype = self.ethertype or 0x86DD
        return bytes(ffi.buffer(r))


def _port_range(text: str, term: str) -> tuple[int, int]:
    lo_text, _, hi_text = text.partition("-")
    try:
        lo, hi = int(lo_text), int(hi_text or lo_text)
    except ValueError:
        raise ConfigError(f"bad port in filter term {term!r}: expected N or N-M") from None
    if not 0 < lo <= hi <= 65535:
        raise ConfigError(f"bad port range in filter term {term!r}: 1 <= N <= M <= 65535")
    return lo, hi


def _parse_rule(text: str) -> Rule:
    rule, terms = Rule(), 0
    for term in text.split():
        kind, _, value = term.partition(":")
        kind = kind.lower()
        terms += 1
        if kind in _PROTOCOLS or kind == "port":
            if kind != "port":
                rule = replace(rule, ip_proto=_PROTOCOLS[kind])
            if value:
                lo, hi = _port_range(value, term)
                rule = replace(rule, dport_lo=lo, dport_hi=hi)
            elif kind == "port":
                raise ConfigError(f"filter term {term!r} needs a port: port:N or port:N-M")
        elif kind in ("ether", "ethertype"):
            try:
                ethertype = _ETHERTYPES.get(value.lower()) or int(value, 0)
            except ValueError:
                raise ConfigError(f"bad EtherType in filter term {term!r}: e.g. ether:0x88b5") from None
            if not 0 < ethertype <= 0xFFFF:
                raise ConfigError(f"EtherType out of range in filter term {term!r}")
            rule = replace(rule, ethertype=ethertype)
        elif kind == "proto":
            try:
                proto = _PROTOCOLS.get(value.lower()) or int(value, 0)
            except ValueError:
                raise ConfigError(f"bad IP protocol in filter term {term!r}: e.g. proto:47") from None
            if not 0 < proto <= 0xFF:  # found by tools/fuzz: larger numbers overflowed the rule's field
                raise ConfigError(f"IP protocol out of range (1..255) in filter term {term!r}")
            rule = replace(rule, ip_proto=proto)
        elif kind == "dst":
            try:
                rule = replace(rule, dst=str(ipaddress.ip_address(value)))
            except ValueError:
                raise ConfigError(f"bad address in filter term {term!r}: e.g. dst:192.0.2.2") from None
        else:
            raise ConfigError(
                f"unknown filter term {term!r}: use udp[:PORT], tcp[:PORT], port:PORT, ether:TYPE, "
                "proto:N or dst:ADDR"
            )
    if not terms:
        raise ConfigError(f"empty filter rule in {text!r}")
    return rule


def parse(spec: str | list[Rule] | None) -> list[Rule]:
    """Rules from a filter string (or pass a list of Rule through); None or "" means no filter."""
    if spec is None:
        return []
    rules = spec if isinstance(spec, list) else [_parse_rule(part) for part in spec.split(",") if part.strip()]
    if len(rules) > MAX_RULES:
        raise ConfigError(f"at most {MAX_RULES} filter rules, got {len(rules)}")
    return rules
