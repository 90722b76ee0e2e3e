"""Sockets and rings in ordinary memory: the data path without a kernel, for tests and benchmarks.

``MemoryRing`` lays out a ring as the kernel lays out a mapped AF_XDP ring and points a libxdp
ring struct at it, so the engine's C data path works on it unchanged; its ``kernel_*`` methods
play the kernel's side by hand. ``MemorySocket`` is a ``Socket`` whose four rings are memory
rings and whose kernel is a stand-in written in C (``xsk/_ffi/standin.c``): wherever a real
socket wakes the kernel, the stand-in completes every TX descriptor and turns the frames on
the fill ring into received packets of ``rx_len`` bytes. Everything else is the real socket's
code: ``send``, ``recv``, ``release``, ``forward`` and the ownership ledger behind them.

Ownership is as for any socket: the frames on its rings belong to its UMEM's ledger and come
back to the pool when the socket closes.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._binding import CData, ffi, lib, struct_dtype
from .._program import Endpoint
from .._queue import STATISTICS, FillRings, Mode, Queue, check_ring_size
from .._socket import Socket
from .._umem import XDP_PACKET_HEADROOM, Umem
from ..errors import ConfigError

RingKind = Literal["fill", "comp", "rx", "tx"]
DESC = struct_dtype("struct xdp_desc")  # an RX or TX ring entry


class MemoryRing:
    """A ``size``-entry ring; user space produces on fill/tx and consumes on comp/rx.

    ``start``: where both indices begin (wrap-around tests start them near 2**32).
    """

    def __init__(self, size: int, kind: RingKind, start: int = 0) -> None:
        self.size = size
        self.kind = kind
        self.producer = np.full(1, start, dtype=np.uint32)
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
            raise ConfigError(f"ring size must be a power of two, got {size}")

    def kernel_consume(self, max_entries: int) -> np.ndarray:
        """Take up to ``max_entries`` entries the user produced (a copy), as the kernel would."""
        prod, cons = int(self.producer[0]), int(self.consumer[0])
        n = min(max_entries, (prod - cons) & 0xFFFFFFFF)
        idx = (cons + np.arange(n)) & (self.size - 1)
        out: np.ndarray = self.entries[idx].copy()
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


class MemoryQueue(Queue):
    """A socket's place over four memory rings with the stand-in kernel: the members of
    ``xsk._queue.Queue``, with no kernel socket, program or namespace behind them. Its rings
    are :class:`MemoryRing` s (``rings``); teardown returns every frame on them to the pool at
    once, since no kernel holds them."""

    def __init__(self, umem: Umem, ring_size: int, rx_len: int) -> None:
        if not isinstance(rx_len, int) or rx_len < 1:
            raise ConfigError(f"rx_len={rx_len!r}: the stand-in kernel's packets need at least one byte")
        check_ring_size(ring_size)
        umem.check_usable()
        room = umem.frame_size - XDP_PACKET_HEADROOM - umem.headroom
        if rx_len > room:
            raise ConfigError(f"{rx_len}-byte packets don't fit the {room} bytes a {umem.frame_size}-byte frame has "
                              f"after the kernel's and the UMEM's headroom", argument="rx_len")
        self._init_members(umem, "memory", 0, netns=None, ring_size=ring_size, rx=True, tx=True, need_wakeup=False,
                           busy_poll=0, busy_poll_budget=64, multi_buffer=False)
        sizes: dict[RingKind, int] = {"fill": umem.fill_size, "comp": umem.comp_size, "rx": ring_size, "tx": ring_size}
        self.rings = {kind: MemoryRing(size, kind) for kind, size in sizes.items()}
        """The four rings by kind ("fill", "comp", "rx", "tx"), for looking at what is on them."""
        self.standin = ffi.new("struct xsk_standin *",
                               {"rx_len": rx_len, "headroom": XDP_PACKET_HEADROOM + umem.headroom})
        self.wake, self.wake_ctx = ffi.addressof(lib, "xsk_standin_wake"), self.standin
        group = FillRings(self.rings["fill"].c, self.rings["comp"].c, umem.ledger.new_ring_owner(), False)
        self.use_rings(group, self.rings["rx"].c, self.rings["tx"].c, fd=-1)
        self.mode = "memory"

    def steer(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint  # no program: the stand-in kernel delivers everything to it

    def teardown(self, path: CData) -> None:
        """No kernel holds the rings: every frame on them returns to the pool now."""
        if not self.closed:
            self.group.members -= 1
            self.umem.detach_member(self, self.group.owner, False)
            self.closed = True

    def close(self, path: CData) -> None:
        self.teardown(path)

    def statistics(self) -> dict[str, int]:
        return dict.fromkeys(STATISTICS, 0)  # the stand-in never drops anything

    def mtu(self) -> int | None:
        return None  # no link

    def __repr__(self) -> str:
        return f"<xsk.testing.MemorySocket ring_size={self.ring_size}{' closed' if self.closed else ''}>"


class MemorySocket(Socket):
    """A ``Socket`` over rings in ordinary memory with a stand-in kernel (see the module).

    ``ring_size``: entries of the RX and TX rings (the fill and completion rings take the
    UMEM's sizes). ``rx_len``: the length of every packet the stand-in kernel "receives".
    ``fill_frames``: as for ``Socket``. Needs no privileges, interface or namespace; ``mode``
    is "memory" and ``statistics()`` are all 0 (the stand-in never drops anything). It goes
    through ``Socket.__init__`` with a :class:`MemoryQueue` as its place.
    """

    def __init__(self, umem: Umem, ring_size: int = 2048, rx_len: int = 60, *,
                 fill_frames: int | None = None) -> None:
        self._rx_len = rx_len
        super().__init__(umem, "memory", ring_size=ring_size, need_wakeup=False, fill_frames=fill_frames)
        self.rings = self._memory.rings
        """The four rings by kind ("fill", "comp", "rx", "tx"), for looking at what is on them."""

    def _take_place(self, umem: Umem, ifname: str, queue: int, mode: Mode, rx: bool, tx: bool,
                    netns: str | None, ring_size: int, need_wakeup: bool, **options: Any) -> Queue:
        self._memory = MemoryQueue(umem, ring_size, self._rx_len)
        return self._memory

    @property
    def kernel_running(self) -> bool:
        """Whether the stand-in kernel runs when woken; False leaves the rings as they are (to
        fill the TX ring, say) until it is True again."""
        return bool(self._path.wake != ffi.NULL)

    @kernel_running.setter
    def kernel_running(self, on: bool) -> None:
        self._path.wake = self._memory.wake if on else ffi.NULL

    def _wait(self, events: int, timeout: float | None) -> int:
        """Where a real socket sleeps in poll(), the stand-in kernel runs; then RX and TX are ready."""
        self._kick()
        return events

    def __repr__(self) -> str:
        return f"<xsk.testing.MemorySocket ring_size={self.ring_size}{' closed' if self._closed else ''}>"
