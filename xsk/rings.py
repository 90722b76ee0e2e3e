"""Rings in ordinary memory, laid out as the kernel lays out a mapped AF_XDP ring.

The engine's helpers take libxdp ring structs; ``MemoryRing`` points one at numpy
arrays so the same helpers can be tested (wrap-around, backpressure) and measured
without a kernel. The *kernel* side of the ring is played by the ``kernel_*`` methods.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._binding import ffi, lib

RingKind = Literal["fill", "comp", "rx", "tx"]
DESC = np.dtype([("addr", np.uint64), ("len", np.uint32), ("options", np.uint32)])


class MemoryRing:
    """A ``size``-entry ring; user space produces on fill/tx and consumes on comp/rx."""

    def __init__(self, size: int, kind: RingKind) -> None:
        self.size = size
        self.kind = kind
        self.producer = np.zeros(1, dtype=np.uint32)
        self.consumer = np.zeros(1, dtype=np.uint32)
        self.flags = np.zeros(1, dtype=np.uint32)
        self.entries = np.zeros(size, dtype=np.uint64 if kind in ("fill", "comp") else DESC)
        user_produces = kind in ("fill", "tx")
        self.c = ffi.new("struct xsk_ring_prod *" if user_produces else "struct xsk_ring_cons *")
        rc = lib.xsk_shim_fake_ring(
            self.c,
            ffi.from_buffer("uint32_t[]", self.producer),
            ffi.from_buffer("uint32_t[]", self.consumer),
            ffi.from_buffer("uint32_t[]", self.flags),
            ffi.from_buffer(self.entries),
            size,
            1 if user_produces else 0,
        )
        if rc < 0:
            raise ValueError(f"ring size must be a power of two, got {size}")

    def kernel_consume(self, max_entries: int) -> np.ndarray:
        """Take up to ``max_entries`` entries the user produced (a copy), as the kernel would."""
        prod, cons = int(self.producer[0]), int(self.consumer[0])
        n = min(max_entries, (prod - cons) & 0xFFFFFFFF)
        idx = (cons + np.arange(n)) & (self.size - 1)
        out = self.entries[idx].copy()
        self.consumer[0] = (cons + n) & 0xFFFFFFFF
        return out

    def kernel_produce(self, entries: np.ndarray) -> int:
        """Publish as many of ``entries`` as fit; return how many."""
        prod, cons = int(self.producer[0]), int(self.consumer[0])
        free = self.size - ((prod - cons) & 0xFFFFFFFF)
        n = min(free, len(entries))
        idx = (prod + np.arange(n)) & (self.size - 1)
        self.entries[idx] = entries[:n]
        self.producer[0] = (prod + n) & 0xFFFFFFFF
        return n
