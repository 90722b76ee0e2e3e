"""A capture as a profile's stream: its frames sent in order, in a cycle, at the stream's rate.

``capture_rows`` reads a pcap or pcapng file (``xsk.pcap``) once, in the process that resolves
the profile, and lays its frames out as ``CaptureRows``: zero-padded rows and their lengths,
plain arrays that workers get pickled. The scheduler (``xsk_mix_fill``, mix.c) copies row
``k mod n`` into the UMEM frame of the stream's packet ``k``; the frame is sent as captured,
at the captured length.

With a sequence header asked for (``seq = true``), every frame must be IPv4 or IPv6 UDP/TCP with
at least ``SEQ_LEN`` bytes of payload inside its IP length: the header overwrites the payload's
first 18 bytes (magic, stream and counter, transmit time), and the UDP/TCP checksum is fixed per
frame from the row's sum with those bytes zeroed (``base``) plus the 16 bytes written, as the
template streams' patcher does (RFC 1624). An IPv4 UDP frame without a checksum (0) keeps none.
Without ``seq`` nothing in the frames changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checksum, pcap
from ..errors import ConfigError
from ._fields import _L4_CSUM_OFFSET, IPPROTO_UDP, SEQ_LEN, SEQ_MAGIC, layout

MIN_FRAME = 14


@dataclass
class CaptureRows:
    """A capture's frames as rows (picklable): ``frames`` (n, stride) uint8 zero-padded, ``lens``
    uint32; with a sequence header, per row ``seq_at`` (where the 16 bytes of counter and time go,
    after the magic already in the row), ``csum_at`` (the UDP/TCP checksum to fix, -1: none),
    ``base`` (the segment's unfolded sum with those 16 bytes and the checksum zeroed) and ``udp``
    (1: a computed 0 goes out as 0xffff). ``path`` names the file."""

    path: str
    frames: np.ndarray
    lens: np.ndarray
    seq_at: np.ndarray | None = None
    csum_at: np.ndarray | None = None
    base: np.ndarray | None = None
    udp: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lens)


def capture_rows(path: str | os.PathLike[str], *, seq: bool, frame_size: int) -> CaptureRows:
    """The capture at ``path`` as rows, each frame checked to fit a ``frame_size``-byte UMEM frame,
    with a sequence header's room checked and prepared when ``seq``. ConfigError (argument ``pcap``
    or ``seq``) for a missing, malformed or empty file, a frame too short or too long, or a frame
    without room for the header."""
    from ._limits import umem_fit

    name = str(path)
    try:
        capture = pcap.read(name)
    except ConfigError as exc:
        raise ConfigError(exc.reason, argument="pcap") from None
    if not len(capture):
        raise ConfigError(f"{name} holds no frames", argument="pcap")
    lens = np.array([len(f) for f in capture.frames], dtype=np.uint32)
    if int(lens.min()) < MIN_FRAME:
        at = int(np.argmin(lens))
        raise ConfigError(f"{name}: frame {at} is {int(lens[at])} bytes, shorter than an Ethernet header",
                          argument="pcap")
    if int(lens.max()) > frame_size:
        at = int(np.argmax(lens))
        raise ConfigError(f"{name}: frame {at} is {int(lens[at])} bytes, larger than the {frame_size}-byte UMEM "
                          f"frame: {umem_fit(int(lens[at]), frame_size)}", argument="pcap")
    frames, _ = capture.rows()
    rows = CaptureRows(name, frames, lens)
    if seq:
        _with_seq(rows)
    return rows


def _with_seq(rows: CaptureRows) -> None:
    n = len(rows)
    rows.seq_at = np.empty(n, dtype=np.int32)
    rows.csum_at = np.empty(n, dtype=np.int32)
    rows.base = np.empty(n, dtype=np.uint64)
    rows.udp = np.empty(n, dtype=np.uint8)
    for k in range(n):
        frame = bytes(rows.frames[k, : int(rows.lens[k])])
        at, csum_at, base = _seq_place(frame, rows.path, k)
        rows.frames[k, at : at + len(SEQ_MAGIC)] = np.frombuffer(SEQ_MAGIC, dtype=np.uint8)
        rows.seq_at[k], rows.csum_at[k], rows.base[k] = at + len(SEQ_MAGIC), csum_at, base
        rows.udp[k] = 1 if layout(frame).l4_proto == IPPROTO_UDP else 0


def _seq_place(frame: bytes, path: str, k: int) -> tuple[int, int, int]:
    """Where frame ``k``'s sequence header goes, its checksum's offset (-1: none kept) and the
    segment's sum with the header's counter and time and the checksum zeroed (the magic in)."""
    lay = layout(frame)
    if lay.payload is None or lay.l4 is None or lay.l4_proto not in _L4_CSUM_OFFSET:
        raise ConfigError(f"{path}: frame {k} is not UDP or TCP over IP, so it has no payload for the sequence "
                          "header: seq = false sends the capture as it is", argument="seq")
    if lay.ip_version == 4:
        ip_end = lay.l3 + int.from_bytes(frame[lay.l3 + 2 : lay.l3 + 4], "big")
        pseudo_addrs = frame[lay.l3 + 12 : lay.l3 + 20]
    else:
        ip_end = lay.l3 + 40 + int.from_bytes(frame[lay.l3 + 4 : lay.l3 + 6], "big")
        pseudo_addrs = frame[lay.l3 + 8 : lay.l3 + 40]
    if ip_end > len(frame) or lay.payload + SEQ_LEN > ip_end:
        room = max(0, min(ip_end, len(frame)) - lay.payload)
        raise ConfigError(f"{path}: frame {k} has {room} bytes of UDP/TCP payload, fewer than the {SEQ_LEN} the "
                          "sequence header needs: seq = false sends the capture as it is", argument="seq")
    csum_at = lay.l4 + _L4_CSUM_OFFSET[lay.l4_proto]
    if lay.l4_proto == IPPROTO_UDP and lay.ip_version == 4 and frame[csum_at : csum_at + 2] == b"\0\0":
        return lay.payload, -1, 0  # an IPv4 UDP datagram without a checksum stays without one
    seg = bytearray(frame[lay.l4 : ip_end])
    seg[lay.payload - lay.l4 : lay.payload - lay.l4 + len(SEQ_MAGIC)] = SEQ_MAGIC
    seq_rel = lay.payload - lay.l4 + len(SEQ_MAGIC)
    seg[seq_rel : seq_rel + 16] = bytes(16)
    seg[csum_at - lay.l4 : csum_at - lay.l4 + 2] = b"\0\0"
    length = len(seg)
    if lay.ip_version == 4:
        pseudo = pseudo_addrs + bytes([0, lay.l4_proto]) + length.to_bytes(2, "big")
    else:
        pseudo = pseudo_addrs + length.to_bytes(4, "big") + bytes([0, 0, 0, lay.l4_proto])
    return lay.payload, csum_at, checksum.ones_sum(bytes(pseudo)) + checksum.ones_sum(bytes(seg))


__all__ = ["CaptureRows", "capture_rows"]
