"""Rings in ordinary memory, laid out as the kernel lays out a mapped AF_XDP ring.

The engine's helpers take libxdp ring structs; ``MemoryRing`` points one at numpy
arrays so the same helpers can be tested (wrap-around, backpressure) and measured
without a kernel. The *kernel* side of the ring is played by the ``kernel_*`` methods.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._binding import ffi, lib, struct_dtype

RingKind = Literal["fill", "comp", "rx", "tx"]
DESC = struct_dtype("struct xdp_desc")  # an RX or TX ring entry


class MemoryRing:
    """A ``size``-entry ring; user space produces on fill/tx and consumes on comp/rx."""

    def __init__(self, size: int, kind: RingKind, start: int = 0) -> None:
        self.size = size
        self.kind = kind
        self.producer = np.full(1, start, dtype=np.uint32)  # start: where both indices begin (wrap tests)
        self.consumer = np.full(1, start, dtype=np.uint32)
        self.flags = np.zeros(1, dtype=np.uint32)
        self.entries = np.zeros(size, dtype=np.uint64 if kind in ("fill", "comp") else DESC)
        user_produces = kind in ("fill", "tx")
        self.c = ffi.new("struct xsk_ring_prod *" if user_produces else "struct xsk_ring_cons *")
        rc = lib.xsk_standin_ring(
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


class MemorySocket:
    """``Socket``'s data path (the same methods, the same C calls) over rings in ordinary
    memory, with a C stand-in kernel (``xsk_standin_run``) that completes every TX
    descriptor and turns fill-ring frames into ``rx_len``-byte received packets.

    For tests and for measuring what user space costs per packet without a kernel's noise.
    """

    def __new__(cls, umem, ring_size: int = 2048, rx_len: int = 60):  # type: ignore[no-untyped-def]
        from .batch import _Buffers
        from .socket import Socket, _data_path, _FillRings

        if rx_len < 1:
            raise ValueError(f"rx_len={rx_len}: the stand-in kernel's packets need at least one byte")

        class _Memory(Socket):
            def __init__(self) -> None:  # no kernel socket: set up what the data path uses
                import select

                self.umem = umem
                self.ifname, self.queue, self.netns, self.ring_size = "memory", 0, None, ring_size
                self.ns_id = self.ifindex = 0
                self._netns_fd = None
                self.rx_enabled = self.tx_enabled = True
                self._need_wakeup = False
                self._gone = False
                self.busy_poll = 0
                self.multi_buffer = False
                from .procfork import current_pid

                self._pid = current_pid()
                self._program = None
                self._xsk = ffi.NULL
                self.fill_frames = min(umem.frame_count // 2, ring_size, umem.fill_size)
                self._rings = {k: MemoryRing(ring_size if k in ("rx", "tx") else umem.fill_size, k)
                               for k in ("fill", "comp", "rx", "tx")}
                self._group = _FillRings(self._rings["fill"].c, self._rings["comp"].c,
                                         umem.ledger.new_ring_owner(), False)
                self._group.members = 1
                self._fq, self._cq, self._ring_owner = self._group.fq, self._group.cq, self._group.owner
                self._rx, self._tx = self._rings["rx"].c, self._rings["tx"].c
                self.fd = -1  # no kernel to wake: the data path runs the stand-in kernel instead
                self.mode = "memory"
                self._poller = select.poll()
                self._max_kicks = 1
                self._path = _data_path(self)
                # where send/forward/_kick would wake a kernel, the stand-in kernel runs
                self._standin = ffi.new("struct xsk_standin *", {"rx_len": rx_len, "headroom": 256})
                self._path.wake = ffi.addressof(lib, "xsk_standin_wake")
                self._path.wake_ctx = self._standin
                self._rx_bufs = _Buffers(0, False)
                self._tokens = umem.ledger._tokens
                self._closed = False
                umem._attach(self)
                self._refill()

            def _wait(self, events: int, timeout: float | None) -> int:
                self._kick()
                return events

            def close(self) -> None:
                if not self._closed:
                    self._closed = True
                    self.umem._detach(self, self._ring_owner, False)

            def statistics(self) -> dict[str, int]:
                return {}

        return _Memory()
