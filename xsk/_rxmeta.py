"""The driver's RX hints for received frames: hash, hardware timestamp, VLAN tag.

A socket opened with ``rx_metadata=("hash", "timestamp", "vlan")`` (any of them) gets xsk's
redirect program in its metadata-writing form (``bpf/xsk_redirect_md.c``): for every frame it
sends to a socket it calls the driver's XDP metadata kfuncs (``bpf_xdp_metadata_rx_hash``,
``_rx_timestamp``, ``_rx_vlan_tag``) and writes their results into the 24 bytes just before
the frame's data, which AF_XDP copies into the UMEM with the frame (``struct xsk_rx_meta``).
:func:`read` gathers them for a batch as arrays, each with a mask of the frames the driver
gave it for; ``Batch.rx_hash``, ``rx_timestamp`` and ``rx_vlan`` are the same as numpy masked
arrays. The area belongs to the frame: it is read while the batch owns the frame, like its data.

What drivers give (Linux 6.18): ice and mlx5 all three; igc and mlx4 hash and timestamp;
virtio_net the hash. veth gives them for frames that reach XDP as socket buffers (sent by a
kernel socket or by AF_XDP in copy mode): the hash is the kernel's flow hash (``hash_type``
``L4`` when it covered the ports), the VLAN tag is the accelerated one (the frame's data then
holds no 802.1Q header: the kernel took it out), and the timestamp is the skb's hardware one,
0 on veth. Frames another XDP program redirected into a veth arrive as XDP frames: veth has
no hints for them, and every mask is False, as with a driver that has no metadata kfuncs (the
kernel answers for it that it has none). A kernel before 6.3 refuses the program:
UnsupportedError when the socket is made.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from ._binding import lib, struct_dtype
from .errors import ConfigError


class _Received(Protocol):
    """What reading the hints needs of a batch (``xsk.Batch`` is one): the socket its frames came
    from and the bytes in front of each frame's data."""

    @property
    def source(self) -> object: ...

    def metadata(self, width: int) -> np.ndarray: ...

FIELDS = ("hash", "timestamp", "vlan")
"""What ``rx_metadata=`` may ask for."""

_STRUCT = struct_dtype("struct xsk_rx_meta")  # declared once, in xsk/_ffi/redirect.h, which the program includes
_FIELDS = [(name, *_STRUCT.fields[name][:2]) for name in _STRUCT.names] if _STRUCT.fields and _STRUCT.names else []
META_DTYPE = np.dtype({
    "names": [name for name, _, _ in _FIELDS],
    # vlan_proto is in network order, as the kfunc gives it; the rest in host order
    "formats": [">u2" if name == "vlan_proto" else kind for name, kind, _ in _FIELDS],
    "offsets": [offset for _, _, offset in _FIELDS],
    "itemsize": _STRUCT.itemsize,
})
"""``struct xsk_rx_meta`` (bpf/xsk_redirect.c), the bytes right before each frame's data."""
META_SIZE = META_DTYPE.itemsize

VALID_TIMESTAMP, VALID_HASH, VALID_VLAN = lib.XSK_META_TIMESTAMP, lib.XSK_META_HASH, lib.XSK_META_VLAN
MAGIC = lib.XSK_META_MAGIC  # written last by the program: the area is this frame's, not what a frame before left

# enum xdp_rss_hash_type (include/net/xdp.h): which headers the hash covered
RSS_L3_IPV4, RSS_L3_IPV6, RSS_L3_DYNHDR = 1 << 0, 1 << 1, 1 << 2
RSS_L4, RSS_L4_TCP, RSS_L4_UDP, RSS_L4_SCTP, RSS_L4_IPSEC, RSS_L4_ICMP = (1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7,
                                                                          1 << 8)

def check_fields(fields: object) -> frozenset[str]:
    """``rx_metadata=`` as given (names, or True for all of them) -> the set of names."""
    if fields is True:
        return frozenset(FIELDS)
    if fields is None or fields is False or fields == ():
        return frozenset()
    items = [fields] if isinstance(fields, str) else fields
    if not isinstance(items, (list, tuple, set, frozenset)) or not all(isinstance(n, str) for n in items):
        raise ConfigError(f"names from {FIELDS} (or True for all), got {fields!r}", argument="rx_metadata")
    names = frozenset(str(n) for n in items)
    unknown = sorted(names - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown {', '.join(map(repr, unknown))}: the hints are {', '.join(FIELDS)}",
                          argument="rx_metadata")
    return names


class RxMetadata(NamedTuple):
    """One batch's RX hints, frame by frame (index ``i`` is the batch's frame ``i``).

    A value counts only where its mask is True (elsewhere it is 0): ``has_hash`` where the
    driver gave a hash, and so on. ``hash_type``: ``RSS_*`` bits. ``vlan_proto``: 0x8100 or
    0x88a8; ``vlan_tci``: priority (3 bits), DEI (1) and VLAN id (low 12 bits). ``timestamp``:
    the device's clock in ns.
    """

    hash: np.ndarray
    hash_type: np.ndarray
    timestamp: np.ndarray
    vlan_proto: np.ndarray
    vlan_tci: np.ndarray
    has_hash: np.ndarray
    has_timestamp: np.ndarray
    has_vlan: np.ndarray

    @property
    def vlan_id(self) -> np.ndarray:
        """The 12-bit VLAN ids (0 where ``has_vlan`` is False)."""
        return self.vlan_tci & 0x0FFF


def read(batch: _Received) -> RxMetadata:
    """The RX hints of every frame of ``batch`` (received by a socket opened with rx_metadata)."""
    source = batch.source
    if source is None or not getattr(source, "rx_metadata", None):
        raise ConfigError("this batch's frames carry no RX metadata: receive them on a socket opened with "
                          "rx_metadata=('hash', 'timestamp', 'vlan')")
    raw = batch.metadata(META_SIZE)  # a copy: the arrays outlive the frames
    meta = np.ascontiguousarray(raw).view(META_DTYPE).reshape(len(raw))
    ours = meta["magic"] == MAGIC
    valid = np.where(ours, meta["valid"], 0)
    has_hash, has_ts, has_vlan = ((valid & bit) != 0 for bit in (VALID_HASH, VALID_TIMESTAMP, VALID_VLAN))
    return RxMetadata(
        hash=np.where(has_hash, meta["hash"], 0).astype(np.uint32),
        hash_type=np.where(has_hash, meta["hash_type"], 0).astype(np.uint32),
        timestamp=np.where(has_ts, meta["timestamp"], 0).astype(np.uint64),
        vlan_proto=np.where(has_vlan, meta["vlan_proto"], 0).astype(np.uint16),
        vlan_tci=np.where(has_vlan, meta["vlan_tci"], 0).astype(np.uint16),
        has_hash=has_hash, has_timestamp=has_ts, has_vlan=has_vlan)
