"""What a run's report shows, as plain data: the time axis, the rate series and how they share
panels, the latency histograms normalised, the warnings as sentences and the tables' figures.

``xsk.traffic._report`` draws these with matplotlib; nothing here imports it, so each choice a
reader of the report depends on is tested as a function of the runs' JSON summaries:

* **One time axis, from gen's start.** Every chart's x axis is seconds since the generator
  started (the wall clock of its first per-second line minus that line's ``t``), so a sink
  started earlier or later lines up with it. Without a gen run: since the earliest run started.
  The axis ends when the traffic did (the last second in which any side counted a frame, or the
  generator's end), so a sink's idle seconds before and after are trimmed away.
* **Rates in panels, each linear from zero** (``panels``): streams whose peak rates are within a
  factor of ``PANEL_RATIO`` share a panel, others get their own, so a 50 pps voice stream is as
  readable as a 200 kpps IMIX one. A log axis would do that too, but it can't draw zero (a paused
  or stopped stream, one that never started: what a tester looks for first), and it shrinks a 5%
  shortfall between sent and received to a hairline.
* **Per-second rates as steps over their second**, so a 10,000-frame burst that went in 70 ms is
  a block over the second it fell in, and ``bursts`` names it with its own rate while it lasted
  (the second's average hides that).
* **Latency histograms normalised** (``normalised_histogram``): each stream's buckets regrouped
  into ``BINS_PER_DECADE`` log-spaced bins, as the fraction of that stream's frames, so a stream of
  300 frames is as tall as one of 700,000.

Ownership: everything here takes and returns new plain values (lists, dicts, dataclasses); it
keeps nothing between calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PANEL_RATIO = 10.0
"""Streams whose peak rates are within this factor of a panel's highest share that panel."""

BINS_PER_DECADE = 20
"""Latency histogram bins per factor of ten (about 12% wide each)."""

SHORT = 0.5
"""A run's last interval, when shorter than this share of the one before, joins it (``series``)."""

KERNEL_QUIET = ("tx_ring_empty_descs",)
"""Kernel counters that say nothing is wrong when they count: every paced send ends with an empty TX ring."""


@dataclass
class Series:
    """One stream's packets per second on one side, over consecutive intervals.

    ``edges``: the intervals' bounds in seconds on the report's axis (one more than ``rates``);
    ``rates``: packets/s over each interval; ``packets``: frames counted in each.
    """

    stream: str
    side: str
    edges: list[float]
    rates: list[float]
    packets: list[int]

    @property
    def peak(self) -> float:
        return max(self.rates, default=0.0)


def run_start(seconds: Sequence[dict[str, Any]]) -> float | None:
    """The wall-clock time a run started, from its first per-second line (``time - t``), or None
    when its lines carry no wall clock."""
    for line in seconds[:1]:
        if "time" in line:
            return float(line["time"]) - float(line["t"])
    return None


def origin(gen_starts: Sequence[float | None], other_starts: Sequence[float | None]) -> tuple[float, str]:
    """The wall clock of the report's zero and what the axis says of it: gen's (earliest) start,
    else the earliest other run's. ``0.0`` when no run carries a wall clock (each run's own
    seconds are then used as they are)."""
    gens = [s for s in gen_starts if s is not None]
    if gens:
        return min(gens), "seconds since gen started"
    others = [s for s in other_starts if s is not None]
    if others:
        return min(others), "seconds since the sink started"
    return 0.0, "seconds since the run started"


def _count(value: Any) -> int | None:
    n = value.get("packets") if isinstance(value, dict) else value
    return None if n is None else int(n)


def series(seconds: Sequence[dict[str, Any]], key: str, zero: float, *, stream: str, side: str,
           end: tuple[float, int] | None = None) -> Series:
    """Stream ``key``'s rate from a run's per-second lines (cumulative counts), on the axis that
    starts at ``zero`` (a wall clock; 0 to use the run's own seconds). ``end``: the run's last
    (seconds since its start, total packets), when the summary says it (the frames of the last,
    partial second, after the last line)."""
    start = run_start(seconds)
    shift = (start - zero) if (start is not None and zero) else 0.0
    edges: list[float] = []
    rates: list[float] = []
    packets: list[int] = []
    last_t, last_n = 0.0, 0
    # a line with per-stream counts that lacks this stream counted none of it yet (a sink lists a
    # stream from its first frame on)
    points = [(float(line["t"]), n) for line in seconds if isinstance(line.get("per_stream"), dict)
              and (n := _count(line["per_stream"].get(key, 0))) is not None]
    if end is not None and end[0] > (points[-1][0] if points else 0.0) and end[1] >= (points[-1][1] if points else 0):
        points.append(end)
    for k, (t, n) in enumerate(points):
        dt = t - last_t
        if dt <= 0:
            continue
        if k == len(points) - 1 and packets and dt < SHORT * (edges[-1] - edges[-2]):
            # a last line soon after the one before (the run's end): its few frames over a sliver
            # of a second would draw as a spike, so the interval joins the one before
            packets[-1] += n - last_n
            edges[-1] = t + shift
            rates[-1] = packets[-1] / (edges[-1] - edges[-2])
            last_t, last_n = t, n
            continue
        if not edges:
            edges.append(last_t + shift)
        edges.append(t + shift)
        rates.append((n - last_n) / dt)
        packets.append(n - last_n)
        last_t, last_n = t, n
    return Series(stream, side, edges, rates, packets)


def span(all_series: Sequence[Series], gen_end: float | None = None) -> tuple[float, float]:
    """The x range to show: from zero (gen's start; without a gen run, ``gen_end`` None: from the
    first interval with a frame) to the end of the last interval in which any series counted a
    frame, or ``gen_end`` if later. A sink's idle seconds before the traffic and after it fall
    outside."""
    active = [(s.edges[i], s.edges[i + 1]) for s in all_series for i, n in enumerate(s.packets) if n > 0]
    lo = 0.0 if gen_end is not None or not active else min(a for a, _ in active)
    ends = [b for _, b in active] + ([gen_end] if gen_end is not None else [])
    hi = max(ends) if ends else max([e for s in all_series for e in s.edges[-1:]] or [1.0])
    return lo, max(hi, lo + 1e-3)


def panels(peaks: dict[str, float], ratio: float = PANEL_RATIO) -> list[list[str]]:
    """Streams grouped into rate panels, highest first: a stream joins the current panel when its
    peak is at least the panel's highest divided by ``ratio``, else it opens the next one.
    Streams that never counted a frame share the last panel."""
    order = sorted((name for name in peaks if peaks[name] > 0), key=lambda n: -peaks[n])
    out: list[list[str]] = []
    top = 0.0
    for name in order:
        if out and peaks[name] * ratio >= top:
            out[-1].append(name)
        else:
            out.append([name])
            top = peaks[name]
    idle = [name for name in peaks if peaks[name] <= 0]
    if idle:
        out.append(idle)
    return out


@dataclass
class Burst:
    """A stream whose frames all went within two of the report's intervals: ``packets`` in all,
    at ``pps`` while it lasted (the generator's own figure, when it has one)."""

    stream: str
    packets: int
    pps: float | None
    at: float


def bursts(sent: Sequence[Series], gen_streams: dict[str, dict[str, Any]]) -> list[Burst]:
    """The sent series that are bursts (every frame in at most two intervals), with their size and
    rate from gen's summary."""
    out = []
    for s in sent:
        busy = [i for i, n in enumerate(s.packets) if n > 0]
        if not busy or len(busy) > 2:
            continue
        info = gen_streams.get(s.stream) or {}
        pps = info.get("pps")
        out.append(Burst(s.stream, sum(s.packets), None if pps is None else float(pps), s.edges[busy[0]]))
    return out


def normalised_histogram(rows: Sequence[Sequence[float]], per_decade: int = BINS_PER_DECADE,
                         ) -> tuple[list[float], list[float]]:
    """A stream's latency buckets (``latency_hist_us`` rows: low µs, high µs, count) regrouped into
    log-spaced bins ``per_decade`` to a factor of ten: the bins' edges (µs) and the fraction of the
    stream's frames in each (they add up to 1). A bucket goes to the bin of its geometric middle
    (its high end when it starts at 0). No rows: two empty lists."""
    total = sum(r[2] for r in rows)
    if not rows or total <= 0:
        return [], []

    def middle(r: Sequence[float]) -> float:
        low, high = float(r[0]), float(r[1])
        return math.sqrt(low * high) if low > 0 else max(high, 1e-3)

    index = [math.floor(math.log10(middle(r)) * per_decade) for r in rows]
    first, last = min(index), max(index)
    fractions = [0.0] * (last - first + 1)
    for i, r in zip(index, rows, strict=True):
        fractions[i - first] += r[2] / total
    edges = [10 ** ((first + k) / per_decade) for k in range(last - first + 2)]
    return edges, fractions


def cdf(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """The fraction of a stream's frames at or under each bucket's high end."""
    total = sum(r[2] for r in rows)
    xs, ys, acc = [], [], 0.0
    for r in rows:
        acc += r[2]
        xs.append(float(r[1]))
        ys.append(acc / total if total else 0.0)
    return xs, ys


def mbit_s(s: dict[str, Any]) -> float | None:
    """A stream's bit rate in Mbit/s (frame bytes as sent, no FCS) from its ``pps`` and mean
    length (``bytes / packets``); None without a rate."""
    if not s.get("pps") or not s.get("packets"):
        return None
    return round(float(s["pps"]) * float(s["bytes"]) / float(s["packets"]) * 8 / 1e6, 3)


def engineering(value: float) -> str:
    """A rate as an engineer writes it: ``139k``, ``1.2M``, ``50``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def _plural(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def warnings(runs: Sequence[tuple[str, dict[str, Any]]], losses: Sequence[dict[str, Any]]) -> list[str]:
    """What a reader should know first, as sentences: ``runs``, each (file name, summary); ``losses``:
    per joined sink, its streams' ``StreamLoss.as_dict()`` by name. Each run's own warnings, a run
    cut short, kernel counters that counted drops or errors, and each stream that lost frames,
    received more than was sent, or could not be counted."""
    out: list[str] = []
    for name, sm in runs:
        for w in sm.get("warnings") or []:
            out.append(f"{name}: {w}")
        if sm.get("interrupted"):
            out.append(f"{name}: the run was interrupted ({sm['interrupted']}); its figures cover the time "
                       "before that.")
        counted = {k: v for k, v in (sm.get("kernel") or {}).items()
                   if isinstance(v, int) and v and k not in KERNEL_QUIET}
        if counted:
            out.append(f"{name}: the kernel counted " +
                       ", ".join(f"{_plural(v, 'frame')} in {k}" for k, v in counted.items()) + ".")
        if sm.get("kernel_errors"):
            out.append(f"{name}: {_plural(int(sm['kernel_errors']), 'kernel error')} during the run.")
    for streams in losses:
        for s in streams.values():
            if s.get("counted_by") == "none":
                out.append(f"Stream '{s['name']}' has no sequence header and the sink was not given the profile: "
                           "what it lost is unknown.")
                continue
            if s.get("lost"):
                out.append(f"Stream '{s['name']}' lost {s['lost']:,} of {s['sent']:,} frames "
                           f"({s['loss_pct']:g}%).")
            if s.get("extra"):
                what = "that the generator never sent" if not s.get("sent") else "more than the generator sent"
                out.append(f"Stream '{s['name']}': {_plural(int(s['extra']), 'frame')} arrived {what}.")
    return out


__all__ = ["BINS_PER_DECADE", "KERNEL_QUIET", "PANEL_RATIO", "SHORT", "Burst", "Series", "bursts", "cdf", "engineering",
           "mbit_s",
           "normalised_histogram", "origin", "panels", "run_start", "series", "span", "warnings"]
