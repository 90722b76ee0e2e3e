"""Comparing packets as scapy sees them: a failure names the layers and fields that differ,
not two hex dumps.

Both sides are rebuilt from their bytes first (bytes are taken as Ethernet frames), so fields
scapy fills in when building (lengths, checksums) are compared as they are on the wire:
``Ether()/IP(dst=...)/UDP()`` equals the frame a program wrote with the right checksum.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.l2 import Ether
from scapy.packet import NoPayload, Packet, Raw


def as_frame(packet: Packet | bytes | bytearray | memoryview) -> Packet:
    """The packet as scapy dissects its bytes: bytes as an ``Ether`` frame, a scapy packet
    rebuilt from its own bytes with its own top layer (so built fields hold their values)."""
    if isinstance(packet, Packet):
        return type(packet)(bytes(packet))
    return Ether(bytes(packet))


def _show(layer: Packet, name: str, value: Any) -> str:
    try:
        return str(layer.get_field(name).i2repr(layer, value))
    except Exception:  # a field scapy can't render: show its raw value
        return repr(value)


def _bytes_diff(got: bytes, want: bytes, where: str) -> list[str]:
    first = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), min(len(got), len(want)))
    lines = [f"{where}: {len(got)} bytes, want {len(want)}; first difference at byte {first}"]
    lines.append(f"  got  ...{got[first:first + 16].hex(' ')}")
    lines.append(f"  want ...{want[first:first + 16].hex(' ')}")
    return lines


def packet_diff(got: Packet | bytes, want: Packet | bytes) -> list[str]:
    """The differences between two frames, a line each, layer by layer; [] when they are equal."""
    g, w = as_frame(got), as_frame(want)
    if bytes(g) == bytes(w):
        return []
    lines: list[str] = []
    depth = 0
    while not isinstance(g, NoPayload) or not isinstance(w, NoPayload):
        if isinstance(g, NoPayload):
            lines.append(f"layer {depth}: got nothing, want {w.name} ({len(bytes(w))} bytes)")
            break
        if isinstance(w, NoPayload):
            lines.append(f"layer {depth}: got {g.name} ({len(bytes(g))} bytes), want nothing")
            break
        if type(g) is not type(w):
            lines.append(f"layer {depth}: got {g.name}, want {w.name}")
            lines += _bytes_diff(bytes(g), bytes(w), f"layer {depth} on")
            break
        if isinstance(g, Raw):
            lines += _bytes_diff(bytes(g.load), bytes(w.load), f"{g.name} payload")
            break
        for f in g.fields_desc:
            gv, wv = g.getfieldval(f.name), w.getfieldval(f.name)
            if gv != wv:
                lines.append(f"{type(g).__name__}.{f.name}: got {_show(g, f.name, gv)}, want {_show(w, f.name, wv)}")
        g, w = g.payload, w.payload
        depth += 1
    return lines or _bytes_diff(bytes(as_frame(got)), bytes(as_frame(want)), "frame")


def assert_packet_equal(got: Packet | bytes, want: Packet | bytes) -> None:
    """Raise AssertionError listing, field by field, where ``got`` differs from ``want``."""
    lines = packet_diff(got, want)
    if lines:
        summary = f"packets differ:\n  got:  {as_frame(got).summary()}\n  want: {as_frame(want).summary()}"
        raise AssertionError("\n".join([summary, *("  " + line for line in lines)]))
