"""Runner: the receive → handle → reply loop for a custom protocol.

    def handler(batch, h):          # h: xsk.headers.Headers of the batch
        replies.swap_macs(batch)    # answer in place, in the received frames
        return h.udp                # frames to send back; the others return to the fill ring

    stats = Runner(sock, handler).run()

Ownership: each received batch belongs to the handler while it runs. The frames it
selects are sent (the kernel owns them until their completion is reaped, then they go
to the pool and from there to the fill ring); the rest go straight back to the fill
ring. ``run()`` stops on SIGINT/SIGTERM (or ``stop()``, ``count``, ``duration``) after the
current batch, waits for outstanding TX to complete, and returns its statistics; the
UMEM's accounting then balances with no frame left with the user.

A compiled frame handler (:func:`xsk.jit.handler`) runs differently: the whole loop (receive,
the handler per frame, send, give back) is C with the GIL released, one C call per few thousand
frames; ``compiled=False`` runs the handler's Python from the same loop, for debugging. Its
frames are never the user's: each is on a ring or in the pool between the loop's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import headers as headers_mod
from ._batch import Batch
from ._jitcore import FrameHandler
from ._jitloop import FrameLoop
from ._socket import Socket
from .errors import ConfigError
from .headers import Headers

Handler = Callable[[Batch, Headers], "np.ndarray | bool | None"]
_SERVE_FRAMES = 4096  # frames per C call of a compiled handler's loop: ~1-4 ms, so signals are seen soon
_parse = headers_mod.parse


@dataclass
class RunnerStats:
    """What a Runner did: frames ``received``, ``replied`` (sent back), ``returned`` (given back to
    the fill ring without a reply), ``tx_dropped`` (selected for reply but the TX ring stayed full:
    given back), ``batches`` handled, ``busy_seconds`` (from a batch's arrival to its replies on the
    TX ring, summed) and ``seconds`` (wall-clock seconds spent inside ``run``/``run_async``, summed
    over runs like every other field, so ``received / seconds`` is the rate over them).
    ``received`` is current while a run goes on, for another thread to read (updated after every
    batch, or every C call of a compiled handler's loop: a few thousand frames); the others are
    final when the run returns. A compiled frame handler's runs also count ``dropped`` (it
    returned DROP), ``invalid`` (a bad action or a length past the frame) and ``raised`` (an
    exception inside it); those frames were given back too."""

    received: int = 0
    replied: int = 0
    returned: int = 0
    tx_dropped: int = 0
    seconds: float = 0.0
    batches: int = 0
    busy_seconds: float = 0.0
    dropped: int = 0
    invalid: int = 0
    raised: int = 0

    @property
    def busy_us_per_batch(self) -> float:
        """What the loop itself costs per batch: parse, the handler, select, send (microseconds)."""
        return self.busy_seconds / self.batches * 1e6 if self.batches else 0.0


class Runner:
    """Drives ``handler`` over batches received on ``sock``; replies go out of ``tx`` (default: ``sock``).

    ``handler``: a function of a batch and its headers (see the module), or a frame handler made
    with :func:`xsk.jit.handler`, compiled here (numba's message if it can't be, before any
    traffic) and run in C; ``compiled=False`` runs a frame handler's Python instead, from the
    same C loop (for debugging: same results, an exception stops the run and is raised).
    """

    def __init__(self, sock: Socket, handler: Handler | FrameHandler, *, batch: int = 64, tx: Socket | None = None,
                 send_retries: int = 100, verify_checksums: bool = False, compiled: bool | None = None) -> None:
        self.sock = sock
        self.verify_checksums = verify_checksums  # the handler's Headers carry l4_csum (see headers.parse)
        self.tx = tx or sock
        self.handler = handler
        self._batch_handler: Handler | None = None if isinstance(handler, FrameHandler) else handler
        self.batch = batch
        self.send_retries = send_retries
        self.stats = RunnerStats()
        self._stop = threading.Event()
        self._loop: FrameLoop | None = None
        if isinstance(handler, FrameHandler):
            self._loop = FrameLoop(handler, compiled=compiled is not False, batch=batch,
                                   verify_checksums=verify_checksums, send_retries=send_retries)
        elif compiled:
            raise ConfigError("compiled=True needs a frame handler made with xsk.jit.handler", argument="compiled")

    def stop(self) -> None:
        """Ask the loop to finish after the current batch (safe from signal handlers and threads)."""
        self._stop.set()
        if self._loop is not None:
            self._loop.stop()

    def run(self, *, count: int | None = None, duration: float | None = None,
            handle_signals: bool = True) -> RunnerStats:
        """Loop until stopped, ``count`` frames received in this run, or ``duration`` seconds passed."""
        previous = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self.stop())
        t0 = time.monotonic()
        deadline = t0 + duration if duration else None
        b: Batch | None = None  # refilled in place (into=) once all its frames went out or back
        clock, stats, recv, handle, stopped = time.perf_counter, self.stats, self.sock.recv, self._handle, self._stop
        try:
            if self._loop is not None:
                self._serve(self._loop, count, deadline)
            end = None if count is None else stats.received + count  # count is this run's, not the sum's
            while self._loop is None and not stopped.is_set():
                if end is not None and stats.received >= end:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                want = self.batch if end is None else min(self.batch, end - stats.received)
                b = recv(want, timeout=0.05, into=b if b is not None and b.spent else None)
                n = len(b)
                if not n:
                    if self.tx is not self.sock:
                        self.tx.complete()
                    continue
                started = clock()
                stats.received += n
                handle(b)
                stats.busy_seconds += clock() - started
                stats.batches += 1
        finally:
            with contextlib.suppress(Exception):
                self.tx.flush(timeout=1.0)
            for sig, old in previous.items():
                signal.signal(sig, old)
            self.stats.seconds += time.monotonic() - t0
        return self.stats

    def _serve(self, loop: FrameLoop, count: int | None, deadline: float | None) -> None:
        """run() for a frame handler: the socket's C loop, a few thousand frames per call."""
        stopped, stats, serve, tx = self._stop, self.stats, self.sock.serve, self.tx
        out = None if tx is self.sock else tx
        loop.c.stop = 0
        received = loop.c.c.received
        try:
            while not stopped.is_set():
                done = loop.c.c.received - received
                if count is not None and done >= count:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                budget = _SERVE_FRAMES if count is None else min(_SERVE_FRAMES, count - done)
                if not serve(loop, budget, timeout=0.05, out=out) and out is not None:
                    tx.complete()
                stats.received = loop.c.c.received  # live, for a thread watching the rate
                if loop.error is not None:
                    error, loop.error = loop.error, None
                    raise error
        finally:
            for name, value in loop.counts().items():
                if name == "busy_ns":
                    stats.busy_seconds = value / 1e9
                else:
                    setattr(stats, name, value)

    async def run_async(self, *, count: int | None = None, duration: float | None = None,
                        handle_signals: bool = True) -> RunnerStats:
        """``run`` on the running asyncio loop: waits for frames through the loop (no thread, no core
        burnt while idle), handles each batch as ``run`` does. Ends on ``stop()``, ``count``,
        ``duration``, SIGINT/SIGTERM (as ``run``: the loop's handlers for them while it runs, the
        previous ones put back after; ``handle_signals=False`` leaves them alone) or cancellation;
        either way outstanding TX is flushed and no frame is left with the user (a cancel can only
        land while waiting, when the loop holds none).

        A compiled frame handler's loop is C that spins with the GIL released: it runs in a thread
        of its own (one per Runner) while the event loop goes on; stopping, signals and
        cancellation end it after its current call (a few milliseconds)."""
        loop = asyncio.get_running_loop()
        installed = self._install_async_signals(loop) if handle_signals else {}
        t0 = time.monotonic()
        deadline = t0 + duration if duration else None
        try:
            if self._loop is not None:
                frame_loop = self._loop
                worker = loop.run_in_executor(None, self._serve, frame_loop, count, deadline)
                try:
                    await asyncio.shield(worker)
                except asyncio.CancelledError:
                    self.stop()  # the C loop sees it within one call; its frames are on rings or in the pool
                    with contextlib.suppress(Exception):
                        await worker
                    raise
            else:
                await self._receive_async(count, deadline)
        finally:
            with contextlib.suppress(Exception):
                self.tx.flush(timeout=1.0)
            self._restore_async_signals(loop, installed)
            self.stats.seconds += time.monotonic() - t0
        return self.stats

    async def _receive_async(self, count: int | None, deadline: float | None) -> None:
        b: Batch | None = None
        clock, stats, sock, stopped = time.perf_counter, self.stats, self.sock, self._stop
        end = None if count is None else stats.received + count  # count is this run's, not the sum's
        while not stopped.is_set():
            if end is not None and stats.received >= end:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            want = self.batch if end is None else min(self.batch, end - stats.received)
            wait = 0.1 if deadline is None else min(0.1, deadline - now)
            b = await sock.recv_async(want, timeout=wait, into=b if b is not None and b.spent else None)
            n = len(b)
            if not n:
                if self.tx is not self.sock:
                    self.tx.complete()
                continue
            started = clock()
            stats.received += n
            self._handle(b)
            stats.busy_seconds += clock() - started
            stats.batches += 1

    def _install_async_signals(self, loop: asyncio.AbstractEventLoop) -> dict[int, Any]:
        """SIGINT/SIGTERM stop this Runner while run_async runs: the previous handlers, to put back.
        Only from the main thread (where asyncio can take signals); elsewhere nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            before = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):  # a loop without signal support
                continue
            previous[sig] = before
        return previous

    @staticmethod
    def _restore_async_signals(loop: asyncio.AbstractEventLoop, previous: dict[int, Any]) -> None:
        for sig, before in previous.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
                signal.signal(sig, before if before is not None else signal.SIG_DFL)

    def _handle(self, b: Batch) -> None:
        try:
            assert self._batch_handler is not None  # run() serves a frame handler without coming here
            selected = self._batch_handler(b, _parse(b, verify_checksums=self.verify_checksums))
        except BaseException:
            if not b.spent:
                self.sock.release(b)
            raise
        if b.spent:  # the handler took care of the frames itself
            return
        stats = self.stats
        if selected is None or selected is True:
            out = b  # the whole batch answers: no split
        elif selected is False:
            stats.returned += len(b)
            self.sock.release(b)
            return
        else:
            mask = np.asarray(selected, dtype=bool)
            if np.count_nonzero(mask) == len(mask):
                out = b
            else:
                out = b.select(mask)
                if len(b):
                    stats.returned += len(b)
                    self.sock.release(b)
        send, tries = self.tx.send, 0
        while tries < self.send_retries and len(out):
            stats.replied += send(out)
            if out.spent:  # all of it went: the usual case, one send
                return
            tries += 1
        if len(out):
            stats.tx_dropped += len(out)
            self.sock.release(out)
