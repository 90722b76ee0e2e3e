"""Socket: the data path of an AF_XDP socket on one interface queue, over its four rings.

Binding to the queue (the XDP program, the kernel's socket, the XSKMAP entry, the rings and
their teardown) is the socket's place, ``xsk._queue.Queue``; this module moves frames.

Ownership
---------
* ``recv`` moves frames FILL -> USER and returns them as a Batch; the caller owns them
  until ``release`` (back to the fill ring), ``send`` (to the TX ring) or ``Umem.release``.
* ``send`` moves frames USER -> TX; completions move TX -> POOL when reaped (every
  ``send``, ``recv`` with TX enabled, ``complete`` and ``flush`` reap them).
* The fill ring is kept topped up from the pool to ``fill_frames`` frames.
* On a UMEM with TX metadata (see :mod:`xsk.txmeta`), reaping a completion also reads the
  frame's completion timestamp, if its send asked for one, into the queue's log, before the
  frame is back in the pool; ``tx_timestamps`` reads the log. The frames move as without it.
* ``close`` takes the socket out of the XSKMAP, deletes it, lets go of the XDP program
  (the kernel detaches it when no socket of any process holds it, see ``xsk._program``), and
  returns the frames the kernel held to the pool once the kernel has let go of them (see Umem).

The socket, its rings and its program all belong to the network namespace given as
``netns``; every kernel call that resolves names or indexes runs inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import select
import time
import warnings
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np

from . import _aio, _procfork, txmeta
from . import _diagnose as diagnose_mod
from . import _filter as filter_mod
from ._batch import XDP_PKT_CONTD, Batch, _Buffers
from ._binding import CData, check, ffi, lib
from ._diagnose import Cause
from ._filter import Rule
from ._procfork import current_pid, forked_away
from ._program import CustomProgram, XdpMode
from ._queue import STATISTICS, Mode, Queue, default_fill_frames
from ._umem import Umem
from .errors import (
    ClosedError,
    ConfigError,
    FrameOwnershipError,
    FrameTooLargeError,
    HostError,
    IntegrityError,
    InterfaceGoneError,
    XskError,
    error_for,
)
from .pinned import PinnedProgram

if TYPE_CHECKING:
    from ._jitloop import FrameLoop

__all__ = ["STATISTICS", "Mode", "Readiness", "Socket"]

_SLICE = 0.1  # longest single wait: blocking calls notice a deleted interface this fast
# An empty RX ring is re-read this many times (a few hundred microseconds) before recv sleeps in
# poll(), as long as the kernel needs no wakeup: at high rates a sleep and wake-up per batch costs
# more than the batch (rx-drop fed at ~3 Mpps: 2.2 Mpps sleeping at once, 3.1 spinning first).
_SPINS = 200
# How long a compiled handler's C loop re-reads an empty RX ring before it sleeps in poll(): a
# request within this of the last finds it awake (as SO_BUSY_POLL's 50 us does for a kernel
# socket). forward()'s 200 spins, each a call from Python, last about as long.
_SERVE_SPIN_NS = 50_000
# The data path's C entry points, bound once: looking a name up on cffi's lib costs about 20 ns,
# as much again as some of the calls (xsk_path_fill_needs_wakeup), and the data path makes
# one or two per batch.
_path_send = lib.xsk_path_send
_path_recv = lib.xsk_path_recv
_path_fill = lib.xsk_path_fill
_path_forward = lib.xsk_path_forward
_jit_run = lib.xsk_jit_run
_fill_needs_wakeup = lib.xsk_path_fill_needs_wakeup
_NULL = ffi.NULL
_S = TypeVar("_S", bound="Socket")  # what ``with`` gives: the socket's own class (MemorySocket too)


def _data_path(sock: Socket, place: Queue) -> CData:
    """The socket's ``struct xsk_path``: everything its per-batch C calls need, in one place.

    It points into the place's rings, its queue's ``FillRings`` and the UMEM's ledger, so it is
    used only while the socket holds all three (until ``close``)."""
    umem = place.umem
    return ffi.new("struct xsk_path *", {
        "l": umem.ledger.c, "q": place.group.c, "rx": place.rx, "tx": place.tx, "fd": place.fd,
        "need_wakeup": 1 if place.need_wakeup else 0, "fill_target": sock.fill_frames,
        "comp_size": umem.comp_size, "max_kicks": sock._max_kicks, "wake": place.wake, "wake_ctx": place.wake_ctx,
    })


class Readiness(NamedTuple):
    readable: bool
    writable: bool


class Socket:
    """An AF_XDP socket on ``ifname`` queue ``queue`` sharing ``umem``.

    ``mode``: "copy", "zerocopy" or "auto" (zero-copy when the driver offers it); ``sock.mode``
    reports what the kernel gave. ``xdp_mode``: how the redirect program is attached, "native"
    (driver), "skb" (generic) or "auto" (native, else skb). ``netns``: the name of the network
    namespace the interface lives in. ``fill_frames``: how many frames to keep on the fill
    ring (default: half the UMEM with TX on, all of it without, at most ``ring_size``).
    Several sockets may share one UMEM (XDP_SHARED_UMEM): on other queues or interfaces
    each gets fill and completion rings of its own; ``filter`` steers only matching
    frames to the sockets of the interface (see ``xsk._filter``).

    ``program``: an ``xsk.pinned.PinnedProgram`` (xsk's redirect program, attached and pinned
    by a privileged ``xsk prog attach --pin DIR``: the socket then needs only CAP_NET_RAW), or
    a ``CustomProgram`` (your own XDP program) instead of xsk's redirect program;
    the socket puts itself into that program's XSKMAP at ``xskmap_key`` (default: ``queue``).
    With one, several sockets of a UMEM may bind to the same queue: they share its fill and
    completion rings, and the program picks the socket for each frame.

    ``busy_poll``: microseconds of NAPI busy polling per syscall (SO_PREFER_BUSY_POLL,
    SO_BUSY_POLL, SO_BUSY_POLL_BUDGET = ``busy_poll_budget``); 0 leaves it off. With it on,
    ``recv`` wakes the kernel whenever the RX ring is empty, since the syscall does the work.

    Threads: one thread at a time per socket (its rings have one producer and one consumer
    each, as in libxdp); sockets of one UMEM, also on the same queue, may each have their own.

    Attributes, once bound: ``mode`` ("copy" or "zerocopy", what the kernel gave; "unbound"
    before), ``xdp_mode`` ("native"/"skb", None for TX only), ``fd`` (also ``fileno()``),
    ``ifname``, ``ifindex``, ``queue``, ``netns``, ``umem``, ``ring_size``, ``rx_enabled``,
    ``tx_enabled``, ``closed``.

    ``multi_buffer``: packets larger than a frame (jumbo frames) span several frames
    (XDP_USE_SG, Linux 6.6+): ``recv`` returns whole packets, their fragments chained by
    ``Batch.options`` (XDP_PKT_CONTD on all but the last; ``Batch.packet_starts()``), and
    ``send`` takes fragments chained the same way. Without it a packet larger than a frame
    is dropped by the kernel (``rx_dropped``).

    ``rx_metadata``: the driver's RX hints to hand over with each frame, any of ``"hash"``,
    ``"timestamp"``, ``"vlan"`` (or True for all): xsk's redirect program is then loaded bound
    to the device and attached natively (Linux 6.3+, else UnsupportedError; a driver without
    the metadata kfuncs gives no hints, every mask False), and ``Batch.rx_metadata()`` /
    ``rx_hash`` / ``rx_timestamp`` / ``rx_vlan`` read them (see :mod:`xsk._rxmeta`). All sockets
    of an interface share its program, so they all ask for hints or none do.
    """

    _place: Queue  # its place on the queue: program, kernel socket, XSKMAP entry, rings (xsk._queue)

    def __init__(
        self,
        umem: Umem,
        ifname: str,
        queue: int = 0,
        mode: Mode = "auto",
        rx: bool = True,
        tx: bool = True,
        netns: str | None = None,
        ring_size: int = 2048,
        need_wakeup: bool = True,
        *,
        xdp_mode: XdpMode = "auto",
        fill_frames: int | None = None,
        filter: str | list[Rule] | None = None,
        program: CustomProgram | PinnedProgram | None = None,
        xskmap_key: int | None = None,
        busy_poll: int = 0,
        busy_poll_budget: int = 64,
        multi_buffer: bool = False,
        rx_metadata: Iterable[str] | bool = (),
    ) -> None:
        self._closed = True  # until the data path exists (close() and __del__ rely on it)
        self._pid = current_pid()
        place = self._take_place(
            umem, ifname, queue, mode, rx, tx, netns, ring_size, need_wakeup, xdp_mode=xdp_mode, filter=filter,
            program=program, xskmap_key=xskmap_key, busy_poll=busy_poll, busy_poll_budget=busy_poll_budget,
            multi_buffer=multi_buffer, rx_metadata=rx_metadata)
        try:
            self._open(place, fill_frames)
        except BaseException:
            place.close(ffi.NULL)
            raise
        try:
            place.steer(self)
        except BaseException:
            self.close()
            raise

    def _take_place(self, umem: Umem, ifname: str, queue: int, mode: Mode, rx: bool, tx: bool,
                    netns: str | None, ring_size: int, need_wakeup: bool, **options: Any) -> Queue:
        """The socket's place on its queue, bound (``xsk.testing.MemorySocket`` takes a memory one)."""
        return Queue(umem, ifname, queue, mode, rx, tx, netns, ring_size, need_wakeup, **options)

    def _open(self, place: Queue, fill_frames: int | None) -> None:
        """The data path over the place's rings; the fill ring topped up."""
        self._place = place
        self.umem = place.umem
        self.ifname, self.queue, self.netns = place.ifname, place.queue, place.netns
        self.ifindex, self.ns_id = place.ifindex, place.ns_id
        self.ring_size, self.rx_enabled, self.tx_enabled = place.ring_size, place.rx_enabled, place.tx_enabled
        self.busy_poll, self.busy_poll_budget = place.busy_poll, place.busy_poll_budget
        self.multi_buffer, self.rx_metadata = place.multi_buffer, place.rx_metadata
        self.fd, self.mode = place.fd, place.mode
        self._gone = False  # the interface was deleted under the socket
        self._max_kicks = max(1, place.ring_size // 32)
        # the descriptor options send() may pass on (the kernel rejects a descriptor with others)
        self._options = (XDP_PKT_CONTD if self.multi_buffer else 0) | (
            txmeta.XDP_TX_METADATA if self.umem.tx_metadata_len else 0)
        self._fill_frames = default_fill_frames(self.umem, fill_frames, place.ring_size, place.rx_enabled,
                                                place.tx_enabled)
        self._group = place.group
        self._rx, self._tx = place.rx, place.tx  # the ring structs (the data path reads them through _path)
        self._path = _data_path(self, place)
        self._poller = select.poll()
        self._rx_bufs = _Buffers(0, self.multi_buffer)
        self._tokens = self.umem.ledger.tokens()  # the UMEM's batch tokens (see Ledger.new_token)
        self._closed = False
        if self.rx_enabled:
            self._refill()

    @property
    def fill_frames(self) -> int:
        """How many frames the socket keeps on its fill ring (topped up on every ``recv``)."""
        return self._fill_frames

    @fill_frames.setter
    def fill_frames(self, n: int) -> None:
        self._fill_frames = n
        path = getattr(self, "_path", None)
        if path is not None:
            path.fill_target = n

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Delete the socket; frames the kernel held return to the pool once it lets go of them."""
        if self._closed:
            return
        if forked_away(self._pid):
            self._closed = True
            return  # the parent's socket: a child must not tear it down
        self._place.close(self._path)
        self._closed = True

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1)
            with contextlib.suppress(XskError):
                self.close()

    def __repr__(self) -> str:
        if not hasattr(self, "ifname"):
            return "<xsk.Socket unbound>"
        where = f"{self.netns}:" if self.netns else ""
        return f"<xsk.Socket {where}{self.ifname} queue {self.queue}{' closed' if self._closed else ''}>"

    def _usable(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        if forked_away(self._pid):
            raise ClosedError(f"{self!r} belongs to process {self._pid}, not to this fork()ed child")
        if self._gone:
            self._raise_gone()

    def _check_gone(self) -> None:
        """Raise InterfaceGoneError if the kernel reported the interface unregistered (SO_ERROR)."""
        if not self._gone and self.fd >= 0 and lib.xsk_sys_sock_error(self.fd) == errno.ENETDOWN:
            self._gone = True
        if self._gone:
            self._raise_gone()

    def _raise_gone(self) -> None:
        raise InterfaceGoneError.from_errno(
            errno.ENETDOWN, f"{self!r}: the interface {self.ifname} is gone",
            "it was deleted, or its namespace was; close() the socket: the frames the kernel held "
            "return to the pool then, and batches you hold can still be released",
        )

    # --- RX --------------------------------------------------------------------------------
    def recv(self, max: int = 256, timeout: float | None = None, *, into: Batch | None = None,
             _spin: bool = False) -> Batch:
        """Up to ``max`` received frames as a Batch the caller owns (possibly empty).

        ``timeout``: None waits until something arrives, 0 never waits, otherwise seconds
        (re-reading the ring for a few hundred microseconds before sleeping in poll()).
        ``into``: a batch that owns nothing (spent or empty) to refill in place and return,
        instead of a new one: the data path then allocates nothing (see ``Batch``).
        """
        if self._closed or self._gone or self._pid != _procfork._pid:
            self._usable()  # raises what is wrong
        if not self.rx_enabled:
            raise ConfigError(f"{self!r} was made with rx=False")
        if max < 1:
            raise ConfigError(f"must be at least 1, got {max}", argument="max")
        if into is None:
            bufs = self._rx_bufs
            if bufs.capacity < max:
                bufs = self._rx_bufs = _Buffers(max, self.multi_buffer)
        else:
            bufs = into._reusable(self.umem, max, self.multi_buffer)
        token = next(self._tokens)  # Ledger.new_token, inline on the data path
        path = self._path
        deadline = None if not timeout else time.monotonic() + timeout
        # busy polling works in the syscall; _spin (asyncio): re-read the ring, then return empty
        spins = 0 if _spin else _SPINS if timeout == 0 or self.busy_poll else 0
        try:  # free in 3.11+: the except below costs only when something is raised
            while True:
                n = _path_recv(path, bufs.addrs_c, bufs.lens_c, bufs.opts_c, max, token)
                if n:
                    break
                if spins < _SPINS and not _fill_needs_wakeup(path):
                    spins += 1  # the next frames are usually microseconds away: don't sleep yet
                    continue
                if not self._rx_idle(timeout, deadline):
                    break
            if into is not None:
                return into._refilled(bufs, n, token, self, self.multi_buffer)
            return Batch(self.umem, bufs.addrs[:n].copy(), bufs.lens[:n].copy(), token, self,
                         bufs.opts[:n].copy() if self.multi_buffer and bufs.opts is not None else None)
        except BaseException:
            # A signal (Ctrl-C) can land right after the C call took frames for ``token`` and
            # before a batch holds them: nobody could give those back, so they go back here.
            if into is None or into._spent or into._token != token:
                self.umem.ledger.release_token(token)
            raise

    def _rx_idle(self, timeout: float | None, deadline: float | None) -> bool:
        """The RX ring stayed empty: wake the kernel if it asks to be, and sleep in poll() until
        something may have arrived. False when the caller's timeout is up."""
        self._check_gone()  # an idle RX ring may mean the interface went away
        if timeout == 0:
            return False
        self._rx_wakeup()
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        self._wait(select.POLLIN, 0.1 if remaining is None else min(remaining, 0.1))
        return True

    def _rx_wakeup(self) -> None:
        """Before sleeping on an empty RX ring: wake the kernel if it asks to be (or busy-polls)."""
        if self.busy_poll or _fill_needs_wakeup(self._path):
            rc = lib.xsk_sys_kick_rx(self.fd)
            if rc == -errno.ENXIO:
                self._check_gone()
            check(rc, "waking the kernel for RX")

    # --- asyncio ----------------------------------------------------------------------------
    def fileno(self) -> int:
        """The AF_XDP socket's file descriptor: poll() reports RX frames (POLLIN) and TX room (POLLOUT)."""
        self._usable()
        return self.fd

    async def recv_async(self, max: int = 256, *, timeout: float | None = None,
                         into: Batch | None = None) -> Batch:
        """``recv`` for asyncio: waits on the running loop (its reader callback on ``fileno()``),
        never in a thread; ``timeout`` None waits until frames arrive. Cancelled, it has taken nothing."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.recv(max, timeout=0, into=into, _spin=True)
            if len(batch):
                return batch
            into = batch  # empty: it owns nothing, so it is refilled in place next time
            remaining = _aio.remaining(deadline)
            if remaining <= 0:
                return batch
            self._rx_wakeup()
            await _aio.wait_fd(self.fd, False, remaining)

    async def send_async(self, batch: Batch, *, timeout: float | None = None) -> int:
        """Send the whole batch, waiting on the running loop for TX room between partial sends;
        returns how many went. Cancelled (or timed out), the unsent frames are still the batch's."""
        deadline = None if timeout is None else time.monotonic() + timeout
        sent = 0
        while True:
            sent += self.send(batch)
            if not len(batch):
                return sent
            self.complete()
            remaining = _aio.remaining(deadline)
            if remaining <= 0:
                return sent
            await _aio.wait_fd(self.fd, True, remaining)
            self._check_gone()

    async def flush_async(self, timeout: float = 1.0) -> bool:
        """``flush`` for asyncio: True when every frame sent on this socket has completed."""
        deadline = time.monotonic() + timeout
        nap = _aio.FLUSH_NAP[0]
        while True:
            self.complete()
            pending = self.outstanding()
            if not pending or time.monotonic() >= deadline:
                return not pending
            self._kick()
            await asyncio.sleep(nap)  # completions raise no fd event: nap between reaps, doubling
            nap = min(nap * 2, _aio.FLUSH_NAP[1])

    async def batches(self, max: int = 256) -> AsyncIterator[Batch]:
        """``async for batch in sock.batches(64)``: received batches, each the loop body's to send or release."""
        while True:
            yield await self.recv_async(max)

    # --- forwarding --------------------------------------------------------------------------
    def forward(self, max: int = 256, timeout: float | None = None, *, out: Socket | None = None,
                swap_macs: bool = False, swap_ips: bool = False, swap_ports: bool = False) -> int:
        """Receive up to ``max`` frames and put them straight on a TX ring, in one C call per batch;
        returns how many went (0 when ``timeout`` passed first).

        The TX ring is this socket's, or ``out``'s (a socket on the same UMEM). The frames go
        from the kernel's RX ring to its TX ring under the ledger's lock, so user space never
        owns them and nothing can be lost in between: no more are taken than the TX ring has
        room for; the rest wait on the RX ring (backpressure, as everywhere). After their TX
        completes they return to the pool and top up the fill ring. On the way, ``swap_macs``
        exchanges each frame's destination and source MAC (an L2 reflector), ``swap_ips`` its
        IPv4/IPv6 addresses and ``swap_ports`` its UDP/TCP ports where it has them (headers
        found as ``xsk.headers.parse`` finds them; checksums stay valid): a reply, as
        ``xsk.replies`` makes it. For rewrites that need Python, use ``recv`` and ``send``.
        ``timeout`` as for ``recv``.
        Single-buffer frames only. If waking the kernel for TX fails afterwards, the
        HostError raised carries ``accepted`` as ``send``'s does.
        """
        tx = self._loop_sockets(out, max, "forward", "it has nothing to forward", "it cannot send what is forwarded",
                                "forward() moves single-buffer frames")
        area = self.umem.area_pointer()
        flags = ((lib.XSK_FWD_SWAP_MACS if swap_macs else 0) | (lib.XSK_FWD_SWAP_IPS if swap_ips else 0)
                 | (lib.XSK_FWD_SWAP_PORTS if swap_ports else 0))
        path, tx_path = self._path, tx._path
        deadline = None if not timeout else time.monotonic() + timeout
        spins = _SPINS if timeout == 0 or self.busy_poll else 0
        while True:
            k = _path_forward(path, tx_path, area, max, flags)
            if k or path.kick_err:
                break
            if path.tx_full:  # frames may be waiting on the RX ring: wait for TX room, not for RX
                remaining = None if deadline is None else deadline - time.monotonic()
                if timeout == 0 or (remaining is not None and remaining <= 0):
                    break
                tx._wait(select.POLLOUT, 0.1 if remaining is None else min(remaining, 0.1))
                continue
            if spins < _SPINS and not _fill_needs_wakeup(path):
                spins += 1
                continue
            if not self._rx_idle(timeout, deadline):
                break
        if path.kick_err:
            tx._raise_kick_after(path.kick_err, k)
        return int(k)

    def _loop_sockets(self, out: Socket | None, max: int, call: str, no_rx: str, no_tx: str,
                      single: str) -> Socket:
        """The checks a C loop from this RX ring to ``out``'s TX ring (or its own) needs, shared by
        ``forward`` and ``serve`` (each with its own words); the socket that sends."""
        if self._closed or self._gone or self._pid != _procfork._pid:
            self._usable()  # raises what is wrong
        tx = self if out is None else out
        if tx is not self:
            tx._usable()
            if tx.umem is not self.umem:
                raise ConfigError(f"{call}(out={tx!r}): the sockets must share one UMEM")
        if not self.rx_enabled:
            raise ConfigError(f"{self!r} was made with rx=False: {no_rx}")
        if not tx.tx_enabled:
            raise ConfigError(f"{tx!r} was made with tx=False: {no_tx}")
        if self.multi_buffer or tx.multi_buffer:
            raise ConfigError(f"{single}; with multi_buffer=True use recv and send")
        if max < 1:
            raise ConfigError(f"must be at least 1, got {max}", argument="max")
        return tx

    def serve(self, loop: FrameLoop, max: int = 4096, timeout: float | None = None, *,
              out: Socket | None = None) -> int:
        """Run a compiled frame handler's loop (what :class:`xsk.Runner` makes of an
        :mod:`xsk.jit` handler) over up to ``max`` received frames, in one C call with the GIL
        released: receive, call the handler per frame, send its answers on this socket's TX ring
        (or ``out``'s, a socket on the same UMEM), give the rest back to the fill ring. Returns
        frames received (0 when ``timeout`` passed first; ``timeout`` as for ``recv``); the
        loop's counts say what became of them. Every frame is on a ring or in the pool when it
        returns. Single-buffer frames only."""
        tx = self._loop_sockets(out, max, "serve", "it has nothing to serve", "it cannot send replies",
                                "compiled handlers take single-buffer frames")
        area = self.umem.area_pointer()
        path, tx_path, c = self._path, tx._path, loop.c
        token = next(self._tokens)
        deadline = None if not timeout else time.monotonic() + timeout
        while True:
            k = _jit_run(c, path, tx_path, area, max, _SERVE_SPIN_NS, token)
            if k or tx_path.kick_err or c.stop or c.send_err:
                break
            if not self._rx_idle(timeout, deadline):
                break
        if c.send_err:  # the frames went back to the fill ring; only a broken ledger gets here
            raise IntegrityError(f"the data path refused a compiled handler's replies (error {c.send_err})")
        if tx_path.kick_err:
            tx._raise_kick_after(tx_path.kick_err, int(k))
        return int(k)

    def _refill(self) -> None:
        lib.xsk_path_refill(self._path)

    def release(self, batch: Batch) -> int:
        """Give a batch's frames to this socket's fill ring (the rest, if it is full, to the pool).

        After the interface is gone they all go to the pool.
        """
        if not self._gone and (self._closed or self._pid != _procfork._pid):
            self._usable()  # raises what is wrong (after the interface is gone, frames go to the pool)
        if batch._spent or batch._umem is not self.umem:
            self._own(batch)  # raises what is wrong
        if not self.rx_enabled or self._gone:
            if len(batch):
                self.umem.release(batch)
            return 0
        return self._fill(batch, "release", to_pool=True)

    def fill(self, batch: Batch) -> int:
        """Put a batch (e.g. from ``Umem.take``) on the fill ring; returns how many went (backpressure)."""
        self._usable()
        self._own(batch)
        if not self.rx_enabled:
            raise ConfigError(f"{self!r} was made with rx=False: it has no fill ring of its own to fill")
        return self._fill(batch, "fill", to_pool=False)

    def _fill(self, batch: Batch, what: str, to_pool: bool) -> int:
        """Fill ring <- the batch, as far as it fits; with ``to_pool`` the rest goes to the pool."""
        addrs = batch._addrs
        n = len(addrs)
        addrs_c = batch._addrs_c
        if addrs_c is None:
            addrs_c = batch.c_addrs()
        k: int = _path_fill(self._path, addrs_c, n, batch._token, to_pool)
        if k < 0:
            self.umem.ledger.raise_for(k, addrs, self._path.bad, what)
        if n and (to_pool or k == n) and not batch._views:
            batch._spent = True  # Batch._consume of the whole batch, inline on the data path
        else:
            batch._consume(n if to_pool else k)
        return k

    # --- TX --------------------------------------------------------------------------------
    def send(self, batch: Batch, *, check_bounds: bool = True) -> int:
        """Put the batch on the TX ring; return how many frames were accepted.

        Accepted frames leave the batch (they belong to the kernel until completion); the
        rest stay in it, still owned by the caller: a full ring is backpressure, never loss.
        If waking the kernel fails afterwards (the interface went down), the HostError raised
        carries ``accepted``: that many frames are on the TX ring all the same.
        ``check_bounds=False`` lets descriptors that run past their frame (or, on a UMEM with TX
        metadata, start inside its metadata area), and options the socket does not use, reach the
        kernel, which rejects them (counted in ``tx_invalid_descs``); their frames return to the
        pool when the kernel completes them (recent kernels do) or, at the latest, when the socket
        closes.
        """
        if self._closed or self._gone or self._pid != _procfork._pid:
            self._usable()  # raises what is wrong
        if not self.tx_enabled:
            raise ConfigError(f"{self!r} was made with tx=False")
        if batch._spent or batch._umem is not self.umem:
            self._own(batch)  # raises what is wrong
        opts = batch._opts
        if opts is None:
            opts_c = _NULL
        else:
            # checked as before without TX metadata (multi-buffer: not at all), so that path costs nothing more
            if (not self.multi_buffer or self.umem.tx_metadata_len) and len(opts) and int(
                    np.bitwise_or.reduce(opts)) & ~self._options:
                self._bad_options(opts, check_bounds)
            opts_c = ffi.from_buffer("uint32_t[]", opts)
        path = self._path
        addrs_c, lens_c = batch._addrs_c, batch._lens_c
        if addrs_c is None or lens_c is None:
            addrs_c, lens_c = batch.c_addrs(), batch.c_lens()
        n = len(batch._addrs)
        k: int = _path_send(path, addrs_c, lens_c, opts_c, n, batch._token, 1 if check_bounds else 0)
        if k < 0:
            self._refused(batch, k, path.bad)
        if k == n and n and not batch._views:
            batch._spent = True  # Batch._consume of the whole batch, inline on the data path
        else:
            batch._consume(k)
        if path.kick_err:
            self._raise_kick_after(path.kick_err, k)
        return k

    def send_all(self, batch: Batch, timeout: float = 1.0) -> int:
        """Send until the batch is empty or ``timeout`` seconds pass, waiting for TX room in
        between; returns how many frames went. Frames still in the batch at the timeout remain
        the caller's (send them later or release them)."""
        deadline = time.monotonic() + timeout
        sent = self.send(batch)
        while len(batch):
            self.complete()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wait(select.POLLOUT, min(remaining, _SLICE))
            self._check_gone()
            sent += self.send(batch)
        return sent

    def _bad_options(self, opts: np.ndarray, check: bool) -> None:
        """Raise for descriptor options this socket can't send: the kernel would reject the
        descriptors, or (XDP_TX_METADATA without a metadata area) refuse to send them and retry
        them forever. ``check`` False (``send(check_bounds=False)``): only XDP_PKT_CONTD without
        multi-buffer is refused; the rest is the kernel's to reject."""
        bits = int(np.bitwise_or.reduce(opts)) & ~self._options
        if bits & XDP_PKT_CONTD:
            raise ConfigError("fragments chained with XDP_PKT_CONTD need Socket(multi_buffer=True)")
        if not check:
            return
        if bits & txmeta.XDP_TX_METADATA:
            raise ConfigError("XDP_TX_METADATA in the batch's options: TX metadata needs a UMEM made with "
                              "Umem(tx_metadata=True) (and request_tx to write the request)")
        raise ConfigError(f"unknown descriptor options {bits:#x} in the batch (XDP_PKT_CONTD and XDP_TX_METADATA "
                          "are the kernel's)")

    def _refused(self, batch: Batch, rc: int, i: int) -> None:
        """Raise for a send the data path refused (it changed nothing)."""
        addrs, lens = batch._addrs, batch._lens
        md = self.umem.tx_metadata_len
        if rc == lib.XSK_ERR_BOUNDS and md and int(addrs[i]) % self.umem.frame_size < md:
            raise FrameTooLargeError(
                f"frame {i} of the batch starts {int(addrs[i]) % self.umem.frame_size} bytes into its frame: on a "
                f"UMEM with TX metadata the first {md} bytes of every frame hold its request (Umem.take leaves "
                "them; Batch.set_offsets moved the data into them); nothing was sent"
            )
        if rc == lib.XSK_ERR_BOUNDS:
            raise FrameTooLargeError(
                f"frame {i} of the batch: {int(lens[i])} bytes at offset "
                f"{int(addrs[i]) % self.umem.frame_size} do not fit in a "
                f"{self.umem.frame_size}-byte frame (or the length is 0); nothing was sent"
            )
        self.umem.ledger.raise_for(rc, addrs, i, "send")

    def _kick(self) -> None:
        """Wake the kernel until it has taken the TX ring's descriptors (copy mode: 32 per wakeup)."""
        rc = lib.xsk_path_kick(self._path)
        if rc < 0:
            self._raise_kick(rc)

    def _raise_kick_after(self, rc: int, accepted: int) -> None:
        """Raise for a failed wakeup after ``accepted`` frames went on the TX ring all the same."""
        try:
            self._raise_kick(rc)
        except HostError as exc:
            exc.accepted = accepted
            raise

    def _raise_kick(self, rc: int) -> None:
        if -rc == errno.ENXIO:
            self._check_gone()
        hint = "the interface is down: frames on the TX ring go when it is up again" \
            if -rc == errno.ENETDOWN else ""
        raise error_for(-rc, f"kicking TX on {self.ifname}", hint)

    def complete(self) -> int:
        """Reap completed TX frames into the pool; return how many."""
        return int(lib.xsk_path_complete(self._path))

    def tx_timestamps(self, max: int | None = None) -> txmeta.TxTimestamps:
        """Completion timestamps of frames sent with ``Batch.request_tx(timestamp=True)`` on this
        socket's queue whose completions were reaped since the last call: up to ``max`` (None:
        all there are) of them, oldest first (see :mod:`xsk.txmeta` for the clock and what 0 means).

        Reaping (``send``, ``recv``, ``complete``, ``flush``) read each timestamp before its frame
        went back to the pool; this only copies them out of the queue's log, which keeps the
        newest (``lost`` counts the older ones it overwrote unread). Sockets sharing a queue share
        its log: one of them reads each entry.
        """
        self._usable()
        log = self._group.txmd
        if log is None:
            raise ConfigError(f"{self!r}: its UMEM was made without tx_metadata=True, so no send asks for "
                              "timestamps")
        if max is not None and (not isinstance(max, int) or max < 0):
            raise ConfigError(f"must be a count of entries (or None: all), got {max!r}", argument="max")
        want = min(int(log.c.written - log.c.read), log.cap)  # grows, never shrinks, under this socket's thread
        if max is not None:
            want = min(want, max)
        addrs = np.empty(want, dtype=np.uint64)
        ns = np.empty(want, dtype=np.uint64)
        lost = ffi.new("uint64_t *")
        n = int(lib.xsk_txmd_read(self.umem.ledger.c, log.c, ffi.from_buffer("uint64_t[]", addrs),
                                  ffi.from_buffer("uint64_t[]", ns), want, lost))
        return txmeta.TxTimestamps(addrs[:n], ns[:n], int(lost[0]))

    def outstanding(self) -> int:
        """TX frames of this socket not yet completed."""
        return self.umem.ledger.held_by("TX", self._group.owner)

    def flush(self, timeout: float = 1.0) -> bool:
        """Kick and reap until every frame sent on this socket has completed, or ``timeout``.

        Returns True when nothing is outstanding. Frames in descriptors the kernel rejected
        never complete (see ``send``).
        """
        self._usable()
        deadline = time.monotonic() + timeout
        while True:
            self.complete()
            pending = self.outstanding()
            if not pending or time.monotonic() >= deadline:
                return not pending
            self._kick()
            self._wait(select.POLLOUT, 0.001)

    # --- readiness and counters ------------------------------------------------------------
    def _wait(self, events: int, timeout: float | None) -> int:
        """poll() the socket for ``events`` up to ``timeout`` seconds (None: forever); the events that came."""
        self._poller.register(self.fd, events)
        try:
            ready = self._poller.poll(None if timeout is None else math.ceil(timeout * 1000))
        finally:
            self._poller.unregister(self.fd)
        return ready[0][1] if ready else 0

    def poll(self, timeout: float | None = None, rx: bool = True, tx: bool = False) -> Readiness:
        """Wait up to ``timeout`` seconds (None: forever) until RX has frames or TX has room.

        In copy mode a poll for TX also makes the kernel transmit what is on the TX ring.
        """
        self._usable()
        events = (select.POLLIN if rx else 0) | (select.POLLOUT if tx else 0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # in slices: an unbound socket (interface deleted) never becomes ready
            remaining = _SLICE if deadline is None else min(_SLICE, max(deadline - time.monotonic(), 0))
            got = self._wait(events, remaining)
            if got & (select.POLLIN | select.POLLOUT):
                return Readiness(bool(got & select.POLLIN), bool(got & select.POLLOUT))
            self._check_gone()
            if deadline is not None and time.monotonic() >= deadline:
                return Readiness(False, False)

    def statistics(self) -> dict[str, int]:
        """The kernel's XDP_STATISTICS counters for this socket, by name."""
        self._usable()
        return self._place.statistics()

    def diagnose(self) -> list[Cause]:
        """Why frames were lost or refused at this socket, from the kernel's counters (``statistics``)
        read with the socket's configuration: one :class:`xsk._diagnose.Cause` per counter that
        moved, with the likely reason and the fix; [] when nothing was lost."""
        stats = self.statistics()
        return diagnose_mod.causes(stats, frame_size=self.umem.frame_size, headroom=self.umem.headroom,
                                   mtu=self._place.mtu(), multi_buffer=self.multi_buffer, ring_size=self.ring_size,
                                   fill_frames=self.fill_frames, rx=self.rx_enabled, tx=self.tx_enabled)

    def set_filter(self, spec: str | list[Rule] | None) -> None:
        """Change which frames of this socket's queue are steered to it, at run time (None: all).

        Filters are per queue: other queues' sockets, in this process or another, keep theirs."""
        self._usable()
        program = self._place.program
        if program is None:
            raise ConfigError(f"{self!r} has no XDP program (rx=False)")
        program.set_rules(filter_mod.parse(spec), self.queue)

    def filter_hits(self) -> list[int]:
        """Frames of this socket's queue matched by each filter rule since it was bound, then the
        queue's frames passed on to the kernel stack."""
        self._usable()
        program = self._place.program
        if program is None:
            raise ConfigError(f"{self!r} has no XDP program (rx=False)")
        return program.hits(self.queue)

    @property
    def xdp_mode(self) -> str | None:
        """How the redirect program is attached ("native" or "skb"), None for a TX-only socket."""
        return self._place.xdp_mode

    def _own(self, batch: Batch) -> None:
        if batch._umem is not self.umem:
            raise FrameOwnershipError(f"this batch belongs to another UMEM than {self!r}'s")
        batch._live()
