"""Rates as text (``parse_rate``), and rate control on an absolute schedule, so the long-run average is exact.

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
from dataclasses import dataclass

from ..errors import ConfigError

_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
WIRE_OVERHEAD = 24
"""Bytes each frame takes on the wire beyond what is sent (and counted): the 4-byte FCS, the
8-byte preamble and start delimiter, and the 12-byte inter-frame gap. An L1 rate counts them."""

RATE_FORMS = ("packets/s: 100k, 1.5M, 200kpps, 2Mpps; bits/s of frames as sent (L2): 2Gbit, 500Mbit/s, 100kbps, "
              "1Gbps; bits/s on the wire (L1: frames with FCS, preamble and gap, 24 bytes each more): "
              "'10Gbit L1', '1Gbps-L1'; a share of the link's line rate (L1): 50%")

_RATE = re.compile(r"\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>.*?)\s*")
_UNIT = re.compile(r"(?P<prefix>[kKmMgG]?)(?:(?P<pps>pps)|(?P<bits>bit/s|bits/s|bits|bit|bps))?"
                   r"(?:\s*[-_ /]?\s*(?P<layer>[lL][12]))?")


@dataclass(frozen=True)
class Rate:
    """A rate as given: ``value`` in ``unit``, "pps", "bps" (L2: frame bytes as sent),
    "bps_l1" (on the wire) or "percent" (of the link's line rate, on the wire)."""

    value: float
    unit: str

    def pps(self, frame_len: float, line_bps: float | None = None) -> float:
        """Packets per second at a mean frame length of ``frame_len`` bytes (without FCS);
        ``line_bps``: the link's line rate, which a percentage needs."""
        if self.unit == "pps":
            return self.value
        if self.unit == "bps":
            return self.value / (frame_len * 8)
        wire_bits = (frame_len + WIRE_OVERHEAD) * 8
        if self.unit == "bps_l1":
            return self.value / wire_bits
        if line_bps is None:
            raise ConfigError(f"{self.value:g}% needs the link's line rate; give an absolute rate "
                              "(e.g. 100k or 1Gbit)")
        return line_bps * self.value / 100 / wire_bits


def rate_value(text: str) -> Rate:
    """``100k`` -> Rate(100000.0, "pps"); ``2Gbit`` -> Rate(2e9, "bps"); ``10Gbit L1`` ->
    Rate(1e10, "bps_l1"); ``50%`` -> Rate(50.0, "percent"). Units are taken only where they say
    what they count: ``10kb`` (bits or bytes?) and byte rates (``MB/s``) are refused, naming the
    forms taken (``RATE_FORMS``)."""
    m = _RATE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(f"bad rate {text!r}: give {RATE_FORMS}")
    value, unit = float(m["number"]), m["unit"]
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"rate {text!r} must be positive")
    if unit == "%":
        if value > 100:
            raise ConfigError(f"rate {text!r}: a share of the line rate is at most 100%")
        return Rate(value, "percent")
    u = _UNIT.fullmatch(unit)
    if not u or (u["layer"] and not u["bits"]):
        what = "bits or bytes? " if re.fullmatch(r"[kKmMgG]?[bB](?:/s|ps)?", unit) else ""
        raise ConfigError(f"bad rate {text!r}: unit {unit!r} {'is ambiguous' if what else 'is not one taken'} "
                          f"({what}give {RATE_FORMS})")
    value *= _PREFIXES[u["prefix"].lower()]
    if u["bits"]:
        return Rate(value, "bps_l1" if (u["layer"] or "").lower() == "l1" else "bps")
    return Rate(value, "pps")


def parse_rate(text: str, frame_len: float, line_bps: float | None = None) -> float:
    """A rate as text -> packets/s at a mean frame length of ``frame_len`` bytes (without FCS).

    ``100k``, ``1.5M``, ``200kpps`` (packets/s); ``2Gbit``, ``500Mbit/s``, ``1Gbps`` (bits/s of
    frame bytes as sent, as the statistics count them: L2); ``10Gbit L1`` (bits/s on the wire:
    each frame and its FCS, preamble and gap, ``WIRE_OVERHEAD`` bytes more); ``50%`` of the
    link's line rate ``line_bps`` (on the wire, as an L1 rate). Anything else is refused with
    the forms taken.
    """
    return rate_value(text).pps(frame_len, line_bps)


def line_rate(ifname: str, netns: str | None = None) -> float:
    """The link's speed in bits/s (ethtool's, read in its namespace), for a rate given as a
    percentage; ConfigError where there is none: veth (its nominal 10 Gbit/s is no line rate:
    it goes as fast as the CPUs move frames), a link that is down or reports no speed."""
    import ctypes
    import fcntl
    import socket
    import struct

    from .. import link
    from .. import netns as netns_mod

    absolute = "give an absolute rate instead (e.g. 100k or 1Gbit)"
    with netns_mod.entered(netns):
        driver = link.driver_name(ifname)
        if driver == "veth":
            raise ConfigError(f"{ifname} is a veth, which has no line rate (it reports a nominal 10 Gbit/s, but "
                              f"goes as fast as the CPUs move frames): a percentage means nothing there; {absolute}")
        buf = ctypes.create_string_buffer(struct.pack("I", 0x00000001) + bytes(40))  # ETHTOOL_GSET
        ifreq = struct.pack("16sP", ifname.encode()[:15], ctypes.addressof(buf))
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                fcntl.ioctl(sock.fileno(), 0x8946, ifreq)  # SIOCETHTOOL
        except OSError as exc:
            raise ConfigError(f"{ifname} does not say its link speed ({exc.strerror}): {absolute}") from None
    low, high = struct.unpack_from("H", buf.raw, 12)[0], struct.unpack_from("H", buf.raw, 28)[0]
    mbit = int(low) | int(high) << 16
    if mbit in (0, 0xFFFF, 0xFFFFFFFF):
        raise ConfigError(f"{ifname} reports no link speed (down, or a virtual device): {absolute}")
    return mbit * 1e6


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
