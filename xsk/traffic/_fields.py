"""Frames built once, patched per batch: the generator's packet model.

A ``PacketPlan`` holds one template frame and the fields that change from packet to
packet. ``Umem`` frames are filled with the template once; after that each batch only
gets its changing fields written (one vectorised numpy write per field) and its
checksums fixed incrementally (RFC 1624): a base sum computed once from the template
plus the words of the changed fields. No packet is rebuilt with scapy in the loop.

Sequence payload (``seq=True``), at the start of the UDP/TCP payload, big-endian::

    offset  size  field
    0       2     magic 0x58 0x4B ("XK")
    2       8     sequence number: top 8 bits = stream (worker) id, low 56 bits = counter
    10      8     transmit time, nanoseconds since the epoch (CLOCK_REALTIME)

``xsk sink`` reads it to count loss, duplicates and reordering and to measure latency.

``PacketPlan.patch`` does the per-batch work in one C call (``xsk_pkt_patch``);
``patch_numpy`` is the same in numpy, the reference the tests compare the C code with.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import checksum
from .._binding import ffi, lib
from ..errors import ConfigError

if TYPE_CHECKING:
    from .._umem import Umem

SEQ_MAGIC = b"XK"
RING = 256
"""Payloads pre-drawn for ``payload = "random-per-frame"``: each frame gets one, picked at random."""
SEQ_LEN = 18
ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD = 0x0800, 0x86DD, 0x8100, 0x88A8
IPPROTO_TCP, IPPROTO_UDP = 6, 17
_L4_CSUM_OFFSET = {IPPROTO_UDP: 6, IPPROTO_TCP: 16}


@dataclass(frozen=True)
class Layout:
    """Where the headers of a frame start (None: absent)."""

    l3: int
    ethertype: int
    ip_version: int = 0
    l4: int | None = None
    l4_proto: int | None = None
    payload: int | None = None


def layout(frame: bytes) -> Layout:
    """Parse Ethernet (+ up to two VLAN tags), IPv4/IPv6 and UDP/TCP offsets of one frame."""
    if len(frame) < 14:
        raise ConfigError(f"a {len(frame)}-byte frame is shorter than an Ethernet header")
    off, ethertype = 12, struct.unpack_from("!H", frame, 12)[0]
    while ethertype in (ETH_P_8021Q, ETH_P_8021AD) and off + 6 <= len(frame):
        off += 4
        ethertype = struct.unpack_from("!H", frame, off)[0]
    l3 = off + 2
    if ethertype == ETH_P_IP and len(frame) >= l3 + 20:
        ihl = (frame[l3] & 0x0F) * 4
        proto, l4 = frame[l3 + 9], l3 + ihl
        version = 4
    elif ethertype == ETH_P_IPV6 and len(frame) >= l3 + 40:
        proto, l4 = frame[l3 + 6], l3 + 40
        version = 6
    else:
        return Layout(l3, ethertype)
    if proto == IPPROTO_UDP and len(frame) >= l4 + 8:
        return Layout(l3, ethertype, version, l4, proto, l4 + 8)
    if proto == IPPROTO_TCP and len(frame) >= l4 + 20:
        return Layout(l3, ethertype, version, l4, proto, l4 + (frame[l4 + 12] >> 4) * 4)
    return Layout(l3, ethertype, version, l4, proto, None)


@dataclass
class Field:
    """Bytes at ``offset`` taking the values of ``rows`` ((m, width) uint8), one row per packet."""

    name: str
    offset: int
    rows: np.ndarray
    in_ip_header: bool = False
    in_l4_sum: bool = False


@dataclass(frozen=True)
class Counter:
    """A field whose value is computed per packet (``xsk.traffic._vary`` makes them from names):
    ``bits`` bits ending ``shift`` bits from the right of the ``width`` (1..8) bytes at ``offset``.
    Packet ``i``'s value is ``(start + step * r) mod 2**bits`` with ``r = i % count`` (``random``:
    drawn below ``count``); ``count`` 0 means 2**64 and ``step`` is modulo 2**64 (a decrement is
    ``2**64 - s``). With ``choices`` (a list), the value is ``choices[r]`` instead."""

    name: str
    offset: int
    width: int
    shift: int
    bits: int
    start: int
    step: int
    count: int
    random: bool = False
    choices: tuple[int, ...] | None = None  # a list's values: value r is choices[r] (count = their number)

    @property
    def mask(self) -> int:
        return ((1 << self.bits) - 1) << self.shift

    def bit_set(self) -> set[int]:
        """The frame's bits this field owns (bit 0: the first byte's high bit)."""
        end = (self.offset + self.width) * 8 - self.shift
        return set(range(end - self.bits, end))

    def values(self, index: np.ndarray) -> np.ndarray:
        """The field's values (uint64) for these packet indexes (in order; random ones are C's)."""
        r = index.astype(np.uint64)
        if self.count:
            r = r % np.uint64(self.count)
        if self.choices is not None:
            out_list: np.ndarray = np.array(self.choices, dtype=np.uint64)[r] & np.uint64((1 << self.bits) - 1)
            return out_list
        with np.errstate(over="ignore"):
            v = np.uint64(self.start) + np.uint64(self.step) * r
        out: np.ndarray = v & np.uint64((1 << self.bits) - 1)
        return out


def _byte_bits(offset: int, width: int) -> set[int]:
    return set(range(offset * 8, (offset + width) * 8))


@dataclass
class PacketPlan:
    """A template frame, its varying fields, and how to patch a batch of frames holding it."""

    frame: bytes
    fields: list[Field] = field(default_factory=list)
    seq: bool = False
    random: bool = False
    seed: int | None = None
    varying_length: bool = False  # frames of several lengths from this template (zero-padded to the largest)
    counters: list[Counter] = field(default_factory=list)  # fields computed per packet (any field, bit fields)
    min_len: int | None = None  # the shortest frame sent from the template (default: its length)
    random_from: int | None = None  # a payload drawn per frame from here to the frame's end (None: none)

    def __post_init__(self) -> None:
        self.layout = layout(self.frame)
        lay = self.layout
        self._seq_at: int | None = None  # where the sequence number and transmit time go
        if self.seq:
            if lay.payload is None or lay.payload + SEQ_LEN > len(self.frame):
                raise ConfigError(
                    f"a sequence header needs a UDP/TCP payload of at least {SEQ_LEN} bytes; "
                    f"this {len(self.frame)}-byte frame has none (make the frame larger)", argument="seq")
            self._seq_at = lay.payload + len(SEQ_MAGIC)
        for f in self.fields:
            if f.offset + f.rows.shape[1] > len(self.frame):
                raise ConfigError(f"field {f.name} runs past the end of the {len(self.frame)}-byte frame")
        self._check_random_payload()
        self._counter_sums = self._check_counters()
        self._rng = np.random.default_rng(self.seed)
        base = bytearray(self.frame)
        if self._seq_at is not None:
            base[self._seq_at - len(SEQ_MAGIC) : self._seq_at] = SEQ_MAGIC
        self.frame = bytes(base)
        sized = self.varying_length and lay.ip_version in (4, 6)
        self._len_fields = self._length_fields() if sized else []
        sums = self._counter_sums
        self._ip_csum = lay.ip_version == 4 and (sized or any(f.in_ip_header for f in self.fields)
                                                 or any(ip for ip, _ in sums))
        csum_at = self.l4_csum_offset()
        udp_without_sum = (csum_at is not None and lay.l4_proto == IPPROTO_UDP and lay.ip_version == 4
                           and self.frame[csum_at : csum_at + 2] == b"\0\0")
        varies_l4 = (self.seq or sized or self.random_from is not None or any(f.in_l4_sum for f in self.fields)
                     or any(l4 for _, l4 in sums))
        # where the UDP/TCP checksum is recomputed per frame, if it is
        self._l4_csum_at = csum_at if varies_l4 and not udp_without_sum else None
        self._l4_csum = self._l4_csum_at is not None
        self._base_ip = self._base_ip_sum() if self._ip_csum else 0
        self._len_sums: np.ndarray | None = None
        self._base_l4 = self._base_l4_sum() if self._l4_csum else 0
        self._c = CPatcher(self, self.seed)

    def _check_random_payload(self) -> None:
        """A payload drawn per frame lies past the headers and the sequence header, and a ring of
        ``RING`` rows of it is drawn (``_ring``, from ``seed``; ``_ring_sums``: each row's prefix
        sums as the frame's big-endian words, for the checksum of every frame length)."""
        self._ring: np.ndarray | None = None
        self._ring_sums: np.ndarray | None = None
        at = self.random_from
        if at is None:
            return
        lay = self.layout
        floor = lay.payload if lay.payload is not None else lay.l3
        if self._seq_at is not None:
            floor = max(floor, self._seq_at + 16)
        if not floor <= at <= len(self.frame):
            raise ConfigError(f"a payload drawn per frame starts past the headers (at {floor} or later, here {at})",
                              argument="payload")
        width = len(self.frame) - at
        if not width:
            return  # no byte past the headers to draw
        rng = np.random.default_rng(((self.seed or 0) ^ 0x5EED) & 0xFFFF_FFFF_FFFF_FFFF)
        self._ring = rng.integers(0, 256, (RING, width), dtype=np.uint8)
        words = self._ring.astype(np.uint32)
        words[:, (at % 2) :: 2] <<= np.uint32(8)  # a byte at an even offset of the frame is a word's high byte
        self._ring_sums = np.zeros((RING, width + 1), dtype=np.uint32)
        np.cumsum(words, axis=1, out=self._ring_sums[:, 1:])

    def _check_counters(self) -> list[tuple[bool, bool]]:
        """Refuse counters that overlap each other, a range field, the sequence header, a length,
        a checksum or what says how the frame parses, that straddle a checksummed region, or that
        lie past the shortest frame; and say which checksums each is in: [(ip, l4), ...]."""
        lay, n = self.layout, len(self.frame)
        if not self.counters:
            return []
        owned: dict[str, set[int]] = {f.name: _byte_bits(f.offset, f.rows.shape[1]) for f in self.fields}
        reserved = self._reserved_bits()
        regions = self._sum_regions()
        shortest = self.min_len if self.min_len is not None else n
        out = []
        for c in self.counters:
            if not 1 <= c.width <= 8 or not 1 <= c.bits <= 64 or c.shift + c.bits > c.width * 8:
                raise ConfigError(f"{c.name}: a computed field is 1..8 bytes wide", argument="vary")
            if c.offset < 0 or c.offset + c.width > n:
                raise ConfigError(f"{c.name}: runs past the end of the {n}-byte frame", argument="vary")
            if c.offset + c.width > shortest:
                raise ConfigError(f"{c.name}: bytes {c.offset}..{c.offset + c.width - 1} lie past the shortest "
                                  f"frame ({shortest} bytes)", argument="vary")
            bits = c.bit_set()
            for other, taken in owned.items():
                if bits & taken:
                    raise ConfigError(f"{c.name} and {other} overlap: vary each bit once", argument="vary")
            for what, taken in reserved:
                if bits & taken:
                    raise ConfigError(f"{c.name} overlaps the {what}, which the generator keeps consistent "
                                      "with the frame: vary another field", argument="vary")
            owned[c.name] = bits
            flags = []
            for label, lo, hi in regions:
                inside = c.offset >= lo and c.offset + c.width <= hi
                if not inside and c.offset < hi and c.offset + c.width > lo:
                    raise ConfigError(f"{c.name} straddles the edge of the {label} (bytes {lo}..{hi - 1}): "
                                      "vary the parts on either side as two fields", argument="vary")
                flags.append((label, inside))
            ip = any(inside for label, inside in flags if label == "IPv4 header")
            l4 = any(inside for label, inside in flags if label != "IPv4 header")
            out.append((ip and lay.ip_version == 4, l4))
        return out

    def _reserved_bits(self) -> list[tuple[str, set[int]]]:
        """The bits a computed field may not touch: what makes the frame parse, lengths,
        checksums and the sequence header."""
        lay, out = self.layout, []
        at = 12
        while at + 2 <= lay.l3:
            out.append(("EtherType", _byte_bits(at, 2)))
            at += 4
        l3 = lay.l3
        if lay.ip_version == 4:
            out += [("IPv4 version and header length", _byte_bits(l3, 1)),
                    ("IPv4 total length", _byte_bits(l3 + 2, 2)), ("IPv4 protocol", _byte_bits(l3 + 9, 1)),
                    ("IPv4 header checksum", _byte_bits(l3 + 10, 2))]
        elif lay.ip_version == 6:
            out += [("IPv6 version", set(range(l3 * 8, l3 * 8 + 4))),
                    ("IPv6 payload length", _byte_bits(l3 + 4, 2)), ("IPv6 next header", _byte_bits(l3 + 6, 1))]
        if lay.l4 is not None and lay.l4_proto == IPPROTO_UDP:
            out += [("UDP length", _byte_bits(lay.l4 + 4, 2)), ("UDP checksum", _byte_bits(lay.l4 + 6, 2))]
        elif lay.l4 is not None and lay.l4_proto == IPPROTO_TCP:
            out += [("TCP data offset", set(range((lay.l4 + 12) * 8, (lay.l4 + 12) * 8 + 4))),
                    ("TCP checksum", _byte_bits(lay.l4 + 16, 2))]
        if self._seq_at is not None:
            out.append(("sequence header", _byte_bits(self._seq_at - len(SEQ_MAGIC), SEQ_LEN)))
        if self.random_from is not None:
            out.append(("payload drawn per frame", _byte_bits(self.random_from, len(self.frame) - self.random_from)))
        return out

    def _sum_regions(self) -> list[tuple[str, int, int]]:
        """The checksummed byte ranges a field may lie in or outside, never across: (label, lo, hi)."""
        lay, n, out = self.layout, len(self.frame), []
        if lay.ip_version == 4:
            ihl = (self.frame[lay.l3] & 0x0F) * 4
            out += [("IPv4 header", lay.l3, lay.l3 + ihl)]
            if lay.l4 is not None and lay.l4_proto in _L4_CSUM_OFFSET:
                out += [("IPv4 addresses", lay.l3 + 12, lay.l3 + 20)]
        elif lay.ip_version == 6 and lay.l4 is not None and lay.l4_proto in _L4_CSUM_OFFSET:
            out += [("IPv6 addresses", lay.l3 + 8, lay.l3 + 40)]
        if lay.l4 is not None and lay.l4_proto in _L4_CSUM_OFFSET:
            out += [(f"{'UDP' if lay.l4_proto == IPPROTO_UDP else 'TCP'} segment", lay.l4, n)]
        for label, lo, _ in out:
            if lo % 2:
                raise ConfigError(f"the {label} starts at odd offset {lo}: fields can't vary in it")
        return out

    def l4_csum_offset(self) -> int | None:
        """Offset of the frame's UDP or TCP checksum, if it has one."""
        lay = self.layout
        if lay.l4 is None or lay.l4_proto is None or lay.l4_proto not in _L4_CSUM_OFFSET:
            return None
        return lay.l4 + _L4_CSUM_OFFSET[lay.l4_proto]

    def _length_fields(self) -> list[int]:
        """Offsets of the 16-bit length fields that follow the frame's length."""
        lay = self.layout
        at = [lay.l3 + (2 if lay.ip_version == 4 else 4)]
        if lay.l4 is not None and lay.l4_proto == IPPROTO_UDP:
            at.append(lay.l4 + 4)
        return at

    # --- base sums: the template with every varying field and the checksum zeroed ------------
    def _zeroed(self) -> bytearray:
        frame = bytearray(self.frame)
        for at in self._len_fields:
            frame[at : at + 2] = b"\0\0"
        for f in self.fields:
            frame[f.offset : f.offset + f.rows.shape[1]] = bytes(f.rows.shape[1])
        for c in self.counters:
            word = int.from_bytes(frame[c.offset : c.offset + c.width], "big") & ~c.mask
            frame[c.offset : c.offset + c.width] = word.to_bytes(c.width, "big")
        if self._seq_at is not None:
            frame[self._seq_at : self._seq_at + 16] = bytes(16)
        if self.random_from is not None:
            frame[self.random_from :] = bytes(len(frame) - self.random_from)
        return frame

    def _base_ip_sum(self) -> int:
        frame, l3 = self._zeroed(), self.layout.l3
        ihl = (frame[l3] & 0x0F) * 4
        frame[l3 + 10 : l3 + 12] = b"\0\0"
        return checksum.ones_sum(bytes(frame[l3 : l3 + ihl]))

    def _base_l4_sum(self) -> int:
        frame, lay = self._zeroed(), self.layout
        l4, proto, csum_at = lay.l4, lay.l4_proto, self._l4_csum_at
        assert l4 is not None and proto is not None and csum_at is not None  # as _l4_csum says
        frame[csum_at : csum_at + 2] = b"\0\0"
        if self._len_fields:  # the length goes in per frame: the pseudo-header's too, and the segment's sum
            pseudo = bytes(frame[lay.l3 + 12 : lay.l3 + 20] if lay.ip_version == 4 else frame[lay.l3 + 8 : lay.l3 + 40])
            # len_sums[len]: the segment l4..len summed (bytes at even offsets from l4 are high bytes)
            seg = np.frombuffer(bytes(frame[l4:]), dtype=np.uint8).astype(np.uint64)
            seg[0::2] <<= np.uint64(8)
            self._len_sums = np.zeros(len(frame) + 1, dtype=np.uint64)
            self._len_sums[l4 + 1 :] = np.cumsum(seg)
            return checksum.ones_sum(pseudo + struct.pack("!BB", 0, proto))
        if lay.ip_version == 4:
            total_len = struct.unpack_from("!H", frame, lay.l3 + 2)[0]
            seg_len = total_len - (l4 - lay.l3)
            pseudo = bytes(frame[lay.l3 + 12 : lay.l3 + 20]) + struct.pack("!BBH", 0, proto, seg_len)
        else:
            seg_len = struct.unpack_from("!H", frame, lay.l3 + 4)[0]
            pseudo = bytes(frame[lay.l3 + 8 : lay.l3 + 40]) + struct.pack("!IxxxB", seg_len, proto)
        segment = bytes(frame[l4 : l4 + seg_len])
        return checksum.ones_sum(pseudo) + checksum.ones_sum(segment)

    # --- per batch ---------------------------------------------------------------------------
    def write_template(self, umem: Umem, addrs: np.ndarray) -> None:
        """Copy the template into the frame at each address (once: after that, ``patch`` per batch)."""
        umem.write_rows(addrs, np.frombuffer(self.frame, dtype=np.uint8))

    def patch(self, umem: Umem, addrs: np.ndarray, index0: int, stream: int = 0, ts_ns: int = 0) -> None:
        """Write packet ``index0 + i``'s fields into frame ``addrs[i]`` and fix its checksums (one C call).

        The frames must be ones the caller owns (a Batch's ``addrs``), each at least as long as the template.
        """
        if len(addrs):
            offsets = umem.offsets_of(addrs)
            if int(addrs.max()) >= umem.size or int(offsets.max()) + len(self.frame) > umem.frame_size:
                raise ConfigError(f"a {len(self.frame)}-byte frame at one of these addresses runs past its UMEM frame")
        self._c.patch(umem, np.ascontiguousarray(addrs, dtype=np.uint64), index0, stream, ts_ns)

    def patch_numpy(self, umem: Umem, addrs: np.ndarray, index0: int, stream: int = 0, ts_ns: int = 0) -> None:
        """The same as ``patch`` in numpy: the reference implementation (random draws differ)."""
        n = len(addrs)
        if not n:
            return
        write = _row_writer(umem, addrs, len(self.frame))
        ip_sum = np.full(n, self._base_ip, dtype=np.uint64)
        l4_sum = np.full(n, self._base_l4, dtype=np.uint64)
        for f in self.fields:
            m = len(f.rows)
            idx = self._rng.integers(0, m, n) if self.random else (index0 + np.arange(n)) % m
            values = f.rows[idx]
            write(f.offset, values)
            if (self._ip_csum and f.in_ip_header) or (self._l4_csum and f.in_l4_sum):
                sums = checksum.row_sums(values)
                if self._ip_csum and f.in_ip_header:
                    ip_sum += sums
                if self._l4_csum and f.in_l4_sum:
                    l4_sum += sums
        if self._ring is not None and self._ring_sums is not None and self.random_from is not None:
            picks = self._rng.integers(0, RING, n)
            write(self.random_from, self._ring[picks])
            if self._l4_csum:
                l4_sum += self._ring_sums[picks, -1].astype(np.uint64)
        for c, (in_ip, in_l4) in zip(self.counters, self._counter_sums, strict=True):
            index = (self._rng.integers(0, c.count or (1 << 63), n, dtype=np.uint64) if c.random
                     else np.arange(index0, index0 + n, dtype=np.uint64))
            v = c.values(index) << np.uint64(c.shift)
            shifts = np.arange(c.width - 1, -1, -1, dtype=np.uint64) * np.uint64(8)
            old = umem.read_rows(addrs + c.offset, c.width).astype(np.uint64)
            word = (old << shifts).sum(axis=1, dtype=np.uint64) & np.uint64(~c.mask & ((1 << 64) - 1))
            write(c.offset, (((word | v)[:, None] >> shifts) & np.uint64(0xFF)).astype(np.uint8))
            share = ((v & np.uint64(0xFFFFFFFF)) + (v >> np.uint64(32))) << np.uint64(8 * ((c.offset + c.width) % 2))
            if self._ip_csum and in_ip:
                ip_sum += share
            if self._l4_csum and in_l4:
                l4_sum += share
        if self._seq_at is not None:
            seq_ts = np.empty((n, 2), dtype=">u8")
            seq_ts[:, 0] = (np.uint64(stream & 0xFF) << np.uint64(56)) | (
                np.arange(index0, index0 + n, dtype=np.uint64) & np.uint64((1 << 56) - 1)
            )
            seq_ts[:, 1] = ts_ns
            rows = seq_ts.view(np.uint8).reshape(n, 16)
            write(self._seq_at, rows)
            if self._l4_csum:
                l4_sum += checksum.row_sums(rows)
        if self._ip_csum:
            csum = checksum.finish(ip_sum).astype(">u2").view(np.uint8).reshape(n, 2)
            write(self.layout.l3 + 10, csum)
        if self._l4_csum_at is not None:
            csum = checksum.finish(l4_sum, zero_as_ffff=self.layout.l4_proto == IPPROTO_UDP)
            write(self._l4_csum_at, csum.astype(">u2").view(np.uint8).reshape(n, 2))


def _row_writer(umem: Umem, addrs: np.ndarray, extent: int) -> Callable[[int, np.ndarray], None]:
    """``write(offset, rows)`` for this batch, with the frame/offset arithmetic done once."""
    fidx, base = umem._rows(addrs, extent)
    if base is None:
        return lambda offset, rows: umem.write_rows(addrs + offset, rows)
    frames = umem.frames

    def write(offset: int, rows: np.ndarray) -> None:
        at = base + offset
        frames[fidx, at : at + rows.shape[1]] = rows

    return write


def varying_fields(
    frame: bytes,
    *,
    src_ip: np.ndarray | None = None,
    dst_ip: np.ndarray | None = None,
    src_port: np.ndarray | None = None,
    dst_port: np.ndarray | None = None,
    src_mac: np.ndarray | None = None,
) -> list[Field]:
    """Fields for the given value arrays, placed by the frame's layout (ranges of one value are skipped)."""
    lay = layout(frame)
    out: list[Field] = []
    if src_mac is not None and len(src_mac) > 1:
        out.append(Field("src_mac", 6, src_mac))
    for name, rows, v4_at, v6_at in (("src_ip", src_ip, 12, 8), ("dst_ip", dst_ip, 16, 24)):
        if rows is None or len(rows) <= 1:
            continue
        if lay.ip_version == 0 or rows.shape[1] != (4 if lay.ip_version == 4 else 16):
            raise ConfigError("the range does not match the frame's IP version", argument=name)
        at = lay.l3 + (v4_at if lay.ip_version == 4 else v6_at)
        out.append(Field(name, at, rows, in_ip_header=lay.ip_version == 4, in_l4_sum=True))
    for name, ports, at in (("src_port", src_port, 0), ("dst_port", dst_port, 2)):
        if ports is None or len(ports) <= 1:
            continue
        if lay.l4 is None or lay.l4_proto not in (IPPROTO_UDP, IPPROTO_TCP):
            raise ConfigError("a port range needs a UDP or TCP frame", argument=name)
        rows = ports.astype(">u2").view(np.uint8).reshape(-1, 2)
        out.append(Field(name, lay.l4 + at, rows, in_l4_sum=True))
    return out


class CPatcher:
    """The plan as C's ``struct xsk_patch_plan``, built once; keeps the value arrays alive for C.

    numpy does the same work (``PacketPlan.patch_numpy``) in about 15 calls of several
    microseconds each, ~1 µs per frame at 256 frames; ``xsk_pkt_patch`` writes every field, the
    sequence payload and both checksums of a batch in one call, a few ns per frame."""

    def __init__(self, plan: PacketPlan, seed: int | None) -> None:
        total = len(plan.fields) + len(plan.counters)
        if total > lib.XSK_PATCH_MAX_FIELDS:
            raise ConfigError(f"at most {lib.XSK_PATCH_MAX_FIELDS} varying fields, got {total}", argument="fields")
        c = ffi.new("struct xsk_patch_plan *")
        self._keep: list[np.ndarray] = []
        c.nfields, c.ncounters = len(plan.fields), len(plan.counters)
        c.random = 1 if plan.random else 0
        for i, f in enumerate(plan.fields):
            rows = np.ascontiguousarray(f.rows, dtype=np.uint8)
            if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] < 1:
                raise ConfigError(f"field {f.name} needs at least one value of at least one byte", argument="fields")
            if (f.in_ip_header or f.in_l4_sum) and rows.shape[1] % 2:
                raise ConfigError(f"field {f.name} is summed into a checksum, so its width must be even",
                                  argument="fields")
            self._keep.append(rows)
            fc = c.fields[i]
            fc.offset, fc.width, fc.count = f.offset, rows.shape[1], rows.shape[0]
            fc.flags = (lib.XSK_PATCH_IP_SUM if plan._ip_csum and f.in_ip_header else 0) | (
                lib.XSK_PATCH_L4_SUM if plan._l4_csum and f.in_l4_sum else 0)
            fc.values = ffi.from_buffer("uint8_t[]", rows)
        # lists after the other counters (patch.c walks them in a loop of their own)
        order = sorted(zip(plan.counters, plan._counter_sums, strict=True), key=lambda ks: ks[0].choices is not None)
        c.nlists = sum(1 for k in plan.counters if k.choices is not None)
        for i, (k, (in_ip, in_l4)) in enumerate(order, start=len(plan.fields)):
            fc = c.fields[i]
            fc.offset, fc.width = k.offset, k.width
            fc.start, fc.step, fc.n = k.start, k.step, k.count
            fc.mask, fc.shift = k.mask, k.shift
            fc.sum_shift = 8 * ((k.offset + k.width) % 2)
            full = k.mask == (1 << 8 * k.width) - 1
            if k.choices is not None:
                table = np.array(k.choices, dtype=np.uint64)
                self._keep.append(table)
                fc.list = ffi.from_buffer("uint64_t[]", table)
            fc.flags = (lib.XSK_PATCH_COUNTER | (lib.XSK_PATCH_RANDOM if k.random else 0)
                        | (lib.XSK_PATCH_LIST if k.choices is not None else 0)
                        | (0 if full else lib.XSK_PATCH_MASKED)
                        | (lib.XSK_PATCH_IP_SUM if plan._ip_csum and in_ip else 0)
                        | (lib.XSK_PATCH_L4_SUM if plan._l4_csum and in_l4 else 0))
        lay = plan.layout
        c.seq_at = -1 if plan._seq_at is None else plan._seq_at
        c.ip_csum_at = lay.l3 + 10 if plan._ip_csum else -1
        c.l4_csum_at = -1 if plan._l4_csum_at is None else plan._l4_csum_at
        c.zero_as_ffff = 1 if lay.l4_proto == 17 else 0
        c.base_ip, c.base_l4 = plan._base_ip, plan._base_l4
        c.rng = ((seed or 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF) | 1
        c.ip_len_at = c.udp_len_at = -1
        if plan._len_fields:
            c.ip_len_at = plan._len_fields[0]
            c.ip_len_sub = lay.l3 if lay.ip_version == 4 else lay.l3 + 40
            c.ip_len_summed = 1 if lay.ip_version == 4 else 0
            c.l4_at = lay.l4 if lay.l4 is not None else 0
            c.udp_len_at = plan._len_fields[1] if len(plan._len_fields) > 1 else -1
        if plan._len_sums is not None:
            self._keep.append(plan._len_sums)
            c.len_sums = ffi.from_buffer("uint64_t[]", plan._len_sums)
            c.len_sums_n = len(plan._len_sums)
        if plan._ring is not None and plan._ring_sums is not None and plan.random_from is not None:
            ring, sums = np.ascontiguousarray(plan._ring), np.ascontiguousarray(plan._ring_sums)
            self._keep += [ring, sums]
            c.ring, c.ring_sums = ffi.from_buffer("uint8_t[]", ring), ffi.from_buffer("uint32_t[]", sums)
            c.ring_n, c.ring_len, c.ring_at = RING, ring.shape[1], plan.random_from
        lib.xsk_patch_ready(c)
        self.c = c

    def patch(self, umem: Umem, addrs: np.ndarray, index0: int, stream: int, ts_ns: int) -> None:
        lib.xsk_pkt_patch(self.c, umem.area_pointer(), ffi.from_buffer("uint64_t[]", addrs), len(addrs),
                           index0, stream, ts_ns)
