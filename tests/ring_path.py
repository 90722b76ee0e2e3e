"""A data path (struct xsk_path) over rings in ordinary memory whose kernel side the test plays.

The tests of the C data path call its entry points (``xsk_path_*``) exactly as Socket does,
and act as the kernel themselves through each MemoryRing's ``kernel_consume`` and
``kernel_produce``: nothing happens on the rings that the test did not do.
"""

from __future__ import annotations

import numpy as np

import xsk
from xsk._binding import ffi, lib
from xsk.testing import MemoryRing


class RingPath:
    """Fill, completion, RX and TX rings of ``size`` entries for ``umem``, held by ring owner ``owner``
    (``rx=False``: a path without RX, as a TX-only socket has)."""

    def __init__(self, umem: xsk.Umem, size: int = 16, owner: int = 7, start: int = 0, rx: bool = True) -> None:
        self.umem = umem
        self.owner = owner
        self.fq, self.cq = MemoryRing(size, "fill", start), MemoryRing(size, "comp", start)
        self.rx, self.tx = MemoryRing(size, "rx", start), MemoryRing(size, "tx", start)
        self.q = ffi.new("struct xsk_fillq *", {"fq": self.fq.c, "cq": self.cq.c, "owner": owner})
        self.c = ffi.new("struct xsk_path *", {
            "l": umem.ledger.c, "q": self.q, "rx": self.rx.c if rx else ffi.NULL, "tx": self.tx.c, "fd": -1,
            "fill_target": 0, "comp_size": size, "max_kicks": 1})

    def fill(self, addrs: np.ndarray, token: int, to_pool: bool = False) -> int:
        """xsk_path_fill: frames on the fill ring, or an XSK_ERR_* code (bad frame: ``self.c.bad``)."""
        addrs = np.ascontiguousarray(addrs, dtype=np.uint64)
        return int(lib.xsk_path_fill(self.c, ffi.from_buffer("uint64_t[]", addrs), len(addrs), token,
                                     1 if to_pool else 0))

    def send(self, addrs: np.ndarray, lens: np.ndarray, token: int, opts: np.ndarray | None = None,
             check_bounds: bool = True) -> int:
        """xsk_path_send: frames on the TX ring, or an XSK_ERR_* code."""
        addrs = np.ascontiguousarray(addrs, dtype=np.uint64)
        lens = np.ascontiguousarray(lens, dtype=np.uint32)
        opts_c = ffi.NULL if opts is None else ffi.from_buffer("uint32_t[]", np.ascontiguousarray(opts, np.uint32))
        return int(lib.xsk_path_send(self.c, ffi.from_buffer("uint64_t[]", addrs), ffi.from_buffer("uint32_t[]", lens),
                                     opts_c, len(addrs), token, 1 if check_bounds else 0))

    def recv(self, max: int, token: int, with_opts: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """xsk_path_recv: (addrs, lens, options) of the frames now owned by ``token``."""
        addrs, lens, opts = np.zeros(max, np.uint64), np.zeros(max, np.uint32), np.zeros(max, np.uint32)
        n = lib.xsk_path_recv(self.c, ffi.from_buffer("uint64_t[]", addrs), ffi.from_buffer("uint32_t[]", lens),
                              ffi.from_buffer("uint32_t[]", opts) if with_opts else ffi.NULL, max, token)
        return addrs[:n].copy(), lens[:n].copy(), opts[:n].copy()

    def refill(self, target: int) -> int:
        """xsk_path_refill up to ``target`` frames on the fill ring (then the target is 0 again)."""
        self.c.fill_target = target
        try:
            return int(lib.xsk_path_refill(self.c))
        finally:
            self.c.fill_target = 0

    def complete(self) -> int:
        return int(lib.xsk_path_complete(self.c))

    def batch(self, addrs: np.ndarray, lens: np.ndarray, token: int) -> xsk.Batch:
        """A Batch over frames ``token`` owns (as Socket.recv makes one)."""
        return xsk.Batch(self.umem, addrs, lens, token, None)
