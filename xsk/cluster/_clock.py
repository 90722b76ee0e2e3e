"""Hosts' clocks in a run across hosts: their offsets to the controller, their kernels' discipline,
and the rule that decides whether a one-way latency between two hosts may be given.

Pure logic over plain data, except ``kernel_clock`` (one ``adjtimex(2)`` read on this host).

**Offset.** ``measure(remote_now)`` asks a host for its CLOCK_REALTIME through the engine, NTP
style: controller time ``t0``, the host's time ``t``, controller time ``t1``. The host read its
clock somewhere between ``t0`` and ``t1``, so ``offset = t - (t0 + t1) / 2`` is off by at most
``(t1 - t0) / 2``: a bound, not an estimate. Of ``n`` samples the one with the smallest round
trip is kept (the tightest bound). A run measures every host at its start and again at its end
(the difference is the drift over the run).

**Discipline.** ``kernel_clock()`` reads what chrony, ntpd or phc2sys leave in the kernel:
``STA_UNSYNC`` in ``status`` (set: nobody disciplines this clock), ``esterror`` (their estimated
error, µs) and ``maxerror`` (their maximum error, µs, growing while no update comes).

**The rule for one-way latency** between a sender on host A and a receiver on host B
(``pair_error``): one boot id means one kernel, one clock: exact (error 0). Otherwise:

* both kernels synchronised: the error is ``esterror(A) + esterror(B)``, what the daemons
  disciplining them estimate (far tighter than the engine's round trips can show), provided
  the offsets measured through the engine don't contradict it (the measured A↔B interval must
  reach within ``maxerror(A) + maxerror(B)`` of zero; if not, a kernel's claim is wrong and no
  latency is given);
* otherwise only the measurement through the engine is known, and nothing is corrected: the
  error is the largest A↔B offset (in size) the start and end measurements allow (offset plus bound).

``latency_rule`` then keeps a stream's ``latency_us`` with ``latency_error_us`` beside it only
when that error is at most ``ERROR_FRACTION`` of the latency's p50; otherwise it leaves the
latency out and says in ``latency_note`` why, naming the hosts and the numbers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STA_UNSYNC = 0x0040  # <bits/timex.h>: clock unsynchronised
TIME_ERROR = 5  # <sys/timex.h>: adjtimex's answer for a clock not synchronised
ERROR_FRACTION = 0.1  # a latency is given when its error is at most this much of its p50
SAMPLES = 12


class _Timex(ctypes.Structure):
    """``struct timex`` of <bits/timex.h> on a 64-bit ABI (``__syscall_slong_t`` is ``long``;
    ctypes puts the same padding after ``modes``, ``status`` and ``shift``)."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]


def kernel_clock() -> dict[str, Any]:
    """This kernel's clock discipline, read with ``adjtimex(2)`` (``modes`` 0: read only):
    ``synced`` (no STA_UNSYNC and not TIME_ERROR), ``state`` (adjtimex's answer), ``status``,
    ``esterror_us``, ``maxerror_us``; or ``synced`` None and ``error`` when it can't be read."""
    if ctypes.sizeof(ctypes.c_long) != 8:
        return {"synced": None, "error": "struct timex is read on 64-bit hosts only"}
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    tx = _Timex()
    state = int(libc.adjtimex(ctypes.byref(tx)))
    if state < 0:
        return {"synced": None, "error": f"adjtimex: {ctypes.get_errno()}"}
    return {"synced": not tx.status & STA_UNSYNC and state != TIME_ERROR, "state": state,
            "status": int(tx.status), "esterror_us": int(tx.esterror), "maxerror_us": int(tx.maxerror)}


@dataclass(frozen=True)
class Offset:
    """A host's clock minus the controller's (ns), within ``± bound_ns``, from the sample with the
    smallest round trip (``rtt_ns``) of ``samples``."""

    offset_ns: int
    bound_ns: int
    rtt_ns: int
    samples: int

    @classmethod
    def best(cls, samples: list[tuple[int, int, int]]) -> Offset:
        """From ``(t0, t_host, t1)`` triples: the one with the smallest ``t1 - t0``."""
        if not samples:
            raise ValueError("no clock samples")
        t0, t, t1 = min(samples, key=lambda s: s[2] - s[0])
        return cls(offset_ns=t - (t0 + t1) // 2, bound_ns=(t1 - t0 + 1) // 2, rtt_ns=t1 - t0, samples=len(samples))

    def as_dict(self) -> dict[str, float | int]:
        return {"offset_us": round(self.offset_ns / 1e3, 1), "bound_us": round(self.bound_ns / 1e3, 1),
                "rtt_us": round(self.rtt_ns / 1e3, 1), "samples": self.samples}


def measure(remote_now: Callable[[], int], n: int = SAMPLES, now: Callable[[], int] = time.time_ns) -> Offset:
    """The host's offset: ``n`` calls of ``remote_now()`` (the host's CLOCK_REALTIME in ns, read
    through the engine), each between two readings of ``now()``; the tightest is kept."""
    samples = []
    for _ in range(n):
        t0 = now()
        t = remote_now()
        t1 = now()
        samples.append((t0, t, t1))
    return Offset.best(samples)


def host_entry(identity: dict[str, Any], start: Offset | None, end: Offset | None) -> dict[str, Any]:
    """What ``out["clock"]["hosts"][host]`` says: machine name, boot id, the offset to the
    controller at start and end (µs, with its bound), and the kernel's discipline."""
    k = identity.get("kernel_clock") or {}
    return {"hostname": identity.get("hostname"), "boot_id": identity.get("boot_id"),
            "start": None if start is None else start.as_dict(), "end": None if end is None else end.as_dict(),
            "synced": k.get("synced"), "esterror_us": k.get("esterror_us"), "maxerror_us": k.get("maxerror_us")}


def _fmt(us: float) -> str:
    return f"{us / 1e3:.1f} ms" if abs(us) >= 1000 else f"{us:.0f} µs"


def _fmt_pm(us: float, bound_us: float) -> str:
    """``x ± y`` in one unit: ms when either reaches a millisecond."""
    if max(abs(us), abs(bound_us)) >= 1000:
        return f"{us / 1e3:.1f} ms ± {bound_us / 1e3:.1f} ms"
    return f"{us:.0f} µs ± {bound_us:.0f} µs"


def _measured(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float] | None:
    """The interval (µs) the offset B − A lay in over the run, from the start and end measurements."""
    lo: float | None = None
    hi: float | None = None
    for when in ("start", "end"):
        x, y = a.get(when), b.get(when)
        if x is None or y is None:
            continue
        rel, bd = y["offset_us"] - x["offset_us"], y["bound_us"] + x["bound_us"]
        lo = rel - bd if lo is None else min(lo, rel - bd)
        hi = rel + bd if hi is None else max(hi, rel + bd)
    return None if lo is None or hi is None else (lo, hi)


def pair_error(hosts: dict[str, dict[str, Any]], src: str, dst: str) -> tuple[float | None, str]:
    """The error (µs) of a one-way latency from ``src``'s clock to ``dst``'s, and how it was known;
    None and the reason when it is not known (see the module)."""
    a, b = hosts.get(src) or {}, hosts.get(dst) or {}
    if src == dst or (a.get("boot_id") and a.get("boot_id") == b.get("boot_id")):
        return 0.0, "one kernel, one clock"
    pair = f"{src}↔{dst}"
    span = _measured(a, b)
    said = "no offset measured" if span is None else \
        f"offset measured {_fmt_pm((span[0] + span[1]) / 2, (span[1] - span[0]) / 2)} through the engine"
    if a.get("synced") and b.get("synced") and a.get("esterror_us") is not None \
            and b.get("esterror_us") is not None:
        err = float(a["esterror_us"] + b["esterror_us"])
        most = float((a.get("maxerror_us") or 0) + (b.get("maxerror_us") or 0))
        if span is not None and (span[0] > most or span[1] < -most):
            return None, (f"{pair} {said}, beyond the {_fmt(most)} their kernels' maxerror allows: a clock "
                          f"claims a synchronisation it does not have")
        return err, (f"both kernels synchronised: esterror {src} {_fmt(a['esterror_us'])} + "
                     f"{dst} {_fmt(b['esterror_us'])} ({said})")
    unsynced = [h for h, x in ((src, a), (dst, b)) if not x.get("synced")]
    why = " and ".join(f"{h}'s clock is not synchronised (adjtimex STA_UNSYNC)" if (hosts.get(h) or {}).get(
        "synced") is False else f"{h}'s clock discipline is unknown" for h in unsynced)
    if span is None:
        return None, f"{pair}: {said}, and {why}"
    return max(abs(span[0]), abs(span[1])), f"{pair} {said}, and {why}"


def latency_rule(row: dict[str, Any], src: str, dst: str, clock_info: dict[str, Any]) -> None:
    """Keep ``row``'s one-way latency (with ``latency_error_us``) or leave it out with
    ``latency_note`` saying why: see the module. ``row`` is changed in place."""
    lat = row.get("latency_us")
    if lat is None:
        return
    err, how = pair_error(clock_info.get("hosts") or {}, src, dst)
    p50 = lat.get("p50") if isinstance(lat, dict) else None
    if err is not None and (err == 0 or (p50 is not None and err <= ERROR_FRACTION * abs(p50))):
        row["latency_error_us"] = round(err, 1)
        if err:
            row["latency_basis"] = how
        return
    row["latency_us"] = row["jitter_us"] = None
    if err is None:
        row["latency_note"] = f"{how}: no one-way latency; counts and loss remain exact"
    else:
        row["latency_note"] = (f"{how}: an error of up to {_fmt(err)} against a latency p50 of "
                               f"{_fmt(p50) if p50 is not None else 'unknown'}: no one-way latency; counts and "
                               f"loss remain exact")


__all__ = ["ERROR_FRACTION", "SAMPLES", "STA_UNSYNC", "TIME_ERROR", "Offset", "host_entry", "kernel_clock",
           "latency_rule", "measure", "pair_error"]
