"""Batch-level header parsing: Ethernet, VLAN, IPv4, IPv6, UDP and TCP into numpy arrays.

``parse(batch)`` reads the first bytes of every frame straight from the UMEM in one C call
and returns a ``Headers`` whose fields are arrays with one entry per frame. Offsets are
from the start of each frame's data; -1 (or 0 for values) where a header is absent.
Frames are not modified. ``parse_rows`` is the same parser in numpy, for frame bytes
already copied out (and the reference the C one is tested against).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._binding import ffi, lib, struct_dtype

if TYPE_CHECKING:
    from .batch import Batch

HEAD = int(lib.XSK_PKT_HEAD)  # bytes read of each frame: Ethernet, 2 VLAN tags, IPv6, TCP with options

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806


@dataclass
class Headers:
    """Per-frame header fields of a batch (each an array of length n)."""

    ethertype: np.ndarray  # after VLAN tags
    vlan: np.ndarray  # outer VLAN id, -1 if untagged
    l3: np.ndarray  # offset of the IP (or ARP) header
    ip_version: np.ndarray  # 4, 6 or 0
    proto: np.ndarray  # IP protocol / IPv6 next header, 0 if not IP
    src_ip4: np.ndarray  # uint32, host order, 0 if not IPv4
    dst_ip4: np.ndarray
    src_ip6: np.ndarray  # (n, 16) uint8, zeros if not IPv6
    dst_ip6: np.ndarray
    l4: np.ndarray  # offset of the UDP/TCP/ICMP header, -1 if none
    src_port: np.ndarray  # UDP/TCP, 0 otherwise
    dst_port: np.ndarray
    payload: np.ndarray  # offset of the UDP/TCP payload, -1 if none
    lens: np.ndarray  # frame lengths

    def __len__(self) -> int:
        return len(self.lens)

    @property
    def udp(self) -> np.ndarray:
        """Which frames are UDP with their header in place."""
        mask: np.ndarray = (self.proto == 17) & (self.l4 >= 0)
        return mask

    @property
    def tcp(self) -> np.ndarray:
        """Which frames are TCP with their header in place."""
        mask: np.ndarray = (self.proto == 6) & (self.l4 >= 0)
        return mask


def _u16(rows: np.ndarray, r: np.ndarray, at: np.ndarray, lim: np.ndarray) -> np.ndarray:
    """The big-endian u16 at ``at`` of each row, 0 where it doesn't lie wholly inside the frame."""
    inside = at + 2 <= lim
    at = np.clip(at, 0, rows.shape[1] - 2)
    return np.where(inside, rows[r, at].astype(np.int64) << 8 | rows[r, at + 1], 0)


def parse_rows(rows: np.ndarray, lens: np.ndarray) -> Headers:
    """Parse (n, k) frame-prefix rows (k <= HEAD is padded) with their true lengths."""
    n = len(lens)
    lens = np.asarray(lens, dtype=np.int64)
    if rows.shape[1] < HEAD:
        rows = np.pad(rows, ((0, 0), (0, HEAD - rows.shape[1])))
    r = np.arange(n)
    lim = np.minimum(lens, HEAD)
    at = np.full(n, 12, dtype=np.int64)
    vlan = np.full(n, -1, dtype=np.int64)
    for _ in range(2):
        et = _u16(rows, r, at, lim)
        tagged = ((et == 0x8100) | (et == 0x88A8)) & (at + 6 <= lens)
        vlan = np.where(tagged & (vlan < 0), _u16(rows, r, at + 2, lim) & 0x0FFF, vlan)
        at = np.where(tagged, at + 4, at)
    ethertype = _u16(rows, r, at, lim)
    l3 = at + 2
    is4 = (ethertype == ETH_P_IP) & (l3 + 20 <= lens)
    is6 = (ethertype == ETH_P_IPV6) & (l3 + 40 <= lens)
    l3c = np.clip(l3, 0, HEAD - 41)
    ihl = (rows[r, l3c] & 0x0F).astype(np.int64) * 4
    proto = np.where(is4, rows[r, l3c + 9], np.where(is6, rows[r, l3c + 6], 0)).astype(np.int64)
    ip4 = rows[r[:, None], l3c[:, None] + np.arange(12, 20)]
    ip4 = np.ascontiguousarray(ip4).view(">u4").astype(np.uint32)
    src_ip4 = np.where(is4, ip4[:, 0], 0).astype(np.uint32)
    dst_ip4 = np.where(is4, ip4[:, 1], 0).astype(np.uint32)
    ip6 = rows[r[:, None], l3c[:, None] + np.arange(8, 40)] * is6[:, None]
    l4 = np.where(is4 & (ihl >= 20), l3 + ihl, np.where(is6, l3 + 40, -1))
    ports_ok = ((proto == 17) | (proto == 6)) & (l4 >= 0) & (l4 + 8 <= lens) & (l4 + 4 <= HEAD)
    src_port = np.where(ports_ok, _u16(rows, r, l4, lim), 0)
    dst_port = np.where(ports_ok, _u16(rows, r, l4 + 2, lim), 0)
    tcp_off = np.where(l4 + 12 < lim, rows[r, np.clip(l4 + 12, 0, HEAD - 1)] >> 4, 0).astype(np.int64) * 4
    payload = np.where(ports_ok & (proto == 17), l4 + 8, np.where(ports_ok & (proto == 6), l4 + tcp_off, -1))
    payload = np.where(payload > lens, -1, payload)
    return Headers(ethertype, vlan, l3, np.where(is4, 4, np.where(is6, 6, 0)), np.where(is4 | is6, proto, 0),
                   src_ip4, dst_ip4, ip6[:, :16].astype(np.uint8), ip6[:, 16:].astype(np.uint8),
                   np.where(is4 | is6, l4, -1), src_port, dst_port, payload, lens)


_HDR = struct_dtype("struct xsk_hdr")  # one record per frame, as xsk_pkt_parse writes them


def parse(batch: Batch) -> Headers:
    """Headers of every frame in a Batch (reads at most HEAD bytes of each, in place).

    The arrays are views of one record array: offsets and VLAN ids are int32, ports and
    EtherTypes uint16, addresses uint32 (host order) or (n, 16) uint8.
    """
    batch._live()
    n = len(batch)
    out = np.empty(n, dtype=_HDR)
    lens = np.ascontiguousarray(batch._lens, dtype=np.uint32)
    if n:
        umem = batch._umem
        lib.xsk_pkt_parse(umem._area_ptr(), ffi.from_buffer("uint64_t[]", batch._addrs),
                           ffi.from_buffer("uint32_t[]", lens), n, umem.frame_size,
                           ffi.cast("struct xsk_hdr *", ffi.from_buffer(out)))
    return Headers(out["ethertype"], out["vlan"], out["l3"], out["ip_version"], out["proto"],
                   out["src_ip4"], out["dst_ip4"], out["src_ip6"], out["dst_ip6"], out["l4"],
                   out["src_port"], out["dst_port"], out["payload"], lens)
