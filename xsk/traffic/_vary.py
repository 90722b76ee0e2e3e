"""Any field of a template varied per packet, and payload patterns.

A field is named as scapy names it, ``LAYER.FIELD`` (``IP.ttl``, ``Dot1Q.vlan``, ``IPv6.fl``,
``TCP.flags``; ``IP:2.ttl`` for the second IP header, as ``pkt[IP:2]``), or by where it is,
``@OFFSET[:WIDTH][/MASK]`` (``@22:1``: one byte at offset 22; ``@14:2/0x0fff``: the low 12 bits
of the two bytes at 14). ``locate`` finds a name's bytes and bits by dissecting the frame with
scapy and building each layer's header field by field, the way scapy itself builds it.

How it varies is a ``Vary``, written as text ``MODE[:RANGE][,step=N][,count=N]``:

* ``inc:1-64`` 1, 2, ... 64, 1, 2, ...; ``dec:1-64`` 64, 63, ... 1, 64, ...; ``random:1-64``
  drawn uniformly; values as the field takes them (``inc:10.0.0.1-10.0.0.50``,
  ``random:02:00:00:00:00:01-02:00:00:00:00:ff``, ``TCP.flags`` ``inc:S-SA``), numbers in
  decimal or 0x hex;
* ``,step=N``: every N-th value of the range (``inc:0-1000,step=10``: 0, 10, ... 1000);
* a start and a count instead of a range: ``inc:100,count=10,step=3`` (100, 103, ... 127),
  wrapping at the field's width (``inc:250,count=10`` on a byte: 250 ... 255, 0 ... 3);
* ``inc`` alone counts up from the template's value through every value of the field;
  ``random`` alone draws from all of them;
* a list of values: ``list:S,SA,A`` takes them in turn (packet ``k`` the ``k mod n``-th),
  ``random-list:S,SA,A`` draws one per packet; values as above (numbers, scapy's flag names,
  addresses: ``list:10.0.0.1,10.0.0.7``), at most 65,536; an IPv6 address list shares its
  high 64 bits.

The values are computed in C per packet (``xsk_pkt_patch``: start + step * r, r the packet's
index modulo the count, or drawn), checksums fixed incrementally; nothing per packet in Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ._fields import Counter

MODES = ("inc", "dec", "random", "list", "random-list")
LIST_MODES = ("list", "random-list")
MAX_LIST = 65536
PAYLOADS = ("zeros, fixed:BYTE (e.g. fixed:0xab), inc (00 01 02 ... ff 00 ...), random (drawn once) or "
            "random-per-frame (drawn anew for each frame)")
PER_FRAME = "random-per-frame"
VARY_FORMS = ("'inc:LO-HI', 'dec:LO-HI' or 'random:LO-HI' (e.g. 'inc:1-64'), each with ',step=N'; "
              "'inc:START,count=N[,step=N]'; 'inc', 'dec', 'random' alone (the whole field); or a list of values, "
              "'list:V1,V2,...' in turn or 'random-list:V1,V2,...' drawn (e.g. 'list:S,SA,A')")
NAME_FORMS = "LAYER.FIELD (e.g. IP.ttl, Dot1Q.vlan, IPv6.fl, IP:2.ttl) or @OFFSET[:WIDTH][/MASK] (e.g. @22:1)"
MAX_COUNTER_BITS = 64
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::([1-9][0-9]*))?\.([A-Za-z_][A-Za-z0-9_]*)$")
_RAW = re.compile(r"^@([0-9]+)(?::([0-9]+))?(?:/(0[xX][0-9a-fA-F]+|[0-9]+))?$")


@dataclass(frozen=True)
class Location:
    """Where a field is in a frame: ``width`` bytes at ``offset``, of which it holds ``bits`` bits
    ending ``shift`` bits from the right of that big-endian word. ``IP.ttl`` (untagged): offset 22,
    width 1, shift 0, bits 8; ``IPv6.fl``: offset 15, width 3, shift 0, bits 20; ``TCP.flags`` over
    IPv4: offset 46, width 2, shift 0, bits 9; ``Dot1Q.prio``: offset 14, width 1, shift 5, bits 3."""

    name: str
    offset: int
    width: int
    shift: int
    bits: int

    @property
    def mask(self) -> int:
        """The field's bits in the ``width``-byte big-endian word."""
        return ((1 << self.bits) - 1) << self.shift

    def read(self, frame: bytes) -> int:
        """The field's value in ``frame``."""
        word = int.from_bytes(frame[self.offset : self.offset + self.width], "big")
        return (word & self.mask) >> self.shift


def _dissect(packet: Any) -> Any:
    from scapy.layers.l2 import Ether

    return Ether(bytes(packet))


def _layer_fields(pkt: Any) -> list[tuple[Any, int, list[tuple[Any, int, int]]]]:
    """Each layer, the offset of its header, and its fields as (field, first bit, bits), by
    building the header field by field as scapy's ``self_build`` does. The walk stops at a layer
    whose header does not build back into the frame's own bytes (a payload scapy took for DNS...)."""
    from scapy.packet import NoPayload, Raw

    frame = bytes(pkt)
    out = []
    offset, layer = 0, pkt
    while layer is not None and not isinstance(layer, (NoPayload, Raw)):
        state: Any = b""
        placed = []
        try:
            for f in layer.fields_desc:
                before = _bits_of(state)
                state = f.addfield(layer, state, layer.getfieldval(f.name))
                placed.append((f, before, _bits_of(state) - before))
        except Exception:  # scapy raises many kinds for a header it can't build again
            break
        if not isinstance(state, bytes) or frame[offset : offset + len(state)] != state:
            break
        out.append((layer, offset, placed))
        offset += len(state)
        layer = layer.payload
    return out


def _bits_of(state: Any) -> int:
    if isinstance(state, tuple):  # a BitField's partial byte: (bytes so far, bits done, value)
        return len(state[0]) * 8 + int(state[1])
    return len(state) * 8


def _field(packet: Any, name: str) -> tuple[Any, Any, Location]:
    """(scapy layer, scapy field, location) of ``LAYER[:N].FIELD`` in the dissected packet."""
    m = _NAME.match(name)
    if m is None:
        raise ConfigError(f"bad field name {name!r}: {NAME_FORMS}")
    lname, nth, fname = m.group(1), int(m.group(2) or 1), m.group(3)
    layers = _layer_fields(packet)
    seen = 0
    for layer, offset, placed in layers:
        if type(layer).__name__ != lname:
            continue
        seen += 1
        if seen < nth:
            continue
        for f, first, bits in placed:
            if f.name != fname:
                continue
            if bits <= 0:
                raise ConfigError(f"{name}: the field is not in this packet (scapy leaves it out)")
            start = offset * 8 + first
            lo_byte, end_byte = start // 8, (start + bits + 7) // 8
            return layer, f, Location(name, lo_byte, end_byte - lo_byte, end_byte * 8 - start - bits, bits)
        known = ", ".join(f.name for f, _, _ in placed)
        raise ConfigError(f"{name}: {lname} has no field {fname!r} (its fields: {known})")
    present = " / ".join(type(layer).__name__ for layer, _, _ in layers)
    which = f"{lname} layer" if nth == 1 else f"{nth} {lname} layers"
    raise ConfigError(f"{name}: the packet has no {which} ({present})")


def locate(packet: Any, name: str) -> Location:
    """Where field ``name`` is in ``packet`` (a scapy packet or an Ethernet frame's bytes):
    ``LAYER[:N].FIELD`` as scapy names it, or ``@OFFSET[:WIDTH][/MASK]``. ConfigError if absent."""
    frame = bytes(packet)
    if name.startswith("@"):
        return _raw_location(name, len(frame))
    return _field(_dissect(frame), name)[2]


def _raw_location(name: str, frame_len: int) -> Location:
    m = _RAW.match(name)
    if m is None:
        raise ConfigError(f"bad field name {name!r}: {NAME_FORMS}")
    offset, width = int(m.group(1)), int(m.group(2) or 1)
    if not 1 <= width <= 8:
        raise ConfigError(f"{name}: a field by offset is 1..8 bytes wide, not {width}")
    mask = int(m.group(3), 0) if m.group(3) else (1 << 8 * width) - 1
    if not 0 < mask < 1 << 8 * width:
        raise ConfigError(f"{name}: the mask must be non-zero and fit the field's {width} bytes")
    shift = (mask & -mask).bit_length() - 1
    bits = (mask >> shift).bit_length()
    if mask >> shift != (1 << bits) - 1:
        raise ConfigError(f"{name}: the mask's bits must be contiguous (e.g. 0x0fff)")
    if offset + width > frame_len:
        raise ConfigError(f"{name}: runs past the end of the {frame_len}-byte frame")
    return Location(name, offset, width, shift, bits)


@dataclass(frozen=True)
class Vary:
    """How a field varies: ``mode`` "inc", "dec" or "random" over ``lo``..``hi`` (values as
    numbers or as the field takes them: ``"10.0.0.1"``), every ``step``-th; or from ``lo`` for
    ``count`` values (wrapping at the field's width); or ``mode`` "list" (``values`` in turn) or
    "random-list" (one of ``values`` drawn per packet): ``Vary("list", values=("S", "SA", "A"))``
    for ``TCP.flags``. ``Vary.parse("inc:1-64,step=2")`` (``"list:S,SA,A"``) reads the text form;
    ``str()`` writes it."""

    mode: str = "inc"
    lo: int | str | None = None
    hi: int | str | None = None
    step: int = 1
    count: int | None = None
    values: tuple[int | str, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}: {VARY_FORMS}")
        if self.mode in LIST_MODES:
            given: Any = self.values  # a caller's str would be a list of its characters
            if not given or isinstance(given, (str, bytes)):
                raise ConfigError(f"{self.mode} needs its values, e.g. '{self.mode}:S,SA,A': {VARY_FORMS}")
            if len(given) > MAX_LIST:
                raise ConfigError(f"{len(given):,} values; a list holds at most {MAX_LIST:,}")
            if self.lo is not None or self.hi is not None or self.count is not None or self.step != 1:
                raise ConfigError(f"a list is its values alone, without a range, step or count: {VARY_FORMS}")
            object.__setattr__(self, "values", tuple(given))
            return
        if self.values is not None:
            raise ConfigError(f"values go with mode 'list' or 'random-list', not {self.mode!r}: {VARY_FORMS}")
        for key in ("step", "count"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"'{key}' must be a whole number >= 1, got {value!r}: {VARY_FORMS}")
        if self.hi is not None and self.lo is None:
            raise ConfigError(f"a range needs its low end: {VARY_FORMS}")
        if self.hi is not None and self.count is not None:
            raise ConfigError(f"give a range or a count, not both: {VARY_FORMS}")

    @classmethod
    def parse(cls, text: str) -> Vary:
        """``MODE[:LO[-HI]][,step=N][,count=N]``; ConfigError naming the accepted forms."""
        if not isinstance(text, str):
            raise ConfigError(f"expected text such as 'inc:1-64', got {text!r}")
        mode_text, colon, rest = text.strip().partition(":")
        if mode_text.strip().lower() in LIST_MODES:
            values = [v.strip() for v in rest.split(",")] if colon else []
            if not values or any(not v for v in values):
                raise ConfigError(f"bad variation {text!r}: a list is values separated by commas, e.g. "
                                  f"'{mode_text.strip().lower()}:S,SA,A'")
            try:
                return cls(mode_text.strip().lower(), values=tuple(values))
            except ConfigError as exc:
                raise ConfigError(f"bad variation {text!r}: {exc.reason}") from None
        head, *opts = [part.strip() for part in text.strip().split(",")]
        mode, sep, rng = head.partition(":")
        if not sep:
            mode, _, rng = head.partition(" ")
        mode, rng = mode.strip().lower(), rng.strip()
        if mode not in MODES:
            raise ConfigError(f"bad variation {text!r}: {VARY_FORMS}")
        kw: dict[str, int] = {}
        for opt in opts:
            key, eq, value = opt.partition("=")
            key = key.strip()
            if not eq or key not in ("step", "count") or key in kw:
                raise ConfigError(f"bad variation {text!r}: the options are 'step=N' and 'count=N'; {VARY_FORMS}")
            try:
                kw[key] = int(value.strip(), 0)
            except ValueError:
                raise ConfigError(f"bad variation {text!r}: '{key}' must be a whole number") from None
        lo: str | None = None
        hi: str | None = None
        if rng:
            lo_text, dash, hi_text = rng.partition("-")
            lo, hi = lo_text.strip(), (hi_text.strip() if dash else None)
            if not lo or (dash and not hi):
                raise ConfigError(f"bad variation {text!r}: {VARY_FORMS}")
        try:
            return cls(mode, lo, hi, kw.get("step", 1), kw.get("count"))
        except ConfigError as exc:
            raise ConfigError(f"bad variation {text!r}: {exc.reason}") from None

    def __str__(self) -> str:
        if self.values is not None:
            return f"{self.mode}:" + ",".join(str(v) for v in self.values)
        out = self.mode
        if self.lo is not None:
            out += f":{self.lo}" + (f"-{self.hi}" if self.hi is not None else "")
        if self.step != 1:
            out += f",step={self.step}"
        if self.count is not None:
            out += f",count={self.count}"
        return out


def as_vary(spec: str | Vary) -> Vary:
    """A ``Vary`` from its text or itself."""
    return spec if isinstance(spec, Vary) else Vary.parse(spec)


def check_vary(vary: Any) -> None:
    """The names' and the variations' syntax, without a packet (ConfigError naming the field)."""
    if not isinstance(vary, Mapping):
        raise ConfigError(f"a table of field = variation, e.g. {{'IP.ttl': 'inc:1-64'}}, got {vary!r}")
    for name, spec in vary.items():
        if not isinstance(name, str) or not (_NAME.match(name) or _RAW.match(name)):
            raise ConfigError(f"bad field name {name!r}: {NAME_FORMS}")
        if not isinstance(spec, (str, Vary)):
            raise ConfigError(f"{name}: a variation such as 'inc:1-64' or a Vary, got {spec!r}")
        try:
            as_vary(spec)
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc.reason}") from None


def _value(text: int | str, layer: Any, fld: Any, loc: Location) -> int:
    """A value as the field takes it (a number, or what scapy's field converts: addresses, flags)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        try:
            value = int(str(text), 0)
        except ValueError:
            value = _scapy_value(str(text), layer, fld, loc)
    if not 0 <= value < 1 << loc.bits:
        raise ConfigError(f"{text!r} does not fit the field's {loc.bits} bits")
    return value


def _scapy_value(text: str, layer: Any, fld: Any, loc: Location) -> int:
    if fld is None:
        raise ConfigError(f"{text!r} is not a number (a field by offset takes numbers, e.g. 5 or 0x1f)")
    try:
        internal = fld.any2i(layer, text)
        if loc.bits % 8 == 0 and loc.shift == 0 and not hasattr(fld, "size"):
            raw = fld.addfield(layer, b"", internal)
            if isinstance(raw, bytes) and len(raw) * 8 == loc.bits:
                return int.from_bytes(raw, "big")
        return int(internal)
    except Exception:  # scapy raises many kinds for a value it can't convert
        raise ConfigError(f"{text!r} is not a value of {loc.name} ({type(fld).__name__})") from None


def counter(frame: bytes, name: str, spec: str | Vary, *, packet: Any = None) -> tuple[Counter, bytes]:
    """The ``Counter`` that varies ``name`` in ``frame`` as ``spec`` says, and the frame (changed
    only for a field wider than 8 bytes, whose constant high part goes into the template).
    ``packet``: the frame dissected (to resolve several names once)."""
    try:
        vary = as_vary(spec)
        if name.startswith("@"):
            layer, fld, loc = None, None, _raw_location(name, len(frame))
        else:
            layer, fld, loc = _field(packet if packet is not None else _dissect(frame), name)
        return _counter(frame, loc, vary, layer, fld)
    except ConfigError as exc:
        if exc.reason.startswith(f"{name}:"):
            raise
        raise ConfigError(f"{name}: {exc.reason}") from None


def _listed(frame: bytes, loc: Location, vary: Vary, layer: Any, fld: Any) -> tuple[Counter, bytes]:
    """A list's values as a counter that looks them up (a field wider than 64 bits: in its low 64
    bits, the high ones shared by every value and put in the template)."""
    assert vary.values is not None
    values = [_value(v, layer, fld, loc) for v in vary.values]
    random = vary.mode == "random-list"
    if loc.bits <= MAX_COUNTER_BITS:
        return Counter(loc.name, loc.offset, loc.width, loc.shift, loc.bits, 0, 1, len(values), random=random,
                       choices=tuple(values)), frame
    high = {v >> 64 for v in values}
    if len(high) > 1 or loc.shift:
        raise ConfigError(f"a {loc.bits}-bit field varies only in its low 64 bits: give values that share the "
                          f"high {loc.bits - 64} bits")
    buf = bytearray(frame)
    buf[loc.offset : loc.offset + loc.width] = (high.pop() << 64).to_bytes(loc.width, "big")
    low = tuple(v & ((1 << 64) - 1) for v in values)
    return Counter(loc.name, loc.offset + loc.width - 8, 8, 0, 64, 0, 1, len(low), random=random,
                   choices=low), bytes(buf)


def _counter(frame: bytes, loc: Location, vary: Vary, layer: Any, fld: Any) -> tuple[Counter, bytes]:
    if vary.mode in LIST_MODES:
        return _listed(frame, loc, vary, layer, fld)
    full = 1 << loc.bits
    lo = None if vary.lo is None else _value(vary.lo, layer, fld, loc)
    hi = None if vary.hi is None else _value(vary.hi, layer, fld, loc)
    step = vary.step
    if step >= full:
        raise ConfigError(f"'step={step}' does not fit the field's {loc.bits} bits")
    if lo is not None and hi is not None:
        if lo > hi:
            raise ConfigError(f"the range {vary.lo}-{vary.hi} runs backwards (dec:LO-HI counts down from HI)")
        n = (hi - lo) // step + 1
        start = hi if vary.mode == "dec" else lo
    else:
        start = loc.read(frame) if lo is None and vary.mode != "random" else (lo or 0)
        n = vary.count if vary.count is not None else full
    signed_step = -step if vary.mode == "dec" else step
    if loc.bits > MAX_COUNTER_BITS:
        return _narrowed(frame, loc, vary, start, signed_step, n)
    if n > 1 << 64:
        raise ConfigError(f"'count={n}' is over 2^64")
    c = Counter(loc.name, loc.offset, loc.width, loc.shift, loc.bits, start, signed_step % (1 << 64),
                n % (1 << 64), random=vary.mode == "random")
    return c, frame


def _narrowed(frame: bytes, loc: Location, vary: Vary, start: int, step: int,
              n: int) -> tuple[Counter, bytes]:
    """A field wider than 64 bits (an IPv6 address) varied in its low 64 bits, the rest constant."""
    last = start + step * (n - 1)
    low, high = min(start, last), max(start, last)
    if low < 0 or high >= 1 << loc.bits or (low ^ high) >> 64 or loc.shift:
        raise ConfigError(f"a {loc.bits}-bit field varies only in its low 64 bits, without wrapping: give a "
                          f"range whose values share the high {loc.bits - 64} bits ({VARY_FORMS})")
    fixed = (low >> 64) << 64
    buf = bytearray(frame)
    buf[loc.offset : loc.offset + loc.width] = fixed.to_bytes(loc.width, "big")
    c = Counter(loc.name, loc.offset + loc.width - 8, 8, 0, 64, start - fixed, step % (1 << 64), n % (1 << 64),
                random=vary.mode == "random")
    return c, bytes(buf)


def counters(frame: bytes, vary: Mapping[str, str | Vary] | None) -> tuple[list[Counter], bytes]:
    """Every field of ``vary`` resolved in ``frame`` (and the frame, see ``counter``)."""
    out: list[Counter] = []
    if not vary:
        return out, frame
    check_vary(vary)
    packet = _dissect(frame)
    unkept = _unkept_checksums(frame, packet)
    for name, spec in vary.items():
        c, frame = counter(frame, name, spec, packet=packet)
        for what, lo, hi in unkept:
            if c.offset < hi and c.offset + c.width > lo:
                raise ConfigError(f"{name}: lies under the checksum of {what}, which the generator does not "
                                  "update (it keeps the outer IPv4 header's and the outer UDP/TCP checksum)")
        out.append(c)
    return out, frame


def _unkept_checksums(frame: bytes, packet: Any) -> list[tuple[str, int, int]]:
    """The byte ranges under a checksum the patcher does not keep (inner headers of a tunnel,
    ICMP, GRE...): (the layer's name, lo, hi)."""
    from ._fields import _L4_CSUM_OFFSET, layout

    lay = layout(frame)
    kept = {lay.l3} if lay.ip_version == 4 else set()
    if lay.l4 is not None and lay.l4_proto in _L4_CSUM_OFFSET:
        kept.add(lay.l4)
    out = []
    for layer, offset, placed in _layer_fields(packet):
        names = {f.name for f, _, bits in placed if bits}
        if not names & {"chksum", "cksum", "checksum"} or offset in kept:
            continue
        if type(layer).__name__ == "IP":
            out.append((f"the IP header at byte {offset}", offset, offset + (frame[offset] & 0x0F) * 4))
        else:
            out.append((f"the {type(layer).__name__} header at byte {offset}", offset, len(frame)))
    return out


def check_payload(pattern: Any) -> None:
    """A payload pattern's syntax (ConfigError naming the accepted forms)."""
    payload_bytes(pattern, 0)


def payload_bytes(pattern: str | None, length: int, seed: int = 0) -> bytes:
    """``length`` bytes of ``pattern``: zeros, fixed:BYTE, inc, random (drawn once, from ``seed``);
    random-per-frame: zeros (the template's; each frame gets its own bytes, see ``per_frame``)."""
    if pattern is None:
        return bytes(length)
    if not isinstance(pattern, str):
        raise ConfigError(f"bad payload {pattern!r}: {PAYLOADS}")
    if per_frame(pattern):
        return bytes(length)
    kind, sep, arg = pattern.strip().lower().partition(":")
    if kind == "zeros" and not sep:
        return bytes(length)
    if kind == "inc" and not sep:
        return bytes(np.arange(length, dtype=np.uint64).astype(np.uint8))
    if kind == "random" and not sep:
        return bytes(np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8))
    if kind == "fixed" and sep:
        try:
            byte = int(arg.strip(), 0)
        except ValueError:
            byte = -1
        if 0 <= byte <= 255:
            return bytes([byte]) * length
    raise ConfigError(f"bad payload {pattern!r}: {PAYLOADS}")


def per_frame(pattern: str | None) -> bool:
    """Is ``pattern`` drawn anew for each frame (``random-per-frame``)? The patcher then copies one
    of a ring of pre-drawn payloads into every frame (``xsk.traffic._fields.PacketPlan``)."""
    return isinstance(pattern, str) and pattern.strip().lower() == PER_FRAME


def fill_payload(frame: bytes, start: int, pattern: str | None, seed: int = 0) -> bytes:
    """``frame`` with the bytes from ``start`` on replaced by ``pattern`` (None: left as they are)."""
    if pattern is None or start >= len(frame):
        return frame
    return frame[:start] + payload_bytes(pattern, len(frame) - start, seed)


__all__ = ["LIST_MODES", "MODES", "NAME_FORMS", "PAYLOADS", "VARY_FORMS", "Location", "Vary", "check_payload",
           "check_vary", "counter", "counters", "fill_payload", "locate", "payload_bytes", "per_frame"]
