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
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import headers as headers_mod
from ._batch import Batch
from ._socket import Socket
from .headers import Headers

Handler = Callable[[Batch, Headers], "np.ndarray | bool | None"]
_parse = headers_mod.parse


@dataclass
class RunnerStats:
    received: int = 0
    replied: int = 0
    returned: int = 0  # given back to the fill ring without a reply
    tx_dropped: int = 0  # selected for reply but the TX ring stayed full
    seconds: float = 0.0
    batches: int = 0  # batches handled
    busy_seconds: float = 0.0  # from a batch's arrival to its replies on the TX ring, summed

    @property
    def busy_us_per_batch(self) -> float:
        """What the loop itself costs per batch: parse, the handler, select, send (microseconds)."""
        return self.busy_seconds / self.batches * 1e6 if self.batches else 0.0


class Runner:
    """Drives ``handler`` over batches received on ``sock``; replies go out of ``tx`` (default: ``sock``)."""

    def __init__(self, sock: Socket, handler: Handler, *, batch: int = 64, tx: Socket | None = None,
                 send_retries: int = 100, verify_checksums: bool = False) -> None:
        self.sock = sock
        self.verify_checksums = verify_checksums  # the handler's Headers carry l4_csum (see headers.parse)
        self.tx = tx or sock
        self.handler = handler
        self.batch = batch
        self.send_retries = send_retries
        self.stats = RunnerStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to finish after the current batch (safe from signal handlers and threads)."""
        self._stop.set()

    def run(self, *, count: int | None = None, duration: float | None = None,
            handle_signals: bool = True) -> RunnerStats:
        """Loop until stopped, ``count`` frames received, or ``duration`` seconds passed."""
        previous = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self.stop())
        t0 = time.monotonic()
        deadline = t0 + duration if duration else None
        b: Batch | None = None  # refilled in place (into=) once all its frames went out or back
        clock, stats, recv, handle, stopped = time.perf_counter, self.stats, self.sock.recv, self._handle, self._stop
        try:
            while not stopped.is_set():
                if count is not None and stats.received >= count:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                want = self.batch if count is None else min(self.batch, count - stats.received)
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
            self.stats.seconds = time.monotonic() - t0
        return self.stats

    async def run_async(self, *, count: int | None = None, duration: float | None = None) -> RunnerStats:
        """``run`` on the running asyncio loop: waits for frames through the loop (no thread, no core
        burnt while idle), handles each batch as ``run`` does. Ends on ``stop()``, ``count``,
        ``duration`` or cancellation; either way outstanding TX is flushed and no frame is left
        with the user (a cancel can only land while waiting, when the loop holds none)."""
        t0 = time.monotonic()
        deadline = t0 + duration if duration else None
        b: Batch | None = None
        clock, stats, sock, stopped = time.perf_counter, self.stats, self.sock, self._stop
        try:
            while not stopped.is_set():
                if count is not None and stats.received >= count:
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                want = self.batch if count is None else min(self.batch, count - stats.received)
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
        finally:
            with contextlib.suppress(Exception):
                self.tx.flush(timeout=1.0)
            stats.seconds = time.monotonic() - t0
        return stats

    def _handle(self, b: Batch) -> None:
        try:
            selected = self.handler(b, _parse(b, verify_checksums=self.verify_checksums))
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
