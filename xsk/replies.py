"""In-place rewrites for answering a received batch with the same frames (zero copy).

Each helper works on a whole batch with numpy: swapping Ethernet addresses, IP addresses
and ports (which leaves every checksum valid: the sums are order-independent), and
small field updates with incremental checksum fixes (RFC 1624).
"""

from __future__ import annotations

import numpy as np

from .batch import Batch
from .headers import Headers


def swap_macs(batch: Batch, where: np.ndarray | None = None) -> None:
    """Exchange destination and source MAC of every frame (or those where ``where`` is true)."""
    if not len(batch):
        return
    if where is None:
        batch._live()
        batch._umem.swap_macs(batch._addrs, batch._c_addrs())  # the common case in one C call
        return
    macs = batch.read_at(0, 12)
    swapped = np.concatenate([macs[:, 6:], macs[:, :6]], axis=1)
    batch.write_at(0, np.where(where[:, None], swapped, macs))


def swap_ips(batch: Batch, h: Headers) -> None:
    """Exchange source and destination IPv4/IPv6 addresses where the frame has them."""
    for version, src, width in ((4, 12, 4), (6, 8, 16)):
        sel = h.ip_version == version
        if not sel.any():
            continue
        offs = np.where(sel, h.l3 + src, 0)
        ips = batch.read_at(offs, 2 * width)
        swapped = np.concatenate([ips[:, width:], ips[:, :width]], axis=1)
        batch.write_at(offs, np.where(sel[:, None], swapped, ips))


def swap_ports(batch: Batch, h: Headers) -> None:
    """Exchange UDP/TCP source and destination ports where the frame has them."""
    sel = (h.src_port > 0) | (h.dst_port > 0)
    if not sel.any():
        return
    offs = np.where(sel, h.l4, 0)
    ports = batch.read_at(offs, 4)
    swapped = np.concatenate([ports[:, 2:], ports[:, :2]], axis=1)
    batch.write_at(offs, np.where(sel[:, None], swapped, ports))


def update_word(batch: Batch, offsets: np.ndarray, csum_offsets: np.ndarray, new_words: np.ndarray,
                where: np.ndarray) -> None:
    """Set the 16-bit word at ``offsets`` to ``new_words`` and fix the checksum at ``csum_offsets``.

    Incremental update (RFC 1624 eqn. 3): HC' = ~(~HC + ~m + m'), for the frames in ``where``.
    """
    if not where.any():
        return
    offs = np.where(where, offsets, 0)
    coffs = np.where(where, csum_offsets, 0)
    old = batch.read_at(offs, 2).astype(np.uint32)
    old_word = old[:, 0] << 8 | old[:, 1]
    hc = batch.read_at(coffs, 2).astype(np.uint32)
    old_csum = hc[:, 0] << 8 | hc[:, 1]
    new = np.asarray(new_words, dtype=np.uint32) & 0xFFFF
    total = (~old_csum & 0xFFFF) + (~old_word & 0xFFFF) + np.broadcast_to(new, old_word.shape)
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    csum = ~total & 0xFFFF
    word_bytes = np.stack([np.broadcast_to(new >> 8, old_word.shape), np.broadcast_to(new & 0xFF, old_word.shape)],
                          axis=1).astype(np.uint8)
    csum_bytes = np.stack([csum >> 8, csum & 0xFF], axis=1).astype(np.uint8)
    batch.write_at(offs, np.where(where[:, None], word_bytes, old.astype(np.uint8)))
    batch.write_at(coffs, np.where(where[:, None], csum_bytes, hc.astype(np.uint8)))
