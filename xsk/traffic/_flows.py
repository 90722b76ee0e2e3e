"""Counting streams that carry no sequence header, by a match on their frames.

A stream sent with ``seq=False`` (``xsk gen --no-seq``, or a payload a device under test
rewrites) can't be told by its payload; its frames still carry its addresses and ports.
``flow_specs(profile)`` turns each such stream into a ``FlowSpec``: IP version, protocol, source
and destination address and port, each a value or the range the stream's ``fields`` walk; the
IPv4 source is a wildcard when the packet leaves it to the generator's interface (which the
receiving side can't know). Ethernet addresses, TTL and checksums are not matched: a router
between generator and sink rewrites them.

``FlowCount`` counts a received batch's frames per flow in one C call (``xsk_flow_batch`` in
seqstats.c: the header parser, then the first flow whose every field matches), skipping frames
with a sequence header (those are ``SeqStats``'). Two streams with the same fields can't be
told apart: the first one in the profile gets their frames, and ``flow_specs`` says so
(``FlowSpec.shadowed_by``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._binding import ffi, lib
from . import _ranges as ranges

if TYPE_CHECKING:
    from .._batch import Batch
    from ._profile import Profile, Stream

ANY4 = (bytes(4), b"\xff" * 4)
ANY6 = (bytes(16), b"\xff" * 16)


@dataclass(frozen=True)
class FlowSpec:
    """What a stream's frames look like to a receiver (picklable: workers get a copy). Ranges are
    inclusive; ``src``/``dst`` are big-endian addresses (4 or 16 bytes)."""

    name: str
    ip_version: int
    proto: int
    sport: tuple[int, int]
    dport: tuple[int, int]
    src: tuple[bytes, bytes]
    dst: tuple[bytes, bytes]
    shadowed_by: str | None = None  # an earlier stream whose flow holds every frame of this one

    def describe(self) -> str:
        def addr(r: tuple[bytes, bytes]) -> str:
            if r in (ANY4, ANY6):
                return "*"
            lo, hi = (str(ipaddress.ip_address(b)) for b in r)
            return lo if lo == hi else f"{lo}-{hi}"

        def port(r: tuple[int, int]) -> str:
            return "*" if r == (0, 65535) else str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"

        proto = {17: "udp", 6: "tcp"}.get(self.proto, f"proto {self.proto}")
        return f"{proto} {addr(self.src)}:{port(self.sport)} > {addr(self.dst)}:{port(self.dport)}"

    def covers(self, other: FlowSpec) -> bool:
        """Every frame of ``other`` matches this flow too."""
        ports = all(a[0] <= b[0] and b[1] <= a[1] for a, b in ((self.sport, other.sport), (self.dport, other.dport)))
        addrs = all(a[0] <= b[0] and b[1] <= a[1] for a, b in ((self.src, other.src), (self.dst, other.dst)))
        return self.ip_version == other.ip_version and self.proto in (0, other.proto) and ports and addrs


def _src_given(stream: Stream) -> bool:
    """Does the stream's packet set its IPv4 source itself (else the generator's interface does)?"""
    packet = stream.packet
    if isinstance(packet, (bytes, bytearray, memoryview)):
        return True
    from scapy.layers.inet import IP

    from . import _template as template

    if isinstance(packet, str):
        packet = template.parse(packet)
    return IP not in packet or "src" in packet[IP].fields


def _span(values: np.ndarray) -> tuple[int, int]:
    return int(values.min()), int(values.max())


def _addr_span(rows: np.ndarray) -> tuple[bytes, bytes]:
    as_int = [int.from_bytes(bytes(r), "big") for r in (rows[0], rows[-1])]
    lo, hi = min(as_int), max(as_int)
    width = rows.shape[1]
    return lo.to_bytes(width, "big"), hi.to_bytes(width, "big")


def flow_spec(stream: Stream) -> FlowSpec | None:
    """The flow of one stream sent without a sequence header (None: it carries one, its
    packet has no IPv4/IPv6 header to match on, or it sends a capture's frames)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    from ._mix import _packet_bytes, _with_seq_room

    if stream.pcap is not None:
        return None  # a capture's frames are many flows: only a sequence header counts them
    raw, pkt = _packet_bytes(stream, "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", None)
    raw, seq = _with_seq_room(raw, pkt, stream.wants_seq)
    if seq:
        return None
    frame = Ether(raw)
    if IP in frame:
        ip: Any = frame[IP]
        version, proto = 4, int(ip.proto)
        src = (ipaddress.ip_address(ip.src).packed,) * 2 if _src_given(stream) else ANY4
    elif IPv6 in frame:
        ip = frame[IPv6]
        version, proto = 6, int(ip.nh)
        src = (ipaddress.ip_address(ip.src).packed,) * 2
    else:
        return None
    dst = (ipaddress.ip_address(ip.dst).packed,) * 2
    sport = dport = (0, 65535)
    l4 = next((frame[layer] for layer in (UDP, TCP) if layer in frame), None)
    if l4 is not None:
        sport, dport = (int(l4.sport),) * 2, (int(l4.dport),) * 2
    for key, text in (stream.fields or {}).items():
        if key == "src_ip":
            src = _addr_span(ranges.addresses(text)[1])
        elif key == "dst_ip":
            dst = _addr_span(ranges.addresses(text)[1])
        elif key == "src_port":
            sport = _span(ranges.ports(text))
        elif key == "dst_port":
            dport = _span(ranges.ports(text))
    return FlowSpec(stream.name or "", version, proto, sport, dport, src, dst)


def flow_specs(profile: Profile) -> list[FlowSpec]:
    """The flows of the profile's streams that carry no sequence header, in the profile's order
    (the first match wins); each one an earlier flow covers is marked ``shadowed_by`` it."""
    out: list[FlowSpec] = []
    for s in profile.streams:
        spec = flow_spec(s)
        if spec is None:
            continue
        earlier = next((o.name for o in out if o.covers(spec)), None)
        out.append(spec if earlier is None else FlowSpec(**{**spec.__dict__, "shadowed_by": earlier}))
    return out


class FlowCount:
    """Per flow, the frames (and bytes) of received batches that matched it (see the module)."""

    def __init__(self, specs: list[FlowSpec]) -> None:
        self.specs = specs
        self._c = ffi.new("struct xsk_flow[]", max(1, len(specs)))
        for i, f in enumerate(specs):
            c = self._c[i]
            c.ip_version, c.proto = f.ip_version, f.proto
            c.sport_lo, c.sport_hi = f.sport
            c.dport_lo, c.dport_hi = f.dport
            width = 4 if f.ip_version == 4 else 16
            for name, (lo, hi) in (("src", f.src), ("dst", f.dst)):
                ffi.memmove(getattr(c, f"{name}_lo"), lo[:width], width)
                ffi.memmove(getattr(c, f"{name}_hi"), hi[:width], width)

    def add(self, batch: Batch) -> int:
        """Count a batch's frames, read in place (one C call); how many matched a flow."""
        n = len(batch)
        if not n or not self.specs:
            return 0
        umem = batch.umem
        return int(lib.xsk_flow_batch(self._c, len(self.specs), umem.area_pointer(), batch.c_addrs(),
                                      batch.c_lens(), n, umem.frame_size))

    def export(self) -> dict[str, dict[str, Any]]:
        """Per flow by stream name: packets, bytes, and the match (``matched``) in words."""
        out: dict[str, dict[str, Any]] = {}
        for i, f in enumerate(self.specs):
            out[f.name] = {"packets": int(self._c[i].packets), "bytes": int(self._c[i].bytes),
                           "matched": f.describe()}
            if f.shadowed_by:
                out[f.name]["shadowed_by"] = f.shadowed_by
        return out


def merge(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Several receivers' ``FlowCount.export``s (one per queue) as one: counts added by name."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, f in part.items():
            m = out.setdefault(name, {**f, "packets": 0, "bytes": 0})
            m["packets"] += f["packets"]
            m["bytes"] += f["bytes"]
    return out


__all__ = ["FlowCount", "FlowSpec", "flow_spec", "flow_specs", "merge"]
