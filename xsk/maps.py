"""A BPF object's maps and global variables by name, in Python values.

``prog.maps["name"]`` is a :class:`Map`: a mutable mapping over the kernel's map (``get``,
``[key] = value``, ``del``, iteration, ``items()``, ``clear()``). ``prog.globals["name"]``
reads and sets a global variable of the program (``.data``, ``.bss``; ``.rodata`` only before
the program is loaded, see ``XdpProgram.load(constants=...)``).

Keys and values are converted by the layout the object's BTF gives them (see ``xsk._btf``):
ints for integers and enums, ``dict`` for structs, ``bytes`` for ``char[N]``, lists for other
arrays; ``bytes`` of exactly the right size are accepted everywhere. A map declared without
BTF types (``__uint(key_size, 4)``) has no layout: its keys and values are ints when they are
1, 2, 4 or 8 bytes (little-endian, unsigned), bytes otherwise. ``map.raw`` is the same map
with bytes in and out. Per-CPU maps give a list with one value per possible CPU and take a
list, or one value for every CPU.

Keys, and their byte order: a key is one of

* an ``int`` (integer and enum keys): written little-endian, as a little-endian host and its
  BPF programs hold a number (the program's ``__u32 key = 5``);
* ``bytes`` of exactly the key's size: written as given;
* an :class:`ipaddress.IPv4Address` for a 4-byte key, an :class:`ipaddress.IPv6Address` for a
  16-byte key: its bytes in network order (``address.packed``), as they stand in the packet;
* for a struct key, a ``dict`` of its fields (or the ``Struct`` read back).

An address the program reads from a packet (``ip->saddr``, a ``__be32``, whatever its C type
says) keeps the packet's byte order: pass the address object, or its ``.packed`` bytes, and it
matches. ``int(IPv4Address("192.0.2.1"))`` is 0xC0000201 (the address read big-endian), which
an int key writes little-endian, as the bytes 01 02 00 C0: the address backwards, never matched;
the int that does match is ``int.from_bytes(address.packed, "little")``. Inside a struct key, give
an address field its ``.packed`` bytes. Keys read back (iteration, ``items()``) are ints for
integer keys: ``IPv4Address(key.to_bytes(4, "little"))`` makes the address again, or iterate
``map.raw`` for the bytes. A key the map lacks raises :class:`MapKeyError`, a ``KeyError`` naming
the map and the key.

Array maps keep every index: ``del`` is refused and ``clear()`` sets each element to zero.
An interface index written into a devmap is looked up in the calling thread's network
namespace: write it inside ``xsk.netns.entered(ns)`` for an interface in namespace ``ns``.

Lifetime: a Map or Globals belongs to the object that loaded the program (an
:class:`xsk.testing.XdpProgram` or :class:`xsk.CustomProgram`) and uses its file
descriptors; every call checks that the owner is still open (``ClosedError`` after it closed).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import ipaddress
import mmap
from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol

from ._binding import CData, check, ffi, lib
from ._btf import Btf, Codec, RawCodec, Variable
from .errors import ClosedError, ConfigError, NoSuchMapError, error_for

MAP_TYPES = {
    1: "hash", 2: "array", 3: "prog_array", 4: "perf_event_array", 5: "percpu_hash",
    6: "percpu_array", 7: "stack_trace", 8: "cgroup_array", 9: "lru_hash", 10: "lru_percpu_hash",
    11: "lpm_trie", 12: "array_of_maps", 13: "hash_of_maps", 14: "devmap", 15: "sockmap",
    16: "cpumap", 17: "xskmap", 18: "sockhash", 25: "devmap_hash", 27: "ringbuf",
}
_PER_CPU = {5, 6, 10}
_ARRAYS = {2, 6, 3, 14, 16, 17}
_DEVICE_MAPS = {14, 25}  # devmap, devmap_hash: values are interface indexes


class Owner(Protocol):
    """What a map needs of the object that holds it."""

    @property
    def closed(self) -> bool: ...

    @property
    def loaded(self) -> bool: ...


def _live(owner: Owner, what: str) -> None:
    if owner.closed:
        raise ClosedError(f"{what}: its program was closed")


class MapKeyError(KeyError):
    """A key a map does not hold (or an array index past its end). Its message names the map,
    the key and the key's bytes as the kernel saw them. It is a ``KeyError``, so ``except
    KeyError``, ``map.get`` and ``in`` work as with a dict, and ``args[0]`` is the key, as in a
    dict's KeyError; ``map_name`` and ``key`` say the same by name."""

    def __init__(self, map_name: str, key: Any, encoded: bytes = b"", reason: str = "") -> None:
        super().__init__(key)
        self.map_name = map_name
        self.key = key
        self.encoded = encoded
        self.reason = reason

    def __str__(self) -> str:
        text = f"map {self.map_name!r} has no key {self.key!r}"
        if self.encoded and not isinstance(self.key, bytes) and len(self.encoded) <= 16:
            text += f" (bytes {self.encoded.hex(' ')})"
        return f"{text}: {self.reason}" if self.reason else text


class Map(MutableMapping[Any, Any]):
    """One BPF map of a loaded object (see the module's docstring for keys and values)."""

    def __init__(self, owner: Owner, ptr: CData, btf: Btf | None, *, raw: bool = False) -> None:
        # everything is read from ``ptr`` (libbpf's, freed with the object) here, never later
        self._owner = owner
        self.name = ffi.string(lib.bpf_map__name(ptr)).decode()
        self.fd = int(lib.bpf_map__fd(ptr))
        self.type_id = int(lib.bpf_map__type(ptr))
        self.type = MAP_TYPES.get(self.type_id, str(self.type_id))
        self.key_size = int(lib.bpf_map__key_size(ptr))
        self.value_size = int(lib.bpf_map__value_size(ptr))
        self.max_entries = int(lib.bpf_map__max_entries(ptr))
        self.per_cpu = self.type_id in _PER_CPU
        self.is_array = self.type_id in _ARRAYS
        key_id, value_id = int(lib.bpf_map__btf_key_type_id(ptr)), int(lib.bpf_map__btf_value_type_id(ptr))
        self.key_codec: Codec = (btf.codec(key_id) if btf and key_id and not raw
                                 else RawCodec(self.key_size, "the key", ints=not raw))
        self.value_codec: Codec = (btf.codec(value_id) if btf and value_id and not raw
                                   else RawCodec(self.value_size, "the value", ints=not raw))
        self._cpus = max(int(lib.libbpf_num_possible_cpus()), 1) if self.per_cpu else 1
        self._stride = (self.value_size + 7) // 8 * 8 if self.per_cpu else self.value_size

    @property
    def raw(self) -> Map:
        """This map with bytes for keys and values (exactly ``key_size`` / ``value_size``)."""
        _live(self._owner, f"map {self.name!r}")
        view = copy.copy(self)
        view.key_codec = RawCodec(self.key_size, "the key")
        view.value_codec = RawCodec(self.value_size, "the value")
        return view

    def _encode_key(self, key: Any) -> bytes:
        """The key's bytes (see the module's docstring for what a key may be)."""
        what = f"map {self.name!r} key"
        if isinstance(key, ipaddress.IPv4Address | ipaddress.IPv6Address):
            if len(key.packed) != self.key_size:
                raise ConfigError(f"{what}: an IPv{key.version} address is {len(key.packed)} bytes, the key "
                                  f"({self.key_codec.name}) is {self.key_size}")
            return key.packed
        return self.key_codec.encode(key, what)

    def _key(self, key: Any) -> CData:
        _live(self._owner, f"map {self.name!r}")
        encoded = self._encode_key(key)
        if self.is_array and not 0 <= int.from_bytes(encoded, "little") < self.max_entries:
            raise MapKeyError(self.name, key, encoded, f"an array's indexes are 0..{self.max_entries - 1}")
        return ffi.from_buffer("char[]", encoded)

    def _missing(self, key: Any, k: CData) -> MapKeyError:
        return MapKeyError(self.name, key, ffi.buffer(k)[:])

    def __getitem__(self, key: Any) -> Any:
        k = self._key(key)
        buf = ffi.new("char[]", self._stride * self._cpus)
        rc = lib.bpf_map_lookup_elem(self.fd, k, buf)
        if rc == -errno.ENOENT:
            raise self._missing(key, k)
        check(rc, f"reading map {self.name!r}")
        data = ffi.buffer(buf)[:]
        if not self.per_cpu:
            return self.value_codec.decode(data)
        return [self.value_codec.decode(data[c * self._stride:c * self._stride + self.value_size])
                for c in range(self._cpus)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def set(self, key: Any, value: Any) -> None:
        """``map[key] = value``; for per-CPU maps a list of one value per possible CPU, or one
        value for them all."""
        k = self._key(key)
        what = f"map {self.name!r} value"
        if self.per_cpu:
            values = value if isinstance(value, list) else [value] * self._cpus
            if len(values) != self._cpus:
                raise ConfigError(f"{what}: a per-CPU map takes {self._cpus} values (one per possible CPU) "
                                  f"or one for all, got {len(values)}")
            data = b"".join(self.value_codec.encode(v, what).ljust(self._stride, b"\0") for v in values)
        else:
            data = self.value_codec.encode(value, what)
        rc = lib.bpf_map_update_elem(self.fd, k, ffi.from_buffer("char[]", data), lib.BPF_ANY)
        if rc == -errno.E2BIG:
            raise error_for(errno.E2BIG, f"map {self.name!r} is full ({self.max_entries} entries)",
                            "delete entries or raise max_entries")
        if rc in (-errno.ENODEV, -errno.EINVAL) and self.type_id in _DEVICE_MAPS:
            raise error_for(-rc, f"writing map {self.name!r} ({self.type})",
                            "an interface index in a devmap resolves in the calling thread's network namespace: "
                            "write it inside xsk.netns.entered(<the interface's namespace>)")
        check(rc, f"writing map {self.name!r}")

    def delete(self, key: Any) -> None:
        """``del map[key]``: :class:`MapKeyError` (a KeyError) if it is not there; refused for arrays."""
        del self[key]

    def __delitem__(self, key: Any) -> None:
        if self.is_array:
            raise ConfigError(f"map {self.name!r} is an array: its elements can't be deleted; set them to 0")
        k = self._key(key)
        rc = lib.bpf_map_delete_elem(self.fd, k)
        if rc == -errno.ENOENT:
            raise self._missing(key, k)
        check(rc, f"deleting from map {self.name!r}")

    def keys_list(self) -> list[Any]:
        """Every key, read at once (the map may change while you use them)."""
        _live(self._owner, f"map {self.name!r}")
        out: list[Any] = []
        prev = ffi.NULL
        nxt = ffi.new("char[]", self.key_size)
        while True:
            rc = lib.bpf_map_get_next_key(self.fd, prev, nxt)
            if rc == -errno.ENOENT:
                return out
            check(rc, f"listing map {self.name!r}")
            out.append(self.key_codec.decode(ffi.buffer(nxt)[:]))
            prev, nxt = nxt, ffi.new("char[]", self.key_size)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys_list())

    def __len__(self) -> int:
        return len(self.keys_list())

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def clear(self) -> None:
        """Empty the map: hash maps lose every entry, arrays get every element set to zero."""
        if self.is_array:
            zero = bytes(self.value_size)
            raw = self.raw
            for key in self.keys_list():
                raw.set(self.key_codec.encode(key, "key"), [zero] * self._cpus if self.per_cpu else zero)
            return
        for key in self.keys_list():
            with contextlib.suppress(KeyError):  # gone meanwhile (LRU eviction, the program)
                del self[key]

    def __repr__(self) -> str:
        return (f"<xsk.maps.Map {self.name!r} {self.type} key {self.key_size} B value {self.value_size} B "
                f"max {self.max_entries}>")


class Maps(MutableMapping[str, Map]):
    """The object's maps by name (global-variable sections are in ``Globals`` instead)."""

    def __init__(self, owner: Owner, obj: CData, btf: Btf | None) -> None:
        self._maps: dict[str, Map] = {}
        ptr = lib.bpf_object__next_map(obj, ffi.NULL)
        while ptr != ffi.NULL:
            if not lib.bpf_map__is_internal(ptr):
                m = Map(owner, ptr, btf)
                self._maps[m.name] = m
            ptr = lib.bpf_object__next_map(obj, ptr)

    def __getitem__(self, name: str) -> Map:
        if name not in self._maps:
            raise NoSuchMapError(f"no map named {name!r}; the object has "
                                 f"{', '.join(sorted(self._maps)) or 'no maps'}", argument="name")
        return self._maps[name]

    def __setitem__(self, name: str, value: Map) -> None:
        raise ConfigError("maps are the object's own: change their contents, e.g. prog.maps[name][key] = value")

    def __delitem__(self, name: str) -> None:
        raise ConfigError("maps are the object's own: clear one with prog.maps[name].clear()")

    def __iter__(self) -> Iterator[str]:
        return iter(self._maps)

    def __len__(self) -> int:
        return len(self._maps)

    def __repr__(self) -> str:
        return f"<xsk.maps.Maps {', '.join(self._maps)}>"


class Globals(MutableMapping[str, Any]):
    """The program's global variables by name, read and written where the kernel keeps them
    (before load: in the object's initial values)."""

    def __init__(self, owner: Owner, obj: CData, btf: Btf | None) -> None:
        self._owner = owner
        self._vars: dict[str, tuple[Variable, CData]] = {}
        self._mapped: dict[int, mmap.mmap] = {}
        ptr = lib.bpf_object__next_map(obj, ffi.NULL)
        while ptr != ffi.NULL:
            if lib.bpf_map__is_internal(ptr) and btf is not None:
                _, variables = btf.section_variables(int(lib.bpf_map__btf_value_type_id(ptr)))
                for var in variables:
                    self._vars[var.name] = (var, ptr)
            ptr = lib.bpf_object__next_map(obj, ptr)

    def _find(self, name: str) -> tuple[Variable, CData]:
        _live(self._owner, f"global {name!r}")
        if name not in self._vars:
            raise NoSuchMapError(f"no global variable named {name!r}; the program has "
                                 f"{', '.join(sorted(self._vars)) or 'none'} (static and unused "
                                 "variables are compiled away)", argument="name")
        return self._vars[name]

    def _memory(self, var: Variable, ptr: CData) -> Any:
        """The section's bytes, writable: its initial value before load; after load, the
        kernel's map mapped into this process (global data maps are mmapable), so a variable
        is read and written in place, never the whole section over what the program changed
        meanwhile. ``.rodata`` maps read-only after load."""
        if not self._owner.loaded:
            size = ffi.new("size_t *")
            data = lib.bpf_map__initial_value(ptr, size)
            if data == ffi.NULL:
                raise ConfigError(f"global {var.name!r}: its section {var.section} has no initial value here",
                                  argument="name")
            return ffi.buffer(data, size[0])
        fd = int(lib.bpf_map__fd(ptr))
        if fd not in self._mapped:
            size = int(lib.bpf_map__value_size(ptr))
            length = max(mmap.PAGESIZE, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE)
            writable = not var.section.startswith(".rodata")
            try:
                self._mapped[fd] = mmap.mmap(fd, length, mmap.MAP_SHARED,
                                             mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))
            except OSError as exc:
                raise error_for(exc.errno or 0, f"mapping {var.section} to reach global {var.name!r}",
                                "the kernel maps global data since Linux 5.5") from None
        return self._mapped[fd]

    def __getitem__(self, name: str) -> Any:
        var, ptr = self._find(name)
        memory = self._memory(var, ptr)
        return var.codec.decode(bytes(memory[var.offset:var.offset + var.codec.size]))

    def __setitem__(self, name: str, value: Any) -> None:
        var, ptr = self._find(name)
        if self._owner.loaded and var.section.startswith(".rodata"):
            raise ConfigError(f"{name!r} is const ({var.section}): the verifier has taken its value; set it "
                              "before loading, with XdpProgram.load(..., constants={...})", argument="name")
        encoded = var.codec.encode(value, f"global {name!r}")
        memory = self._memory(var, ptr)
        memory[var.offset:var.offset + len(encoded)] = encoded

    def close(self) -> None:
        """Unmap the sections mapped after load (their owner calls this as it closes)."""
        for mapped in self._mapped.values():
            mapped.close()
        self._mapped.clear()

    def __delitem__(self, name: str) -> None:
        raise ConfigError(f"global variables can't be deleted; set {name!r} to 0")

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def section_of(self, name: str) -> str:
        """Which data section holds the variable (".data", ".bss", ".rodata"...)."""
        return self._find(name)[0].section
