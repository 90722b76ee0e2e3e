"""The long-run health of a command's UMEM: its whole ledger verified on a fixed schedule and
the process's memory footprint sampled alongside.

A :class:`Health` belongs to one worker loop and lives as long as it; it holds a reference to
the worker's UMEM but never owns a frame. The loop asks :meth:`Health.due` each round and calls
:meth:`Health.check` when it is; the schedule is fixed (one instant per second from the start,
not one second after the last check), so a loop that stalls past an instant is counted in
``ledger_missed`` instead of silently stretching the interval.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

from .._ledger import verify_everywhere


def rss_kib() -> int:
    """This process's resident set size in KiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of ``(seconds, kib)`` samples, in KiB per minute (0 for fewer than 3)."""
    if len(samples) < 3:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 60.0


SLOPE_SECONDS = 20.0
"""The least span of samples after the warm-up that a memory trend is reported for: over a few
seconds an allocator's one-off step reads as thousands of KiB a minute, which is no leak."""

FOOTPRINT_KEYS = ("ledger_checks", "ledger_missed", "kernel_errors", "rss_kib", "rss_start_kib", "rss_growth_kib",
                  "rss_peak_growth_kib", "rss_slope_kib_per_min", "rss_slope_note")
"""The keys of :meth:`Health.summary` (``rss_slope_note`` only when there is no slope), which a
worker's result carries beside its own."""


class Health:
    """Once a second: the ledger's full check (if asked for) and the memory footprint.

    The footprint's baseline is the first sample taken a second or more after traffic began
    (:meth:`traffic_started`; without that call, a second after construction), so start-up
    allocations don't count: a receiver's first frames fault in the RX ring's pages and each
    stream's window, half a MiB before any leak could start. :meth:`summary` reports
    ``rss_start_kib`` (the baseline), ``rss_growth_kib`` (last minus baseline),
    ``rss_peak_growth_kib`` (highest minus baseline) and ``rss_slope_kib_per_min`` (least
    squares from the baseline on; None, and ``rss_slope_note`` says why, when the samples span
    less than ``SLOPE_SECONDS``): a leak of a byte per packet shows in all three, allocator
    noise only as a bounded step. ``ledger_checks`` counts full verifications (the final one,
    which :meth:`summary` always makes, included), ``ledger_missed`` the scheduled seconds that
    passed without a check, and ``kernel_errors`` the descriptors the kernel returned that named
    no frame it held (a broken ledger raises instead of reporting).

    The once-a-second checks run when ``verify`` is true or the environment has
    ``XSK_VERIFY_LEDGER=1`` (:func:`xsk._ledger.verify_everywhere`), which a test suite sets so that every
    process it starts verifies its ledger without an option on each command line.
    """

    INTERVAL = 1.0

    def __init__(self, umem: Any, verify: bool) -> None:
        self.umem = umem
        self.verify = verify or verify_everywhere()
        self.checks = 0
        self.missed = 0
        self.t0 = time.monotonic()
        self.next_at = self.t0 + self.INTERVAL
        self.samples: list[tuple[float, int]] = []
        self.warm_until = self.t0 + self.INTERVAL
        self._started = False

    def traffic_started(self) -> None:
        """Note the first frame sent or received (only the first call counts): samples taken in
        the second after it are warm-up, not growth."""
        if not self._started:
            self._started = True
            self.warm_until = time.monotonic() + self.INTERVAL

    def due(self) -> bool:
        """True when a scheduled instant has passed since the last check."""
        return time.monotonic() >= self.next_at

    def check(self) -> None:
        """Verify the ledger (raises :class:`~xsk.LedgerError` on any inconsistency) and sample RSS."""
        now = time.monotonic()
        if now >= self.next_at:
            late = int((now - self.next_at) // self.INTERVAL)
            self.missed += late
            self.next_at += (late + 1) * self.INTERVAL
        if self.verify:
            self.umem.verify()
            self.checks += 1
        self.samples.append((now - self.t0, rss_kib()))

    def summary(self) -> dict[str, Any]:
        """The final check, a full verification whether or not the periodic ones were asked for
        (O(frames), once), then the figures above (``rss_kib`` is the last sample)."""
        self.verify = True
        self.check()
        warm = [(t, v) for t, v in self.samples if self.t0 + t >= self.warm_until] or self.samples[-1:]
        first, last = warm[0][1], warm[-1][1]
        out: dict[str, Any] = {
            "rss_kib": last,
            "rss_start_kib": first,
            "rss_growth_kib": last - first,
            "rss_peak_growth_kib": max(v for _, v in warm) - first,
            "rss_slope_kib_per_min": None,
            "ledger_checks": self.checks,
            "ledger_missed": self.missed,
            "kernel_errors": self.umem.ledger.kernel_errors,
        }
        span = warm[-1][0] - warm[0][0]
        if span >= SLOPE_SECONDS:
            out["rss_slope_kib_per_min"] = round(slope_per_minute(warm), 1)
        else:
            out["rss_slope_note"] = (f"no trend from {span:.0f} s of samples (it needs {SLOPE_SECONDS:.0f} s after "
                                     "the first second of traffic): rss_growth_kib says what grew")
        return out


def quiet_gc() -> None:
    """Collect once, then freeze every object alive (modules, scapy, set-up) out of the collector.

    Call it right before a data loop. A full collection in a process that imported scapy takes
    20-90 ms here, a stall no ring absorbs at speed (300k pps fill 4,096 frames in 14 ms);
    after the freeze, collections only walk what the loop itself made.
    """
    gc.collect()
    gc.freeze()
