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
from .batch import Batch
from .headers import Headers
from .socket import Socket

Handler = Callable[[Batch, Headers], "np.ndarray | bool | None"]


@dataclass
class RunnerStats:
    received: int = 0
    replied: int = 0
    returned: int = 0  # given back to the fill ring without a reply
    tx_dropped: int = 0  # selected for reply but the TX ring stayed full
    seconds: float = 0.0


class Runner:
    """Drives ``handler`` over batches received on ``sock``; replies go out of ``tx`` (default: ``sock``)."""

    def __init__(self, sock: Socket, handler: Handler, *, batch: int = 64, tx: Socket | None = None,
                 send_retries: int = 100) -> None:
        self.sock = sock
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
        try:
            while not self._stop.is_set():
                if count is not None and self.stats.received >= count:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                want = self.batch if count is None else min(self.batch, count - self.stats.received)
                b = self.sock.recv(want, timeout=0.05)
                if not len(b):
                    if self.tx is not self.sock:
                        self.tx.complete()
                    continue
                self.stats.received += len(b)
                self._handle(b)
        finally:
            with contextlib.suppress(Exception):
                self.tx.flush(timeout=1.0)
            for sig, old in previous.items():
                signal.signal(sig, old)
            self.stats.seconds = time.monotonic() - t0
        return self.stats

    def _handle(self, b: Batch) -> None:
        try:
            selected = self.handler(b, headers_mod.parse(b))
        except BaseException:
            if not b.spent:
                self.sock.release(b)
            raise
        if b.spent:  # the handler took care of the frames itself
            return
        if selected is None or selected is True:
            out = b.select(np.ones(len(b), dtype=bool))
        elif selected is False:
            out = b.select(np.zeros(len(b), dtype=bool))
        else:
            out = b.select(np.asarray(selected, dtype=bool))
        if len(b):
            self.stats.returned += len(b)
            self.sock.release(b)
        tries = 0
        while len(out) and tries < self.send_retries:
            self.stats.replied += self.tx.send(out)
            tries += 1
        if len(out):
            self.stats.tx_dropped += len(out)
            self.sock.release(out)
