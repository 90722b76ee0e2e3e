"""pcap and pcapng, read strictly and written in batches.

Reading checks every length against the file before trusting it: a malformed or
truncated file raises ``PcapError`` naming the record and byte offset, never an
IndexError or a hang. Only Ethernet link types are accepted (what AF_XDP carries).

Writing takes a whole batch at a time: record headers and frame bytes are laid out
with numpy (no Python loop per packet), then written with one ``write``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .errors import ConfigError

LINKTYPE_ETHERNET = 1
MAX_SNAPLEN = 262144
PCAP_MAGIC_US, PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_SPB, PCAPNG_OPB = 0x0A0D0D0A, 1, 6, 3, 2
BYTE_ORDER_MAGIC = 0x1A2B3C4D


class PcapError(ConfigError):
    """The file is not a well-formed pcap/pcapng capture of Ethernet frames."""


@dataclass
class Capture:
    """Frames and their timestamps (ns since the epoch), in file order."""

    frames: list[bytes]
    timestamps_ns: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The frames as zero-padded (n, longest) uint8 rows, and their lengths (for batch copies)."""
        width = max((len(f) for f in self.frames), default=0)
        store = np.zeros((len(self.frames), width), dtype=np.uint8)
        for i, f in enumerate(self.frames):
            store[i, : len(f)] = np.frombuffer(f, dtype=np.uint8)
        return store, np.array([len(f) for f in self.frames], dtype=np.uint32)


def read(path: str) -> Capture:
    """All frames of a pcap or pcapng file; PcapError if anything about it is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise PcapError(f"can't read {path}: {exc.strerror}") from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: str = "<bytes>") -> Capture:
    """All frames of a pcap or pcapng file's contents (``path`` names it in errors); PcapError if
    anything about it is wrong, and never anything else (``tools/fuzz pcap`` checks that)."""
    if len(data) < 4:
        raise PcapError(f"{path}: {len(data)} bytes is too short for a capture file")
    magic_le = struct.unpack_from("<I", data)[0]
    if magic_le == PCAPNG_SHB:
        return _read_pcapng(path, data)
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", data)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return _read_pcap(path, data, endian, magic == PCAP_MAGIC_NS)
    raise PcapError(f"{path}: not a pcap or pcapng file (magic {data[:4].hex()})")


def _read_pcap(path: str, data: bytes, endian: str, nanos: bool) -> Capture:
    if len(data) < 24:
        raise PcapError(f"{path}: truncated pcap header ({len(data)} of 24 bytes)")
    _, _major, _minor, _tz, _sig, snaplen, linktype = struct.unpack_from(endian + "IHHiIII", data)
    if linktype & 0xFFFF != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: link type {linktype} is not Ethernet (1)")
    limit = min(snaplen or MAX_SNAPLEN, MAX_SNAPLEN)
    frames, stamps = [], []
    pos, record = 24, 0
    unit = 1 if nanos else 1000
    while pos < len(data):
        if pos + 16 > len(data):
            raise PcapError(f"{path}: record {record} at byte {pos}: truncated header")
        sec, frac, caplen, _origlen = struct.unpack_from(endian + "IIII", data, pos)
        if caplen > limit:
            raise PcapError(f"{path}: record {record} at byte {pos}: {caplen} bytes exceeds the snap length {limit}")
        if pos + 16 + caplen > len(data):
            raise PcapError(
                f"{path}: record {record} at byte {pos}: truncated ({len(data) - pos - 16} of {caplen} bytes)"
            )
        frames.append(data[pos + 16 : pos + 16 + caplen])
        stamps.append(sec * 1_000_000_000 + frac * unit)
        pos += 16 + caplen
        record += 1
    return Capture(frames, np.array(stamps, dtype=np.int64))


def _read_pcapng(path: str, data: bytes) -> Capture:
    frames, stamps = [], []
    endian = "<"
    interfaces: list[tuple[int, int, int]] = []  # (linktype, ticks per second, snap length; 0: none)
    pos, block = 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise PcapError(f"{path}: block {block} at byte {pos}: truncated header")
        btype = struct.unpack_from(endian + "I", data, pos)[0]
        if btype == PCAPNG_SHB:
            if pos + 12 > len(data):
                raise PcapError(f"{path}: truncated section header at byte {pos}")
            bom = data[pos + 8 : pos + 12]
            if bom == struct.pack("<I", BYTE_ORDER_MAGIC):
                endian = "<"
            elif bom == struct.pack(">I", BYTE_ORDER_MAGIC):
                endian = ">"
            else:
                raise PcapError(f"{path}: section header at byte {pos} has a bad byte-order magic")
            interfaces = []
        blen = struct.unpack_from(endian + "I", data, pos + 4)[0]
        if blen < 12 or blen % 4 or pos + blen > len(data):
            raise PcapError(f"{path}: block {block} at byte {pos}: bad or truncated length {blen}")
        if struct.unpack_from(endian + "I", data, pos + blen - 4)[0] != blen:
            raise PcapError(f"{path}: block {block} at byte {pos}: trailing length does not match")
        body = data[pos + 8 : pos + blen - 4]
        if btype == PCAPNG_IDB:
            if len(body) < 8:
                raise PcapError(f"{path}: interface block at byte {pos} is too short")
            linktype, _, snaplen = struct.unpack_from(endian + "HHI", body)
            interfaces.append((linktype, _ticks_per_second(body[8:], endian), snaplen))
        elif btype == PCAPNG_EPB:
            if len(body) < 20:
                raise PcapError(f"{path}: packet block at byte {pos} is too short")
            iface, hi, lo, caplen, _orig = struct.unpack_from(endian + "IIIII", body)
            if iface >= len(interfaces):
                raise PcapError(f"{path}: packet block at byte {pos} names interface {iface}, which is not defined")
            linktype, tps, snaplen = interfaces[iface]
            if linktype != LINKTYPE_ETHERNET:
                raise PcapError(f"{path}: interface {iface} has link type {linktype}, not Ethernet (1)")
            limit = min(snaplen or MAX_SNAPLEN, MAX_SNAPLEN)
            if caplen > limit:
                raise PcapError(f"{path}: packet block at byte {pos}: {caplen} bytes exceeds the snap length {limit}")
            if 20 + caplen > len(body):
                raise PcapError(f"{path}: packet block at byte {pos}: captured length {caplen} overruns the block")
            frames.append(body[20 : 20 + caplen])
            ns = ((hi << 32) | lo) * 1_000_000_000 // tps
            if ns >= 1 << 63:
                raise PcapError(f"{path}: packet block at byte {pos}: timestamp out of range")
            stamps.append(ns)
        elif btype == PCAPNG_SPB:
            if not interfaces or interfaces[0][0] != LINKTYPE_ETHERNET:
                raise PcapError(f"{path}: simple packet block at byte {pos} without an Ethernet interface")
            if len(body) < 4:
                raise PcapError(f"{path}: simple packet block at byte {pos} is too short")
            orig = struct.unpack_from(endian + "I", body)[0]
            caplen = min(orig, interfaces[0][2] or orig)  # the format's rule: the snap length cuts it
            if caplen > MAX_SNAPLEN:
                raise PcapError(f"{path}: simple packet block at byte {pos}: {caplen} bytes exceeds the snap length "
                                f"{MAX_SNAPLEN}")
            caplen = min(caplen, len(body) - 4)
            frames.append(body[4 : 4 + caplen])
            stamps.append(stamps[-1] if stamps else 0)
        pos += blen
        block += 1
    return Capture(frames, np.array(stamps, dtype=np.int64))


def _ticks_per_second(options: bytes, endian: str) -> int:
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 5 <= len(options):  # if_tsresol
            v = options[pos + 4]
            return int(2 ** (v & 0x7F) if v & 0x80 else 10**v)
        pos += 4 + ((length + 3) & ~3)
    return 1_000_000


class Writer:
    """Writes batches of Ethernet frames as pcap (nanosecond timestamps) or pcapng."""

    def __init__(self, path: str, pcapng: bool = False, snaplen: int = MAX_SNAPLEN) -> None:
        self.path = path
        self.pcapng = pcapng
        self.count = 0
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        if pcapng:
            shb_body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
            self._file.write(struct.pack("<II", PCAPNG_SHB, 12 + len(shb_body)) + shb_body
                             + struct.pack("<I", 12 + len(shb_body)))
            # if_tsresol = 9: nanoseconds
            opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
            idb_body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen) + opts
            self._file.write(struct.pack("<II", PCAPNG_IDB, 12 + len(idb_body)) + idb_body
                             + struct.pack("<I", 12 + len(idb_body)))
        else:
            self._file.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))

    def write_batch(self, rows: np.ndarray, lens: np.ndarray, ts_ns: np.ndarray | int) -> None:
        """Write ``lens[i]`` bytes of ``rows[i]`` ((n, k) uint8) for each frame, stamped ``ts_ns``."""
        n = len(lens)
        if not n:
            return
        lens = lens.astype(np.int64)
        ts = np.broadcast_to(np.asarray(ts_ns, dtype=np.int64), (n,))
        if self.pcapng:
            padded = (lens + 3) & ~3
            hdr_len, trailer = 28, 4
            sizes = hdr_len + padded + trailer
            hdr = np.zeros(n, dtype=[("type", "<u4"), ("blen", "<u4"), ("iface", "<u4"), ("hi", "<u4"),
                                     ("lo", "<u4"), ("cap", "<u4"), ("orig", "<u4")])
            hdr["type"], hdr["blen"] = PCAPNG_EPB, sizes
            hdr["hi"], hdr["lo"] = ts >> 32, ts & 0xFFFFFFFF
            hdr["cap"] = hdr["orig"] = lens
        else:
            padded = lens
            hdr_len, trailer = 16, 0
            sizes = hdr_len + lens
            hdr = np.zeros(n, dtype=[("sec", "<u4"), ("nsec", "<u4"), ("cap", "<u4"), ("orig", "<u4")])
            hdr["sec"], hdr["nsec"] = ts // 1_000_000_000, ts % 1_000_000_000
            hdr["cap"] = hdr["orig"] = lens
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        out = np.zeros(int(sizes.sum()), dtype=np.uint8)
        out[starts[:, None] + np.arange(hdr_len)] = hdr.view(np.uint8).reshape(n, hdr_len)
        # frame bytes: for frame i, positions starts[i]+hdr_len .. +lens[i]
        mask = np.arange(rows.shape[1]) < lens[:, None]
        data_pos = (starts + hdr_len)[:, None] + np.arange(rows.shape[1])
        out[data_pos[mask]] = rows[mask]
        if trailer:
            out[(starts + sizes - 4)[:, None] + np.arange(4)] = sizes.astype("<u4").view(np.uint8).reshape(n, 4)
        self._file.write(out.tobytes())
        self.count += n

    def write(self, frames: list[bytes], ts_ns: np.ndarray | int) -> None:
        """Write a list of frames (convenience for small inputs)."""
        if not frames:
            return
        width = max(len(f) for f in frames)
        rows = np.zeros((len(frames), width), dtype=np.uint8)
        for i, f in enumerate(frames):
            rows[i, : len(f)] = np.frombuffer(f, dtype=np.uint8)
        self.write_batch(rows, np.array([len(f) for f in frames]), ts_ns)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
