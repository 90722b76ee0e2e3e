"""Counting received frames whose UDP/TCP checksum is not valid, and saying why (sink, capture)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..headers import count_checksums

if TYPE_CHECKING:
    from .._batch import Batch

PARTIAL_HINT = (
    "their UDP/TCP checksum held only the pseudo-header sum: the sender's kernel left it to TX "
    "checksum offload, which veth (as `ip link add` and containers make it) never finishes once "
    "frames take the XDP path. Any reply sent as received will be dropped by its receiver: finish "
    "the sum with xsk.replies.finish_partial_checksums, or turn offload off on the sender's interface "
    "(`ethtool -K IFACE tx off`)")
BAD_HINT = "their UDP/TCP checksum was wrong or the datagram was cut short: corrupted or truncated on the way"


class ChecksumCount:
    """Partial and bad L4 checksums over every batch passed to ``add`` (one C pass per batch)."""

    def __init__(self) -> None:
        self.partial = 0
        self.bad = 0

    def add(self, batch: Batch) -> None:
        _, _, partial, bad = count_checksums(batch)
        self.partial += partial
        self.bad += bad

    def summary(self) -> dict[str, Any]:
        return {"l4_checksums": {"partial": self.partial, "bad": self.bad}}

    def warnings(self) -> list[str]:
        out = []
        if self.partial:
            out.append(f"{self.partial} frames: {PARTIAL_HINT}")
        if self.bad:
            out.append(f"{self.bad} frames: {BAD_HINT}")
        return out
