"""Umem: the packet memory shared with the kernel, and the frame ownership ledger over it.

Lifetime
--------
* The area is one anonymous mapping, hugepage-backed when possible, marked
  MADV_DONTFORK so a fork()ed child gets no copy of it (the classic get_user_pages +
  fork() copy-on-write bug can't happen: the child has no pages to write to).
* It is registered with the kernel (which pins it) when the first socket binds, inside
  that socket's network namespace (the registration is itself an AF_XDP socket, and
  libxdp makes it the first socket's), and deregistered when the last socket closes.
  Only then do the frames the kernel held (fill ring, TX ring) come back to the pool.
* ``close()`` with sockets still open raises StillInUseError naming them; after the
  sockets close the mapping is unmapped. Close order: sockets, UMEM, mapping.
* With ``tx_metadata=True`` the first ``xsk.txmeta.METADATA_LEN`` bytes of every frame are
  kept for TX requests (see :mod:`xsk.txmeta`): ``take`` gives addresses past them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import warnings
import weakref
from typing import TYPE_CHECKING, Literal

import numpy as np

from . import _privileges, _procfork, txmeta
from ._batch import Batch
from ._binding import CData, check, ffi, lib
from ._ledger import Accounting, Ledger, verify_everywhere
from ._procfork import current_pid, forked_away
from .errors import (
    ClosedError,
    ConfigError,
    FrameOwnershipError,
    FrameTooLargeError,
    HugepagesUnavailableError,
    PrivilegeError,
    StillInUseError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scapy.packet import Packet

HugepagePolicy = Literal["auto", "required", "off"]

MAP_HUGETLB = 0x40000  # not exported by Python 3.11's mmap module (x86-64 and arm64 value)
HUGEPAGE_SIZE = 2 << 20
_ledger_take = lib.xsk_ledger_take  # bound once (a lookup on cffi's lib costs ~20 ns), for take()
XDP_PACKET_HEADROOM = int(lib.XDP_PACKET_HEADROOM)  # the kernel's, in front of every received frame
_HUGEPAGE_HINT = "reserve some with `echo 64 > /proc/sys/vm/nr_hugepages` (as root)"


_NO_ADDRS = np.empty(0, dtype=np.uint64)  # what a new batch holds before take() fills it
_NO_LENS = np.empty(0, dtype=np.uint32)


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def free_hugepages() -> int:
    """2 MiB pages neither in use nor promised to a mapping (free minus reserved)."""
    base = "/sys/kernel/mm/hugepages/hugepages-2048kB"
    try:
        with open(f"{base}/free_hugepages") as free_file, open(f"{base}/resv_hugepages") as resv_file:
            free, resv = int(free_file.read()), int(resv_file.read())
    except OSError:
        return 0
    # resv_hugepages has been seen to read as an underflowed 64-bit value here for a moment
    # after a pinned hugepage UMEM is released; don't let that glitch hide the free pages.
    return free - resv if 0 <= resv <= free else free


_live_umems: weakref.WeakSet[Umem] = weakref.WeakSet()
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_PROT_NONE, _MAP_FIXED, _MAP_NORESERVE = 0, 0x10, 0x4000


def _fence_off_in_child() -> None:
    """After fork(), in the child: put an inaccessible placeholder where each UMEM was.

    The child has no UMEM pages (MADV_DONTFORK), so that address range is free and the
    child's own allocations may land there; the inherited mmap object would then unmap
    them when it is garbage-collected. A PROT_NONE placeholder keeps the range reserved
    (and any stray touch a clean SIGSEGV) until that happens.
    """
    for umem in list(_live_umems):
        if not umem._closed and umem._addr:
            _libc.mmap(umem._addr, umem._map_len, _PROT_NONE,
                       mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_FIXED | _MAP_NORESERVE, -1, 0)


os.register_at_fork(after_in_child=_fence_off_in_child)


class Umem:
    """``frame_count`` frames of ``frame_size`` bytes, each with exactly one owner at all times.

    ``headroom`` bytes are left free before received data in every frame.
    ``unaligned``: register in unaligned chunk mode (XDP_UMEM_UNALIGNED_CHUNK_FLAG), where
    ``frame_size`` may be any even size from 2048 to 4096 bytes and frames lie back to back, so
    they may straddle 4 KiB pages (hugepages keep them physically contiguous).
    ``hugepages``: "auto" uses 2 MiB pages and falls back to 4 KiB pages with a warning,
    "required" raises HugepagesUnavailableError when none are free, "off" never uses them.

    ``tx_metadata``: register with room for a TX metadata request in front of every packet sent
    (checksum offload and completion timestamps, see :mod:`xsk.txmeta`; Linux 6.8+ and libxdp
    1.5+, else UnsupportedError naming what is missing). ``take`` then gives addresses
    ``xsk.txmeta.METADATA_LEN`` bytes into their frames (``tx_metadata_len``), and sends that
    start closer to a frame's start are refused. ``tx_sw_checksum``: the kernel computes the
    requested checksums in copy mode (XDP_UMEM_TX_SW_CSUM) instead of leaving them to the
    device's offload (which on a veth with TX checksum offload on means: to nobody).
    """

    def __init__(
        self,
        frame_count: int = 4096,
        frame_size: int = 2048,
        headroom: int = 0,
        hugepages: HugepagePolicy = "auto",
        *,
        fill_size: int | None = None,
        comp_size: int | None = None,
        unaligned: bool = False,
        tx_metadata: bool = False,
        tx_sw_checksum: bool = False,
    ) -> None:
        if tx_sw_checksum and not tx_metadata:
            raise ConfigError("computes the checksums TX metadata requests: it needs tx_metadata=True",
                              argument="tx_sw_checksum")
        if tx_metadata:
            txmeta.require("Umem(tx_metadata=True)")
        if not isinstance(frame_count, int) or frame_count < 1 or frame_count > 1 << 24:
            raise ConfigError(f"must be between 1 and {1 << 24}, got {frame_count!r}", argument="frame_count")
        if unaligned:
            # Even sizes only: Linux 6.18's copy-mode TX completions come back with bit 0 of the
            # address cleared, which would name the previous frame for a frame that starts odd.
            if not isinstance(frame_size, int) or not 2048 <= frame_size <= 4096 or frame_size % 2:
                raise ConfigError(
                    f"must be an even number from 2048 to 4096 in unaligned chunk mode, got {frame_size!r}",
                    argument="frame_size")
        elif frame_size not in (2048, 4096):
            raise ConfigError(
                f"must be 2048 or 4096 (aligned chunk mode: a power of two no larger than the 4 KiB page; "
                f"unaligned=True allows any size in between), got {frame_size!r}", argument="frame_size")
        if not 0 <= headroom < frame_size - XDP_PACKET_HEADROOM - 64:
            raise ConfigError(
                f"must leave room for a frame: 0 <= headroom < "
                f"{frame_size - XDP_PACKET_HEADROOM - 64} for {frame_size}-byte frames, got {headroom!r}",
                argument="headroom")
        if hugepages not in ("auto", "required", "off"):
            raise ConfigError(f"must be 'auto', 'required' or 'off', got {hugepages!r}", argument="hugepages")
        ring = 1 << max(frame_count - 1, 1).bit_length()
        self.fill_size = fill_size or ring
        self.comp_size = comp_size or ring
        for name, value in (("fill_size", self.fill_size), ("comp_size", self.comp_size)):
            if not _pow2(value):
                raise ConfigError(f"must be a power of two, got {value}", argument=name)

        self.frame_count = frame_count
        self.frame_size = frame_size
        self.unaligned = bool(unaligned)
        self._pow2 = _pow2(frame_size)
        self.headroom = headroom
        self.size = frame_count * frame_size
        self._pid = current_pid()
        self._map, self.hugepages = self._map_area(hugepages)
        self.array = np.frombuffer(self._map, dtype=np.uint8, count=self.size)
        """The whole area as bytes: a zero-copy view, only for frames you own."""
        self.frames = self.array.reshape(frame_count, frame_size)
        """The area as a (frame_count, frame_size) array: row i is frame i."""
        self.ledger = Ledger(frame_count, frame_size, self.unaligned)
        self._tokens = self.ledger.tokens()  # next() on it inline in take(): Ledger.new_token without the call
        self.tx_metadata_len = txmeta.METADATA_LEN if tx_metadata else 0
        """Bytes kept in front of TX data for its metadata request (0: no TX metadata)."""
        self.tx_sw_checksum = bool(tx_sw_checksum)
        self.ledger.c.data_offset = self.tx_metadata_len  # where take()'s addresses start
        # per frame: 1 while it is on a TX ring with a request (C's, see xsk_txmd_log.requested)
        self._tx_requested = np.zeros(frame_count if tx_metadata else 0, dtype=np.uint8)
        self._tx_requested_c = ffi.from_buffer("uint8_t[]", self._tx_requested) if tx_metadata else ffi.NULL
        self._ptr: CData | None = None  # cdata over the area, made on first use
        self._addr = int(ffi.cast("uintptr_t", ffi.from_buffer(self._map)))
        self._map_len = len(self._map)
        _live_umems.add(self)
        self._sockets: dict[int, object] = {}  # the queue places of its sockets (repr: the socket's)
        self._kumem: CData | None = None  # struct xsk_umem *, while registered
        self._area_c: CData | None = None  # the area as libxdp was given it, while registered
        # the fill/completion rings libxdp made with the registration
        self._primary_rings: tuple[CData, CData] | None = None
        self._deferred: list[int] = []  # ring owners whose frames wait for deregistration
        self._closed = False

    # --- the mapping -----------------------------------------------------------------------
    def _map_area(self, policy: HugepagePolicy) -> tuple[mmap.mmap, bool]:
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        if policy != "off":
            length = -(-self.size // HUGEPAGE_SIZE) * HUGEPAGE_SIZE
            try:
                area = mmap.mmap(-1, length, flags=mmap.MAP_PRIVATE | MAP_HUGETLB, prot=prot)
                area.madvise(mmap.MADV_DONTFORK)
                return area, True
            except OSError as exc:
                needed = length // HUGEPAGE_SIZE
                message = (
                    f"no hugepages for a {self.size >> 20} MiB UMEM ({needed} x 2 MiB needed, "
                    f"{free_hugepages()} free): {exc.strerror}; {_HUGEPAGE_HINT}"
                )
                if policy == "required":
                    raise HugepagesUnavailableError(message) from None
                warnings.warn(message + "; using 4 KiB pages", RuntimeWarning, stacklevel=3)
        area = mmap.mmap(-1, self.size, flags=mmap.MAP_PRIVATE, prot=prot)
        area.madvise(mmap.MADV_DONTFORK)
        return area, False

    # --- the library's inner interface (the queue place, the data path and the C helpers use it) ----
    def area_pointer(self) -> CData:
        """A C pointer to the area, for the C units' per-batch calls (valid while the UMEM is open).

        Part of the library's inner interface, with :meth:`tx_requests_c`, :meth:`check_usable`,
        :meth:`register`, :meth:`kernel_umem`, :meth:`attach_member`, :meth:`detach_member` and
        :meth:`members`: used by xsk's own modules, not meant for applications."""
        self._usable()
        if self._ptr is None:
            self._ptr = ffi.from_buffer("uint8_t[]", self._map)
        return self._ptr

    def swap_macs(self, addrs: np.ndarray, addrs_c: CData | None = None) -> None:
        """Exchange destination and source MAC of the frame at each address (one C call).

        For frames the caller owns (a Batch's ``addrs``); each must hold at least 12 bytes.
        ``addrs_c``: a cdata pointer to ``addrs`` (uint64), when the caller already has one.
        """
        if addrs_c is None:
            addrs = np.ascontiguousarray(addrs, dtype=np.uint64)
            addrs_c = ffi.from_buffer("uint64_t[]", addrs)
        if lib.xsk_pkt_swap_macs(self.area_pointer(), addrs_c, len(addrs), self.size, self.frame_size):
            raise ConfigError("an address is outside the UMEM or too close to the end of its frame")

    def frames_of(self, addrs: np.ndarray) -> np.ndarray:
        """The frame index of each address."""
        frames: np.ndarray
        if self._pow2:
            frames = (addrs >> np.uint64(self.frame_size.bit_length() - 1)).astype(np.intp)
        else:
            frames = (addrs // np.uint64(self.frame_size)).astype(np.intp)
        return frames

    def offsets_of(self, addrs: np.ndarray) -> np.ndarray:
        """Each address's offset inside its frame."""
        offsets: np.ndarray
        if self._pow2:
            offsets = (addrs & np.uint64(self.frame_size - 1)).astype(np.intp)
        else:
            offsets = (addrs % np.uint64(self.frame_size)).astype(np.intp)
        return offsets

    def view(self, start: int, stop: int) -> memoryview:
        """A memoryview of the area's bytes [start, stop) (``Batch.data`` hands these out and
        releases them when the batch is spent)."""
        return memoryview(self._map)[start:stop]

    @property
    def pid(self) -> int:
        """The process that made the UMEM (a fork()ed child has no access to it)."""
        return self._pid

    def read_rows(self, addrs: np.ndarray, length: int) -> np.ndarray:
        """A copy of ``length`` bytes at each address, as an (n, length) array."""
        fidx, off = self._rows(addrs, length)
        rows: np.ndarray
        if off is not None:
            rows = self.frames[fidx, off : off + length]
        else:
            rows = self.array[addrs.astype(np.intp)[:, None] + np.arange(length)]
        return rows

    def write_rows(self, addrs: np.ndarray, values: np.ndarray) -> None:
        """Write ``values`` ((n, k) rows, or one (k,) row for all) at each address."""
        length = values.shape[-1]
        fidx, off = self._rows(addrs, length)
        if off is not None:
            self.frames[fidx, off : off + length] = values
        else:
            self.array[addrs.astype(np.intp)[:, None] + np.arange(length)] = values

    def _rows(self, addrs: np.ndarray, length: int) -> tuple[np.ndarray, int | None]:
        """Frame indices, and the common in-frame offset when every row has the same one."""
        fidx = self.frames_of(addrs)
        if not len(addrs):
            return fidx, 0
        offs = self.offsets_of(addrs)
        off = int(offs[0])
        if off + length <= self.frame_size and not np.any(offs != off):
            return fidx, off
        if np.any(offs + length > self.frame_size):
            raise ConfigError(f"{length} bytes from some address run past the end of its frame")
        return fidx, None

    def tx_requests_c(self) -> CData:
        """Per frame, 1 while it is on a TX ring with a metadata request (C's ``requested``), NULL
        without TX metadata; lent to each queue's completion log for the UMEM's lifetime."""
        return self._tx_requested_c

    # --- ownership -------------------------------------------------------------------------
    def check_usable(self) -> None:
        """ClosedError if the UMEM is closed or belongs to the parent of this fork()ed process."""
        self._usable()

    def _usable(self) -> None:
        if self._closed:
            raise ClosedError("this UMEM is closed")
        if forked_away(self._pid):
            raise ClosedError(
                f"this UMEM belongs to process {self._pid}; a fork()ed child has no access to it "
                "(the area is MADV_DONTFORK): create a new Umem in the child"
            )

    def take(self, n: int, length: int = 0, *, into: Batch | None = None) -> Batch:
        """Up to ``n`` free frames for the caller to build packets in (fewer if the pool runs low).

        Every frame's length starts at ``length``; ``Batch.write``/``fill`` or ``lens`` change it.
        Addresses are frame starts, or ``tx_metadata_len`` bytes past them (a UMEM with TX metadata).
        Frames keep the bytes they last held, so a frame filled once can be sent again and again.
        ``into``: a batch that owns nothing (spent or empty) to refill in place and return,
        instead of a new one: no allocation on the data path (see ``Batch``).
        """
        if self._closed or self._pid != _procfork._pid:
            self._usable()  # raises what is wrong
        if n < 0:
            raise ValueError(f"take({n})")
        batch = into if into is not None else Batch(self, _NO_ADDRS, _NO_LENS, 0, None)
        bufs = batch._reusable(self, n, False)
        ledger = self.ledger
        token = next(self._tokens)  # Ledger.new_token, inline on the data path
        try:  # as in Socket.recv: a signal between the take and the batch must not orphan frames
            got = _ledger_take(ledger.c, bufs.addrs_c, bufs.lens_c, n, token, length)
            return batch._refilled(bufs, got, token, None, False)
        except BaseException:
            if batch._spent or batch._token != token:
                ledger.release_token(token)
            raise

    def take_packets(self, packets: Iterable[Packet | bytes | bytearray | memoryview]) -> Batch:
        """A batch holding ``packets`` (scapy packets or bytes), one per frame, in order: the
        frames taken from the pool and written in one call, for tests and crafted traffic.

        All or nothing: if the pool has fewer free frames than packets, or a packet does not fit
        in a frame (FrameTooLargeError naming its index), the frames go back and nothing is taken.
        """
        frames = [p if isinstance(p, (bytes, bytearray, memoryview)) else bytes(p) for p in packets]
        for i, f in enumerate(frames):
            if len(f) > self.frame_size:
                raise FrameTooLargeError(f"packet {i}: {len(f)} bytes do not fit in a {self.frame_size}-byte frame")
        batch = self.take(len(frames))
        if len(batch) < len(frames):
            got = len(batch)
            self.release(batch)
            raise ConfigError(f"{len(frames)} packets but only {got} free frames in the UMEM: send them in "
                              "smaller groups (completions return frames) or make a bigger Umem",
                              argument="packets")
        try:
            for i, f in enumerate(frames):
                batch.write(i, f)
        except BaseException:
            self.release(batch)
            raise
        return batch

    def release(self, frames: Batch) -> None:
        """Give a batch's frames back to the free pool; the batch becomes spent.

        Only a Batch: frames are handed back through the batch that owns them, never by
        address, so no frame can be freed while a live batch (and its views) still holds it.
        """
        if (self._closed or self._pid != _procfork._pid or frames.__class__ is not Batch
                or frames._umem is not self or frames._spent):
            self._check_release(frames)  # raises what is wrong
        addrs = frames._addrs
        addrs_c = frames._addrs_c
        if addrs_c is None:
            addrs_c = frames.c_addrs()
        self.ledger.release(addrs, frames._token, addrs_c)
        frames._consume(len(addrs))

    def _check_release(self, frames: Batch) -> None:
        self._usable()
        if not isinstance(frames, Batch):
            raise TypeError(
                f"Umem.release takes a Batch, not {type(frames).__name__}: frames go back through the "
                "batch that owns them (a batch dropped without release returns its frames by itself)"
            )
        if frames._umem is not self:
            raise FrameOwnershipError("this batch belongs to another UMEM")
        frames._live()

    def accounting(self) -> Accounting:
        """Frames per state (pool, user, fill, tx); they always sum to ``frame_count``."""
        return self.ledger.accounting()

    def verify(self) -> None:
        """Check the ledger's whole consistency (O(frames)); IntegrityError if it is broken. For soaks and tests."""
        self._usable()
        self.ledger.verify()

    def state_of(self, addr: int) -> str:
        """"POOL", "USER", "FILL" or "TX" for the frame holding ``addr``."""
        if not 0 <= addr < self.size:
            raise FrameOwnershipError(f"address {addr:#x} is outside the UMEM (size {self.size:#x})")
        return self.ledger.state_of(addr)

    # --- kernel registration (called by a socket's queue place, inside its namespace) --------
    @property
    def registered(self) -> bool:
        return self._kumem is not None

    def kernel_umem(self) -> CData:
        """libxdp's ``struct xsk_umem *`` while registered (NULL before)."""
        return self._kumem if self._kumem is not None else ffi.NULL

    def register(self) -> tuple[CData, CData]:
        """Register with the kernel in the calling thread's namespace; return (fill, comp) rings."""
        _privileges.require_socket()
        self._check_memlock()
        pp = ffi.new("struct xsk_umem **")
        fq = ffi.new("struct xsk_ring_prod *")
        cq = ffi.new("struct xsk_ring_cons *")
        cfg = ffi.new("struct xsk_umem_config *")
        cfg.fill_size = self.fill_size
        cfg.comp_size = self.comp_size
        cfg.frame_size = self.frame_size
        cfg.frame_headroom = self.headroom
        cfg.flags = (lib.XDP_UMEM_UNALIGNED_CHUNK_FLAG if self.unaligned else 0) | (
            lib.XDP_UMEM_TX_SW_CSUM if self.tx_sw_checksum else 0)
        self._area_c = ffi.from_buffer(self._map)
        if self.tx_metadata_len:
            rc = lib.xsk_txmd_umem_create(pp, self._area_c, self.size, fq, cq, cfg, self.tx_metadata_len)
        else:
            rc = lib.xsk_umem__create(pp, self._area_c, self.size, fq, cq, cfg)
        if rc < 0:
            self._area_c = None
            hint = ""
            if -rc in (errno.EPERM, errno.ENOMEM, errno.ENOBUFS):
                hint = "pinning the UMEM needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK (ulimit -l)"
            if self.tx_metadata_len and -rc in (errno.EINVAL, errno.EOPNOTSUPP):
                txmeta.require("Umem(tx_metadata=True)")  # raises what is missing, if it knows
                raise UnsupportedError.from_errno(
                    -rc, f"registering a UMEM with {self.tx_metadata_len} bytes of TX metadata per frame",
                    f"this kernel ({os.uname().release}) refused tx_metadata_len; AF_XDP TX metadata needs Linux "
                    f"{txmeta.MIN_KERNEL[0]}.{txmeta.MIN_KERNEL[1]}+")
            check(rc, "registering the UMEM with the kernel", hint)
        self._kumem = pp[0]
        self._primary_rings = (fq, cq)
        return fq, cq

    def _check_memlock(self) -> None:
        """Without CAP_IPC_LOCK the kernel counts the UMEM's pages against RLIMIT_MEMLOCK: a UMEM
        larger than the limit is refused here with both numbers (the kernel would say ENOBUFS)."""
        import resource

        if _privileges.has(_privileges.CAP_IPC_LOCK):
            return
        limit = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
        if limit != resource.RLIM_INFINITY and self.size > limit:
            raise PrivilegeError(
                f"a {self.size >> 10} KiB UMEM is more than this process may lock: RLIMIT_MEMLOCK is "
                f"{limit >> 10} KiB and it has no CAP_IPC_LOCK; make the UMEM smaller (frame_count, "
                f"frame_size), raise the limit (ulimit -l {-(-self.size // 1024)} or more, LimitMEMLOCK= in a "
                "systemd unit) or grant CAP_IPC_LOCK", errno=errno.ENOBUFS)

    def members(self) -> list[object]:
        """The sockets' queue places registered on this UMEM (see ``xsk._queue``), in no order."""
        return list(self._sockets.values())

    def attach_member(self, member: object) -> None:
        """A socket's queue place whose rings now exist: the UMEM stays registered while it is."""
        self._sockets[id(member)] = member

    def detach_member(self, member: object, ring_owner: int | None, shares_umem_fd: bool) -> None:
        """A socket is gone; once the kernel lets go of its rings' frames, they return to the pool.

        ``ring_owner`` None: other sockets still use the rings (a shared queue), nothing returns yet.
        """
        self._sockets.pop(id(member), None)
        if ring_owner is None:
            pass
        elif shares_umem_fd:
            self._deferred.append(ring_owner)  # the kernel keeps this socket until deregistration
        else:
            self._reclaim(ring_owner)
        if not self._sockets and self._kumem is not None:
            check(lib.xsk_umem__delete(self._kumem), "deregistering the UMEM")
            self._kumem = None
            self._primary_rings = None
            self._area_c = None
            for owner in self._deferred:
                self._reclaim(owner)
            self._deferred.clear()

    def _reclaim(self, ring_owner: int) -> None:
        """The frames a gone socket's rings held -> pool. A TX metadata request of a frame that
        never completed is forgotten with it (the completion side reads only requests it marked)."""
        if self.tx_metadata_len:
            self._tx_requested[self.ledger.frames_held("TX", ring_owner)] = 0
        self.ledger.reclaim(ring_owner)

    @property
    def fd(self) -> int:
        return int(lib.xsk_umem__fd(self._kumem)) if self._kumem is not None else -1

    # --- lifetime --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Unmap the area. Raises StillInUseError while sockets are open (close them first).

        ``array`` and ``frames`` are empty afterwards: views of the mapping would keep it alive."""
        if self._closed:
            return
        if forked_away(self._pid):
            self._closed = True  # the child never had the mapping; nothing to undo
            return
        if self._sockets:
            names = ", ".join(repr(s) for s in self._sockets.values())
            raise StillInUseError(f"close the sockets on this UMEM first: {names}")
        if verify_everywhere():
            self.ledger.verify()  # XSK_VERIFY_LEDGER=1: a broken ledger fails the process that had it
        self._closed = True
        # drop every view of the mapping this object holds, so that it can be unmapped now
        self.array = np.empty(0, dtype=np.uint8)
        self.frames = self.array.reshape(0, self.frame_size)
        self._ptr = None
        try:
            self._map.close()
        except BufferError:
            warnings.warn(
                "views into the UMEM are still alive; the mapping is unmapped when they go",
                ResourceWarning,
                stacklevel=2,
            )

    def __enter__(self) -> Umem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and not self._sockets:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1)
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._sockets)} sockets"
        pages = "2 MiB pages" if self.hugepages else "4 KiB pages"
        md = ", TX metadata" if self.tx_metadata_len else ""
        return f"<xsk.Umem {self.frame_count}x{self.frame_size} on {pages}{md}, {state}>"
