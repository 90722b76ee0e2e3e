"""Internet checksums (RFC 1071), full and incremental, vectorised over batches.

``ones_sum`` adds big-endian 16-bit words with end-around carry; ``finish`` folds and
complements. Incremental updates follow RFC 1624: the checksum of a packet whose fields
changed is the complement of (complemented old sum + new words - old words), which is
what a per-batch patcher needs: a base sum computed once for the template, plus the
words of the fields that change.
"""

from __future__ import annotations

import numpy as np


def ones_sum(data: bytes | np.ndarray) -> int:
    """One's-complement sum of ``data`` as big-endian 16-bit words (odd length padded with 0)."""
    buf = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    if len(buf) % 2:
        buf = np.concatenate([buf, np.zeros(1, np.uint8)])
    total = int(buf.view(">u2").astype(np.uint64).sum())
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes | np.ndarray) -> int:
    """The Internet checksum of ``data``: the folded sum, complemented (what goes in a header)."""
    return (~ones_sum(data)) & 0xFFFF


def pseudo_header_sum(src: str | bytes, dst: str | bytes, proto: int, length: int) -> int:
    """The folded one's-complement sum of the UDP/TCP pseudo-header (RFC 768/793 for IPv4,
    RFC 8200 8.1 for IPv6), **not** complemented: what a sender leaves in the checksum field for
    offload to finish. Addresses as text or packed bytes (4: IPv4, 16: IPv6)."""
    import ipaddress

    s = src if isinstance(src, bytes) else ipaddress.ip_address(src).packed
    d = dst if isinstance(dst, bytes) else ipaddress.ip_address(dst).packed
    if len(s) != len(d) or len(s) not in (4, 16):
        raise ValueError("source and destination must both be IPv4 or both IPv6")
    if len(s) == 4:
        header = s + d + bytes([0, proto]) + length.to_bytes(2, "big")
    else:
        header = s + d + length.to_bytes(4, "big") + bytes([0, 0, 0, proto])
    return ones_sum(header)


def l4_checksum(src: str | bytes, dst: str | bytes, proto: int, segment: bytes) -> int:
    """The UDP/TCP checksum of ``segment`` (its header with the checksum field zeroed, then the
    payload) between these addresses: pseudo-header included, folded and complemented. For UDP a
    result of 0 is sent as 0xffff (0 means "no checksum")."""
    total = pseudo_header_sum(src, dst, proto, len(segment)) + ones_sum(segment)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    value = (~total) & 0xFFFF
    return 0xFFFF if value == 0 and proto == 17 else value


def row_sums(rows: np.ndarray) -> np.ndarray:
    """Per-row (unfolded) sums of big-endian 16-bit words of an (n, even k) uint8 array."""
    sums: np.ndarray = np.ascontiguousarray(rows).view(">u2").sum(axis=1, dtype=np.uint64)
    return sums


def finish(sums: np.ndarray, zero_as_ffff: bool = False) -> np.ndarray:
    """Fold 64-bit sums to 16 bits and complement; ``zero_as_ffff`` for UDP (0 means "no checksum")."""
    s = sums.astype(np.uint64)
    for _ in range(3):  # enough for sums below 2**48, i.e. any frame
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    out: np.ndarray = (~s & np.uint64(0xFFFF)).astype(np.uint16)
    if zero_as_ffff:
        out[out == 0] = 0xFFFF
    return out


def incremental(old: int, old_words: bytes, new_words: bytes) -> int:
    """RFC 1624 eqn. 3: the checksum after ``old_words`` were replaced by ``new_words``."""
    total = ((~old) & 0xFFFF) + ((~ones_sum(old_words)) & 0xFFFF) + ones_sum(new_words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF
