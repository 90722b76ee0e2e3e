"""Codecs from BTF: the layout a BPF object's BTF gives a map's key or value, or a global
variable, turned into Python values and back.

A codec is made once per type when a map or variable is first looked at and holds no C
memory (only sizes, offsets and names read from the object's BTF), so it outlives the object.

What Python sees, per BTF kind (the documented mapping of ``Map`` and ``Globals``):

* integers, enums, pointers: ``int`` (``bool`` for ``_Bool``); enums also accept their names;
* ``float``/``double``: ``float``;
* ``char[N]`` (and other byte arrays): ``bytes`` of length N (shorter input is zero-padded);
* other arrays: ``list`` (shorter input is zero-padded);
* structs: a ``Struct``, a read-only mapping of field name to value, with attribute access,
  equal to the ``dict`` of the same fields and hashable; encode from any mapping (missing
  fields are zero; bitfields are ints); unions: the same, every member's view of the bytes
  (encode one member);
* anything else, and ``bytes`` for any type: the raw bytes, exactly the type's size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._binding import CData, ffi, lib
from .errors import ConfigError

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 8, 9, 10, 11
KIND_VAR, KIND_DATASEC, KIND_FLOAT, KIND_TYPE_TAG, KIND_ENUM64 = 14, 15, 16, 18, 19
_QUALIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)
_INT_SIGNED, _INT_BOOL = 1, 4  # BTF_INT_SIGNED, BTF_INT_BOOL


class Codec:
    """Bytes of one C type <-> a Python value. ``size``: the type's size in bytes."""

    size: int
    name: str

    def decode(self, data: bytes) -> Any:
        return bytes(data)

    def encode(self, value: Any, what: str) -> bytes:
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            if len(raw) != self.size:
                raise ConfigError(f"{what}: {len(raw)} bytes given, {self.name} is {self.size} bytes")
            return raw
        return self._encode(value, what)

    def _encode(self, value: Any, what: str) -> bytes:
        raise ConfigError(f"{what}: give {self.size} bytes for {self.name}, got {type(value).__name__}")


@dataclass
class RawCodec(Codec):
    """No layout known: bytes in, bytes out (ints accepted and given for 1, 2, 4 and 8 bytes,
    little-endian and unsigned, as keys and counters usually are)."""

    size: int
    name: str = "the value"
    ints: bool = False

    def decode(self, data: bytes) -> Any:
        return int.from_bytes(data, "little") if self.ints and self.size in (1, 2, 4, 8) else bytes(data)

    def _encode(self, value: Any, what: str) -> bytes:
        if isinstance(value, int) and not isinstance(value, bool) and self.size in (1, 2, 4, 8):
            return _int_bytes(value, self.size, False, what)
        return super()._encode(value, what)


def _int_bytes(value: int, size: int, signed: bool, what: str) -> bytes:
    try:
        return int(value).to_bytes(size, "little", signed=signed)
    except OverflowError:
        kind = "signed" if signed else "unsigned"
        raise ConfigError(f"{what}: {value} does not fit a {size * 8}-bit {kind} integer") from None


@dataclass
class IntCodec(Codec):
    size: int
    signed: bool
    name: str
    boolean: bool = False

    def decode(self, data: bytes) -> Any:
        n = int.from_bytes(data, "little", signed=self.signed)
        return bool(n) if self.boolean else n

    def _encode(self, value: Any, what: str) -> bytes:
        if not isinstance(value, int):
            raise ConfigError(f"{what}: {self.name} takes an int, got {type(value).__name__}")
        if self.boolean and value not in (0, 1):
            raise ConfigError(f"{what}: {self.name} takes True or False (0 or 1), got {value}")
        return _int_bytes(value, self.size, self.signed, what)


@dataclass
class EnumCodec(IntCodec):
    names: dict[str, int] = field(default_factory=dict)

    def _encode(self, value: Any, what: str) -> bytes:
        if isinstance(value, str):
            if value not in self.names:
                raise ConfigError(f"{what}: {self.name} has no value {value!r} (it has {', '.join(self.names)})")
            value = self.names[value]
        return super()._encode(value, what)


@dataclass
class FloatCodec(Codec):
    size: int
    name: str

    def decode(self, data: bytes) -> Any:
        return struct.unpack("<d" if self.size == 8 else "<f", data)[0]

    def _encode(self, value: Any, what: str) -> bytes:
        if not isinstance(value, int | float):
            raise ConfigError(f"{what}: {self.name} takes a float, got {type(value).__name__}")
        return struct.pack("<d" if self.size == 8 else "<f", value)


@dataclass
class BytesArrayCodec(Codec):
    """``char[N]``, ``__u8[N]``: bytes, zero-padded when shorter."""

    size: int
    name: str

    def _encode(self, value: Any, what: str) -> bytes:
        if isinstance(value, str):
            encoded = value.encode()
            if len(encoded) <= self.size:
                return encoded.ljust(self.size, b"\0")
        raise ConfigError(f"{what}: {self.name} takes at most {self.size} bytes")

    def encode(self, value: Any, what: str) -> bytes:
        if isinstance(value, bytes | bytearray | memoryview) and len(value) <= self.size:
            return bytes(value).ljust(self.size, b"\0")
        return super().encode(value, what)


@dataclass
class ArrayCodec(Codec):
    item: Codec
    count: int
    name: str
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = self.item.size * self.count

    def decode(self, data: bytes) -> Any:
        n = self.item.size
        return [self.item.decode(data[i * n:(i + 1) * n]) for i in range(self.count)]

    def _encode(self, value: Any, what: str) -> bytes:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ConfigError(f"{what}: {self.name} takes a list of up to {self.count}")
        if len(value) > self.count:
            raise ConfigError(f"{what}: {self.name} holds {self.count} items, got {len(value)}")
        out = b"".join(self.item.encode(v, f"{what}[{i}]") for i, v in enumerate(value))
        return out.ljust(self.size, b"\0")


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


class Struct(Mapping[str, Any]):
    """A struct's decoded value: a read-only mapping of field to value that also reads as
    attributes (``key.dport``), equals a ``dict`` with the same fields and is hashable (a
    struct key can key a dict)."""

    __slots__ = ("_fields", "_type")

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        self._type = type_name
        self._fields = fields

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._type} has no field {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._fields) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple((k, _frozen(v)) for k, v in self._fields.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self._type}({inner})"


@dataclass
class Member:
    name: str
    bit_offset: int
    codec: Codec
    bits: int = 0  # a bitfield's width; 0 for a whole member


@dataclass
class StructCodec(Codec):
    size: int
    name: str
    members: list[Member]
    union: bool = False

    def decode(self, data: bytes) -> Any:
        out: dict[str, Any] = {}
        for m in self.members:
            if m.bits:
                whole = int.from_bytes(data, "little")
                raw = (whole >> m.bit_offset) & ((1 << m.bits) - 1)
                out[m.name] = raw - (1 << m.bits) if _signed(m.codec) and raw >> (m.bits - 1) else raw
            else:
                start = m.bit_offset // 8
                out[m.name] = m.codec.decode(data[start:start + m.codec.size])
        return Struct(self.name, out)

    def _encode(self, value: Any, what: str) -> bytes:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{what}: {self.name} takes a dict of its fields "
                              f"({', '.join(m.name for m in self.members)}) or {self.size} bytes")
        known = {m.name: m for m in self.members}
        unknown = [k for k in value if k not in known]
        if unknown:
            raise ConfigError(f"{what}: {self.name} has no field {unknown[0]!r} "
                              f"(it has {', '.join(known)})")
        if self.union:
            return self._encode_union(value, known, what)
        buf = bytearray(self.size)
        for name, v in value.items():
            self._put(buf, known[name], v, f"{what}.{name}")
        return bytes(buf)

    def _put(self, buf: bytearray, m: Member, v: Any, what: str) -> None:
        if m.bits:
            low, high = (-(1 << (m.bits - 1)), (1 << (m.bits - 1)) - 1) if _signed(m.codec) else (0, (1 << m.bits) - 1)
            if not isinstance(v, int) or not low <= v <= high:
                raise ConfigError(f"{what}: a {m.bits}-bit field takes {low}..{high}")
            mask = ((1 << m.bits) - 1) << m.bit_offset
            whole = int.from_bytes(buf, "little") & ~mask
            buf[:] = (whole | ((v << m.bit_offset) & mask)).to_bytes(self.size, "little")
        else:
            start = m.bit_offset // 8
            buf[start:start + m.codec.size] = m.codec.encode(v, what)

    def _encode_union(self, value: Mapping[str, Any], known: dict[str, Member], what: str) -> bytes:
        """One member, or several that say the same bytes (as a union read back gives)."""
        if not value:
            return bytes(self.size)
        views = []
        for name, v in value.items():
            m = known[name]
            buf = bytearray(self.size)
            self._put(buf, m, v, f"{what}.{name}")
            views.append(((m.bit_offset + m.bits + 7) // 8 if m.bits else m.codec.size, name, bytes(buf)))
        views.sort(key=lambda view: -view[0])
        _, widest, result = views[0]
        for width, name, view in views[1:]:
            if view[:width] != result[:width]:
                raise ConfigError(f"{what}: {self.name} is a union and its members {widest!r} and {name!r} "
                                  "disagree: give one of them")
        return result


def _signed(codec: Codec) -> bool:
    return isinstance(codec, IntCodec) and codec.signed


@dataclass
class Variable:
    """A global variable of a data section: where it is and how it reads."""

    name: str
    section: str
    offset: int
    codec: Codec


class Btf:
    """Reads one object's BTF (``struct btf *``, owned by the object: use only while it is open)."""

    def __init__(self, btf: CData) -> None:
        self._btf = btf
        self._codecs: dict[int, Codec] = {}

    def _type(self, type_id: int) -> CData:
        return lib.btf__type_by_id(self._btf, type_id)

    def _name(self, t: CData) -> str:
        return str(ffi.string(lib.btf__name_by_offset(self._btf, t.name_off)).decode())

    @staticmethod
    def kind(t: CData) -> int:
        return int(t.info >> 24) & 0x1F

    @staticmethod
    def vlen(t: CData) -> int:
        return int(t.info) & 0xFFFF

    def skip_qualifiers(self, type_id: int) -> int:
        t = self._type(type_id)
        while t != ffi.NULL and self.kind(t) in _QUALIFIERS:
            type_id = int(t.type)
            t = self._type(type_id)
        return type_id

    def type_name(self, type_id: int) -> str:
        """The C name of a type as written (``struct flow``, ``__u32``...), for messages:
        through const and volatile, not through typedefs."""
        t = self._type(type_id)
        while t != ffi.NULL and self.kind(t) in (KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG):
            t = self._type(int(t.type))
        name = self._name(t) if t != ffi.NULL else ""
        kind = self.kind(t) if t != ffi.NULL else 0
        if kind == KIND_STRUCT:
            return f"struct {name}" if name else "an anonymous struct"
        if kind == KIND_UNION:
            return f"union {name}" if name else "an anonymous union"
        if kind in (KIND_ENUM, KIND_ENUM64):
            return f"enum {name}" if name else "an anonymous enum"
        return name or "the value"

    def codec(self, type_id: int) -> Codec:
        """The codec of a type (qualifiers and typedefs see through), cached per type."""
        if type_id not in self._codecs:
            self._codecs[type_id] = self._make(type_id)
        return self._codecs[type_id]

    def _make(self, type_id: int) -> Codec:
        name = self.type_name(type_id)
        resolved = self.skip_qualifiers(type_id)
        t = self._type(resolved)
        size = int(lib.btf__resolve_size(self._btf, resolved))
        kind = self.kind(t)
        if kind == KIND_INT:
            encoding = int(ffi.cast("__u32 *", t + 1)[0]) >> 24 & 0x0F
            return IntCodec(size, bool(encoding & _INT_SIGNED), name, boolean=bool(encoding & _INT_BOOL))
        if kind in (KIND_ENUM, KIND_ENUM64):
            names = self._enum_names(t, size)
            # kind_flag marks a signed enum (newer compilers); older ones leave it 0 but a
            # negative enumerator says the same
            signed = bool(t.info >> 31 & 1) or any(v < 0 for v in names.values())
            if not signed:
                names = {k: v % (1 << (8 * size)) for k, v in names.items()}
            return EnumCodec(size, signed, name, names=names)
        if kind == KIND_PTR:
            return IntCodec(8, False, name)
        if kind == KIND_FLOAT and size in (4, 8):
            return FloatCodec(size, name)
        if kind == KIND_ARRAY:
            arr = ffi.cast("struct btf_array *", t + 1)
            item = self.codec(int(arr.type))
            if isinstance(item, IntCodec) and item.size == 1 and not item.boolean:
                return BytesArrayCodec(size, name if name != "the value" else f"{item.name}[{arr.nelems}]")
            return ArrayCodec(item, int(arr.nelems), f"{item.name}[{arr.nelems}]")
        if kind in (KIND_STRUCT, KIND_UNION):
            bitfields = bool(t.info >> 31 & 1)
            members = []
            for i in range(self.vlen(t)):
                m = ffi.cast("struct btf_member *", t + 1)[i]
                offset, bits = int(m.offset), 0
                if bitfields:
                    offset, bits = int(m.offset) & 0xFFFFFF, int(m.offset) >> 24
                mname = ffi.string(lib.btf__name_by_offset(self._btf, m.name_off)).decode() or f"_{i}"
                members.append(Member(mname, offset, self.codec(int(m.type)), bits))
            return StructCodec(size, name, members, union=kind == KIND_UNION)
        return RawCodec(size, name)

    def _enum_names(self, t: CData, size: int) -> dict[str, int]:
        """Enumerator names and values, as BTF holds them (signed 32 or 64 bits)."""
        out: dict[str, int] = {}
        if self.kind(t) == KIND_ENUM64:
            values64 = ffi.cast("struct btf_enum64 *", t + 1)
            for i in range(self.vlen(t)):
                v = int(values64[i].val_hi32) << 32 | int(values64[i].val_lo32)
                out[ffi.string(lib.btf__name_by_offset(self._btf, values64[i].name_off)).decode()] = \
                    v - (1 << 64) if v >> 63 else v
            return out
        values = ffi.cast("struct btf_enum *", t + 1)
        for i in range(self.vlen(t)):
            out[ffi.string(lib.btf__name_by_offset(self._btf, values[i].name_off)).decode()] = int(values[i].val)
        return out

    def section_variables(self, datasec_id: int) -> tuple[str, list[Variable]]:
        """A data section's name (".data", ".bss", ".rodata"...) and its variables."""
        t = self._type(datasec_id)
        if t == ffi.NULL or self.kind(t) != KIND_DATASEC:
            return "", []
        section = self._name(t)
        out = []
        for i in range(self.vlen(t)):
            info = ffi.cast("struct btf_var_secinfo *", t + 1)[i]
            var = self._type(int(info.type))
            if self.kind(var) != KIND_VAR:
                continue
            out.append(Variable(self._name(var), section, int(info.offset), self.codec(int(var.type))))
        return section, out
