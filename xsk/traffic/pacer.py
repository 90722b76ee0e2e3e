"""Rate control on an absolute schedule, so the long-run average is exact.

Packet ``k`` is due at ``t0 + k / rate``. ``allowance()`` says how many are due now (at
most ``burst``, the most sent back to back); ``wait()`` sleeps until the next one is due,
sleeping in the OS when the gap is long and spinning on the clock when it is short.
Falling behind (a slow kernel, a descheduled process) is made up for by sending the
backlog in bursts, so the average over any second or more holds.
"""

from __future__ import annotations

import re
import time

from ..errors import ConfigError

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_rate(text: str, frame_len: int) -> float:
    """``100k``, ``1.5M`` (packets/s) or ``2Gbit``, ``500Mbit`` (bits/s of frames) -> packets/s.

    Bit rates count the frame's bytes (without FCS, preamble or gap), as the statistics do.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*(bit|bps|b|pps)?\s*", text)
    if not m:
        raise ConfigError(f"bad rate {text!r}: e.g. 100k, 1.5M (packets/s) or 2Gbit (bits/s)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if m.group(3) in ("bit", "bps", "b"):
        value /= frame_len * 8
    if value <= 0:
        raise ConfigError(f"rate {text!r} must be positive")
    return value


class Pacer:
    """Hands out permission to send at ``pps`` packets per second, ``burst`` at a time."""

    def __init__(self, pps: float, burst: int) -> None:
        if pps <= 0 or burst < 1:
            raise ConfigError("rate and burst must be positive")
        self.pps = pps
        self.burst = burst
        self.sent = 0
        self.t0: float | None = None

    def allowance(self) -> int:
        now = time.perf_counter()
        if self.t0 is None:
            self.t0 = now
        due = int((now - self.t0) * self.pps) + 1 - self.sent
        return max(0, min(due, self.burst))

    def grant(self, want: int) -> int:
        """How many of ``want`` packets may go now; 0 after waiting for the next one to fall due."""
        allowed = self.allowance()
        if not allowed:
            self.wait()
            return 0
        return min(want, allowed)

    def consumed(self, n: int) -> None:
        self.sent += n

    def wait(self) -> None:
        if self.t0 is None:
            return
        gap = self.t0 + self.sent / self.pps - time.perf_counter()
        if gap > 0.0005:
            time.sleep(gap - 0.0003)
        while time.perf_counter() < self.t0 + self.sent / self.pps:
            pass
