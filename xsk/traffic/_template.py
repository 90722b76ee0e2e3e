"""Packet templates from scapy expressions, evaluated safely.

``parse("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)/Raw(b'x'*18)")`` builds the packet
by walking the expression's syntax tree: only calls to known scapy layer classes with
literal arguments, the ``/`` that stacks layers, and ``bytes * int`` are allowed. Nothing
is passed to ``eval``, so a template can't run code, import, or touch attributes.
"""

from __future__ import annotations

import ast
from typing import Any

from ..errors import ConfigError

_LAYERS = (
    "Ether", "Dot1Q", "Dot1AD", "ARP", "IP", "IPv6", "UDP", "TCP", "ICMP", "ICMPv6EchoRequest",
    "ICMPv6EchoReply", "Raw", "Padding", "GRE", "VXLAN", "SCTP", "IPOption_RR", "LLC", "SNAP",
)
MAX_TEMPLATE_CHARS = 4096
MAX_REPEAT = 65536


def _layers() -> dict[str, Any]:
    import scapy.all as scapy

    return {name: getattr(scapy, name) for name in _LAYERS if hasattr(scapy, name)}


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bytes, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand, text)
        if isinstance(value, (int, float)):
            return -value
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_literal(e, text) for e in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _literal(node.left, text), _literal(node.right, text)
        if isinstance(left, int) and isinstance(right, (bytes, str)):
            left, right = right, left
        # the count bounded on its own too: '' * 10**100 is empty but overflows (found by tools/fuzz)
        if (isinstance(left, (bytes, str)) and isinstance(right, int) and 0 <= right <= MAX_REPEAT
                and right * len(left) <= MAX_REPEAT):
            return left * right
        raise ConfigError(f"bad template {text!r}: only bytes * count (up to {MAX_REPEAT} bytes) may be multiplied")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, text), _literal(node.right, text)
        if type(left) is type(right) and isinstance(left, (bytes, str)) and len(left) + len(right) <= MAX_REPEAT:
            return left + right
    raise ConfigError(f"bad template {text!r}: arguments must be literals (numbers, strings, bytes)")


def _build(node: ast.AST, layers: dict[str, Any], text: str) -> Any:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _build(node.left, layers, text) / _build(node.right, layers, text)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        cls = layers.get(node.func.id)
        if cls is None:
            raise ConfigError(
                f"bad template {text!r}: unknown layer {node.func.id!r} (allowed: {', '.join(sorted(layers))})"
            )
        args = [_literal(a, text) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ConfigError(f"bad template {text!r}: **kwargs are not allowed")
            kwargs[kw.arg] = _literal(kw.value, text)
        try:
            return cls(*args, **kwargs)
        except Exception as exc:  # scapy raises many kinds for bad field values
            raise ConfigError(f"bad template {text!r}: {node.func.id}(...): {exc}") from None
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return layers["Raw"](node.value)
    raise ConfigError(
        f"bad template {text!r}: expected layers like Ether()/IP(dst='10.0.0.2')/UDP(dport=9000), "
        f"found {type(node).__name__}"
    )


def _unresolved(packet: Any) -> Any:
    """A copy of the packet whose Ethernet layers without a destination have the broadcast one:
    building it then never asks scapy to resolve an address, which would send ARP or neighbour
    solicitations from this host (to its gateway, for an address off-link) and wait 2 s for each."""
    from scapy.layers.l2 import Ether

    probe = packet.copy()
    layer = probe.getlayer(Ether)
    while layer is not None:
        if "dst" not in layer.fields:
            layer.dst = "ff:ff:ff:ff:ff:ff"
        layer = layer.payload.getlayer(Ether) if layer.payload else None
    return probe


def addressed(packet: Any, *, src_mac: str, dst_mac: str, src_ip: str, src_ip6: str = "fd00::1") -> Any:
    """The packet over Ethernet with the addresses it leaves out filled in (never by scapy,
    whose resolution would send ARP): Ethernet destination and source, IPv4/IPv6 source."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    if not isinstance(packet, Ether):
        packet = Ether() / packet
    if "dst" not in packet[Ether].fields:
        packet[Ether].dst = dst_mac
    if "src" not in packet[Ether].fields:
        packet[Ether].src = src_mac
    for cls, src in ((IP, src_ip), (IPv6, src_ip6)):
        if cls in packet and "src" not in packet[cls].fields:
            packet[cls].src = src
    return packet


def parse(text: str) -> Any:
    """The scapy packet described by ``text``; ConfigError for anything else."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ConfigError(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL character in the text
        raise ConfigError(f"bad template {text!r}: {getattr(exc, 'msg', exc)}") from None
    except RecursionError:
        raise ConfigError(f"bad template {text!r}: nested too deeply") from None
    try:
        packet = _build(tree.body, _layers(), text)
    except RecursionError:
        raise ConfigError(f"bad template {text!r}: nested too deeply") from None
    try:
        bytes(_unresolved(packet))  # found by tools/fuzz: UDP(-0,0) is accepted by scapy but fails when built
    except Exception as exc:  # scapy raises many kinds for fields it cannot encode
        raise ConfigError(f"bad template {text!r}: scapy cannot build it: {exc}") from None
    return packet
