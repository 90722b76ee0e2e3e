"""Rate control on an absolute schedule, so the long-run average is exact.

Packet ``k`` is due at ``t0 + k / rate``. ``allowance()`` says how many are due now (at
most ``burst``, the most sent back to back); ``wait()`` sleeps until the next one is due,
sleeping in the OS when the gap is long and spinning on the clock when it is short.
Falling behind (a slow kernel, a descheduled process, a garbage collection) is made up for,
so the average over any second or more holds, but at most at ``catch_up`` times the asked rate
(a second token bucket, ``burst`` deep): a receiver sized for the asked rate sees the backlog
as a stretch at twice that rate, not as thousands of frames at line rate that overrun its
fill ring.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from ..errors import ConfigError

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def rate_value(text: str) -> tuple[float, bool]:
    """``100k`` -> (100000.0, False) packets/s; ``2Gbit`` -> (2e9, True) bits/s."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*(bit|bps|b|pps)?\s*", text)
    if not m:
        raise ConfigError(f"bad rate {text!r}: e.g. 100k, 1.5M (packets/s) or 2Gbit (bits/s)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value <= 0:
        raise ConfigError(f"rate {text!r} must be positive")
    return value, m.group(3) in ("bit", "bps", "b")


def parse_rate(text: str, frame_len: float) -> float:
    """``100k``, ``1.5M`` (packets/s) or ``2Gbit``, ``500Mbit`` (bits/s of frames) -> packets/s.

    Bit rates count the frame's bytes (without FCS, preamble or gap), as the statistics do;
    ``frame_len`` is the mean length when frames differ.
    """
    value, bits = rate_value(text)
    return value / (frame_len * 8) if bits else value


CATCH_UP = 2.0


class Pacer:
    """Hands out permission to send at ``pps`` packets per second, ``burst`` at a time.

    The schedule starts at the first ``allowance`` or ``grant``; ``clock`` (seconds) is
    ``time.perf_counter`` unless a test gives its own.
    """

    def __init__(self, pps: float, burst: int, *, catch_up: float = CATCH_UP,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if pps <= 0 or burst < 1:
            raise ConfigError("rate and burst must be positive")
        if catch_up <= 1:
            raise ConfigError("catch_up must exceed 1, or a backlog is never made up")
        self.pps = pps
        self.burst = burst
        self.catch_up = catch_up
        self.sent = 0
        self.t0: float | None = None
        self._clock = clock
        self._tokens = float(burst)  # the catch-up bucket, refilled at catch_up * pps
        self._refilled = 0.0

    def allowance(self) -> int:
        now = self._clock()
        if self.t0 is None:
            self.t0 = self._refilled = now
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.pps * self.catch_up)
        self._refilled = now
        due = int((now - self.t0) * self.pps) + 1 - self.sent
        return max(0, min(due, self.burst, int(self._tokens)))

    def grant(self, want: int) -> int:
        """How many of ``want`` packets may go now; 0 after waiting for the next one to fall due."""
        allowed = self.allowance()
        if not allowed:
            self.wait()
            return 0
        return min(want, allowed)

    def consumed(self, n: int) -> None:
        """``n`` packets went (negative: that many given back unsent, to go again)."""
        self.sent += n
        self._tokens -= n

    def next_at(self) -> float:
        """When the next packet may go: its place in the schedule, or later while catching up."""
        assert self.t0 is not None
        at = self.t0 + self.sent / self.pps
        if self._tokens < 1:
            at = max(at, self._refilled + (1 - self._tokens) / (self.pps * self.catch_up))
        return at

    def wait(self) -> None:
        if self.t0 is None:
            return
        at = self.next_at()
        gap = at - self._clock()
        if gap > 0.0005:
            time.sleep(gap - 0.0003)
        while self._clock() < at:
            pass
