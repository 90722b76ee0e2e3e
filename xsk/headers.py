"""Batch-level header parsing: Ethernet, VLAN, IPv4, IPv6, UDP and TCP into numpy arrays.

``parse(batch)`` reads the first bytes of every frame straight from the UMEM in one C call
and returns a ``Headers`` whose fields are arrays with one entry per frame. Frames are not
modified. ``parse_rows`` is the same parser in numpy, for frame bytes already copied out (and
the reference the C one is tested against).

=================  ===============  ===========================================================
field              dtype            meaning (offsets in bytes from the start of the frame's data,
                                    i.e. from ``batch.addrs[i]``; -1 / 0 where absent)
=================  ===============  ===========================================================
``ethertype``      uint16           EtherType after up to two VLAN tags (802.1Q, 802.1ad)
``vlan``           int32            outer VLAN id; -1 when untagged
``l3``             int32            offset of the IP (or ARP) header
``ip_version``     uint8            4, 6, or 0 when not IP
``proto``          uint8            IPv4 protocol / IPv6 next header; 0 when not IP
``src_ip4``        uint32           IPv4 source address, host order; 0 when not IPv4
``dst_ip4``        uint32           IPv4 destination address, host order; 0 when not IPv4
``src_ip6``        (n, 16) uint8    IPv6 source address bytes; zeros when not IPv6
``dst_ip6``        (n, 16) uint8    IPv6 destination address bytes; zeros when not IPv6
``l4``             int32            offset of the UDP/TCP/ICMP header; -1 when none
``src_port``       uint16           UDP/TCP source port; 0 otherwise
``dst_port``       uint16           UDP/TCP destination port; 0 otherwise
``udp_len``        uint16           the UDP header's length field (header + payload, as the
                                    sender wrote it: compare with ``lens - l4``); 0 unless UDP
``payload``        int32            offset of the UDP/TCP payload; -1 when none
``l4_csum``        uint8            CSUM_NONE/OK/PARTIAL/BAD, with ``verify_checksums=True``
``udp``, ``tcp``   bool             UDP (TCP) with its header in the frame (computed once)
``lens``           uint32           the batch's own lengths (the same array as ``batch.lens``)
=================  ===============  ===========================================================

The field arrays are views of one record array per batch (``records()``, ``struct xsk_hdr``),
valid as long as the Headers object; they describe the frames as they were when parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._binding import CData, ffi, lib, struct_dtype
from .errors import ConfigError

if TYPE_CHECKING:
    from ._batch import Batch

HEAD = int(lib.XSK_PKT_HEAD)  # bytes read of each frame: Ethernet, 2 VLAN tags, IPv6, TCP with options

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
CSUM_NONE, CSUM_OK, CSUM_PARTIAL, CSUM_BAD = (int(lib.XSK_CSUM_NONE), int(lib.XSK_CSUM_OK),
                                             int(lib.XSK_CSUM_PARTIAL), int(lib.XSK_CSUM_BAD))
# The states as uint8 scalars: comparing the uint8 column with these skips a Python int's conversion.
_OK, _PARTIAL, _BAD = np.uint8(CSUM_OK), np.uint8(CSUM_PARTIAL), np.uint8(CSUM_BAD)


_FIELDS = ("ethertype", "vlan", "l3", "ip_version", "proto", "src_ip4", "dst_ip4", "src_ip6", "dst_ip6", "l4",
           "src_port", "dst_port", "payload", "udp_len")


def _field(name: str, doc: str) -> Any:
    def get(self: Headers) -> np.ndarray:
        value = self._arrays.get(name)
        if value is None:
            value = self._arrays[name] = self.records()[name]
        return value

    return property(get, doc=doc)


class Headers:
    """Per-frame header fields of a batch (each an array of length n).

    Made by :func:`parse` over one record array per batch (a field is a view of it, made when
    first read), or from separate arrays (:func:`parse_rows`, or your own). ``records()`` is
    the record array the C helpers in :mod:`xsk.replies` take.
    """

    __slots__ = ("_arrays", "_records", "_records_c", "_verified", "lens")

    ethertype = _field("ethertype", "EtherType after VLAN tags")
    vlan = _field("vlan", "outer VLAN id, -1 if untagged")
    l3 = _field("l3", "offset of the IP (or ARP) header")
    ip_version = _field("ip_version", "4, 6 or 0")
    proto = _field("proto", "IP protocol / IPv6 next header, 0 if not IP")
    src_ip4 = _field("src_ip4", "uint32, host order, 0 if not IPv4")
    dst_ip4 = _field("dst_ip4", "uint32, host order, 0 if not IPv4")
    src_ip6 = _field("src_ip6", "(n, 16) uint8, zeros if not IPv6")
    dst_ip6 = _field("dst_ip6", "(n, 16) uint8, zeros if not IPv6")
    l4 = _field("l4", "offset of the UDP/TCP/ICMP header, -1 if none")
    src_port = _field("src_port", "UDP/TCP source port, 0 otherwise")
    dst_port = _field("dst_port", "UDP/TCP destination port, 0 otherwise")
    payload = _field("payload", "offset of the UDP/TCP payload, -1 if none")
    udp_len = _field("udp_len", "the UDP header's length field (header + payload), 0 unless UDP")

    def __init__(self, ethertype: np.ndarray, vlan: np.ndarray, l3: np.ndarray, ip_version: np.ndarray,
                 proto: np.ndarray, src_ip4: np.ndarray, dst_ip4: np.ndarray, src_ip6: np.ndarray,
                 dst_ip6: np.ndarray, l4: np.ndarray, src_port: np.ndarray, dst_port: np.ndarray,
                 payload: np.ndarray, lens: np.ndarray, udp_len: np.ndarray | None = None) -> None:
        if udp_len is None:  # Headers made by hand before the field existed
            udp_len = np.zeros(len(lens), dtype=np.uint16)
        self._arrays: dict[str, np.ndarray] = dict(zip(_FIELDS, (
            ethertype, vlan, l3, ip_version, proto, src_ip4, dst_ip4, src_ip6, dst_ip6, l4, src_port, dst_port,
            payload, udp_len), strict=True))
        self._records: np.ndarray | None = None
        self._records_c: CData | None = None
        self._verified = False
        self.lens = lens

    @classmethod
    def _of_records(cls, records: np.ndarray, lens: np.ndarray, records_c: CData) -> Headers:
        self = cls.__new__(cls)
        self._arrays = {}
        self._records = records
        self._records_c = records_c
        self._verified = False
        self.lens = lens
        return self

    def records(self) -> np.ndarray:
        """The fields as one ``struct xsk_hdr`` record per frame (made once from separate arrays)."""
        if self._records is None:
            rec = np.zeros(len(self.lens), dtype=_HDR)
            for name in _FIELDS:
                rec[name] = self._arrays[name]
            rec["udp"] = (rec["proto"] == 17) & (rec["l4"] >= 0)  # as the C parser sets them
            rec["tcp"] = (rec["proto"] == 6) & (rec["l4"] >= 0)
            self._records = rec
        return self._records

    def _c(self) -> CData:
        """A ``struct xsk_hdr *`` to the records, for the C helpers (made once)."""
        if self._records_c is None:
            self._records_c = ffi.from_buffer("struct xsk_hdr[]", self.records())
        return self._records_c

    def _proto_mask(self, key: str) -> np.ndarray:
        mask = self._arrays.get(key)
        if mask is None:
            # written by the parse (records() of separate arrays: computed); copied out of the
            # records once, so the mask is a contiguous array of its own, as users pass it on
            mask = np.ascontiguousarray(self.records()[key])
            mask.flags.writeable = False  # shared by every reader of this property: combine, don't modify
            self._arrays[key] = mask
        return mask

    def __len__(self) -> int:
        return len(self.lens)

    @property
    def udp(self) -> np.ndarray:
        """Which frames are UDP with their header in place (computed once per Headers, read-only)."""
        return self._proto_mask("udp")

    @property
    def tcp(self) -> np.ndarray:
        """Which frames are TCP with their header in place (computed once per Headers, read-only)."""
        return self._proto_mask("tcp")

    @property
    def l4_csum(self) -> np.ndarray:
        """Each frame's UDP/TCP checksum state (uint8): CSUM_NONE (no UDP/TCP, or IPv4 UDP sent
        without one), CSUM_OK, CSUM_PARTIAL (only the pseudo-header sum: a local sender left it
        to checksum offload) or CSUM_BAD. Needs ``parse(batch, verify_checksums=True)``."""
        if not self._verified:
            raise ConfigError("checksums were not verified: parse the batch with verify_checksums=True",
                              argument="verify_checksums")
        state = self._arrays.get("l4_csum")
        if state is None:
            state = self._arrays["l4_csum"] = self.records()["l4_csum"]
        return state

    @property
    def l4_csum_ok(self) -> np.ndarray:
        """Frames whose UDP/TCP checksum is valid, or that carry none (CSUM_OK or CSUM_NONE)."""
        ok: np.ndarray = self.l4_csum <= _OK
        return ok

    @property
    def l4_csum_partial(self) -> np.ndarray:
        """Frames whose UDP/TCP checksum holds only the pseudo-header sum (CSUM_PARTIAL): sent by a
        local socket over a link with TX checksum offload on (a veth made by ``ip link``, as
        containers have). Valid once the sum is finished: ``replies.finish_partial_checksums``."""
        partial: np.ndarray = self.l4_csum == _PARTIAL
        return partial

    @property
    def l4_csum_bad(self) -> np.ndarray:
        """Frames whose UDP/TCP checksum is wrong or whose datagram runs past the frame (CSUM_BAD):
        corrupted or truncated, what the kernel would drop."""
        bad: np.ndarray = self.l4_csum == _BAD
        return bad


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
    udp_len = np.where(ports_ok & (proto == 17), _u16(rows, r, l4 + 4, lim), 0)
    return Headers(ethertype, vlan, l3, np.where(is4, 4, np.where(is6, 6, 0)), np.where(is4 | is6, proto, 0),
                   src_ip4, dst_ip4, ip6[:, :16].astype(np.uint8), ip6[:, 16:].astype(np.uint8),
                   np.where(is4 | is6, l4, -1), src_port, dst_port, payload, lens, udp_len)


_HDR = struct_dtype("struct xsk_hdr")  # one record per frame, as xsk_pkt_parse writes them
_HDR_SIZE = _HDR.itemsize


def parse(batch: Batch, *, verify_checksums: bool = False) -> Headers:
    """Headers of every frame in a Batch (reads at most HEAD bytes of each, in place).

    The arrays are views of one record array: offsets and VLAN ids are int32, ports and
    EtherTypes uint16, addresses uint32 (host order) or (n, 16) uint8. With
    ``verify_checksums``, each UDP/TCP checksum is also summed over its datagram (one C call,
    every byte of the datagrams read): ``h.l4_csum``, ``h.l4_csum_ok``, ``h.l4_csum_partial``.
    """
    batch.check_live()
    n = len(batch.raw_addrs())  # len(batch) of a live batch
    # np.empty(n, _HDR) would look up a zero-fill loop field by field (0.75 us); over a buffer, 0.25
    out = np.ndarray((n,), _HDR, bytearray(n * _HDR_SIZE))
    out_c = ffi.from_buffer("struct xsk_hdr[]", out)
    h = Headers._of_records(out, batch.raw_lens(), out_c)
    if n:
        umem = batch.umem
        area, addrs, lens = umem.area_pointer(), batch.c_addrs(), batch.c_lens()
        if verify_checksums:
            _parse_verified(area, addrs, lens, n, umem.size, umem.frame_size, out_c)
        else:
            _parse(area, addrs, lens, n, umem.frame_size, out_c)
    h._verified = verify_checksums
    return h


def count_checksums(batch: Batch) -> tuple[int, int, int, int]:
    """How many frames of a batch hold each checksum state: (none, ok, partial, bad).

    The states are ``parse(batch, verify_checksums=True).l4_csum``'s, counted in one C pass
    that keeps no per-frame records: for receivers that only count (sink, capture).
    """
    batch.check_live()
    n = len(batch)
    if not n:
        return (0, 0, 0, 0)
    umem = batch.umem
    counts = ffi.new("uint64_t[4]")
    _csum_count(umem.area_pointer(), batch.c_addrs(), batch.c_lens(), n, umem.size, umem.frame_size, counts)
    return (int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3]))


_parse = lib.xsk_pkt_parse  # bound once: a lookup on lib costs as much as a short call
_parse_verified = lib.xsk_pkt_parse_verified
_csum_count = lib.xsk_pkt_l4_csum_count
