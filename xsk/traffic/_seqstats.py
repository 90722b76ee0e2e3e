"""Per-stream loss, duplicates, reordering, one-way latency and jitter of received sequence payloads.

Frames are read a batch at a time, in place, by one C call (xsk_seq_batch): header
offsets, the magic, the sequence number and the transmit time (layout in ``xsk.traffic._fields``).
Each stream (the top 8 bits of the sequence number) has its own counters in C
(``struct xsk_seqwin``), made the first time the stream is seen and owned by its
``StreamStats`` here for as long as the ``SeqStats`` lives:

- a bitmap of the last ``WINDOW`` numbers below its highest so far, so duplicates inside the
  window are exact and memory stays fixed however long the run; a number below the highest
  arrives "reordered", and one that falls behind the whole window is counted as reordered
  and ``too_late`` (it can't be told from a duplicate any more);
- packets, bytes, first and last arrival (the stream's rate);
- a latency histogram, log-linear as HDR histograms are (``LatencyHistogram``): bounded
  memory, percentiles within 0.8%, and exact sums when histograms of several queues merge;
- interarrival jitter as RFC 3550 defines it (``J += (abs(D) - J) / 16`` over consecutive frames).

Latency is the arrival time (when the sink read the batch off the RX ring) minus the
transmit time the generator wrote into the frame just before it went on the TX ring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._binding import CData, ffi, lib

if TYPE_CHECKING:
    from .._batch import Batch

WINDOW = 1 << 18  # sequence numbers remembered per stream (256 KiB each)
BUCKETS = int(lib.XSK_HIST_BUCKETS)
_SUB = int(lib.XSK_HIST_SUB)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def bucket_bounds(index: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """The nanoseconds [low, high) that histogram bucket(s) ``index`` hold (xsk_hist_index's inverse)."""
    i = np.asarray(index, dtype=np.int64)
    e = np.maximum(i // _SUB - 1, 0)
    m = np.where(i < 2 * _SUB, i, i - e * _SUB)
    return m << e, (m + 1) << e


@dataclass
class LatencyHistogram:
    """One-way latencies in nanoseconds: bucket counts plus exact count, sum, min and max.

    ``counts`` has ``BUCKETS`` entries (the layout of ``xsk_hist_index``); histograms from
    several queues or processes ``merge`` exactly.
    """

    counts: np.ndarray = field(default_factory=lambda: np.zeros(BUCKETS, dtype=np.uint64))
    count: int = 0
    total_ns: float = 0.0
    min_ns: int | None = None
    max_ns: int | None = None

    def merge(self, other: LatencyHistogram) -> None:
        self.counts += other.counts
        self.count += other.count
        self.total_ns += other.total_ns
        for name, pick in (("min_ns", min), ("max_ns", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))

    def percentile_ns(self, q: float) -> float | None:
        """The value below which ``q`` percent of the latencies lie: its bucket's upper edge,
        clamped to the exact min and max (so at most 0.8% above the true value)."""
        if not self.count:
            return None
        rank = max(1, int(np.ceil(q / 100 * self.count)))
        i = int(np.searchsorted(np.cumsum(self.counts), rank))
        _, high = bucket_bounds(min(i, BUCKETS - 1))
        assert self.min_ns is not None and self.max_ns is not None  # count > 0
        return float(min(max(int(high) - 1, self.min_ns), self.max_ns))

    def summary_us(self) -> dict[str, float | None]:
        """min, mean, p50, p90, p99, p99.9 and max in microseconds (None without samples)."""
        def us(ns: float | None) -> float | None:
            return None if ns is None else round(ns / 1000, 2)
        out = {"min": us(self.min_ns), "mean": us(self.total_ns / self.count if self.count else None)}
        for q in PERCENTILES:
            out[f"p{q:g}"] = us(self.percentile_ns(q))
        out["max"] = us(self.max_ns)
        return out

    def buckets_us(self) -> list[list[float]]:
        """The non-empty buckets as [low µs, high µs, count] rows (for plots and reports)."""
        nonzero = np.flatnonzero(self.counts)
        low, high = bucket_bounds(nonzero)
        rows = zip(low, high, self.counts[nonzero], strict=True)
        return [[float(lo) / 1000, float(hi) / 1000, int(c)] for lo, hi, c in rows]

    def export(self) -> dict[str, Any]:
        nonzero = np.flatnonzero(self.counts)
        return {"buckets": {int(i): int(self.counts[i]) for i in nonzero}, "count": self.count,
                "total_ns": self.total_ns, "min_ns": self.min_ns, "max_ns": self.max_ns}

    @classmethod
    def from_export(cls, data: dict[str, Any]) -> LatencyHistogram:
        h = cls(count=data["count"], total_ns=data["total_ns"], min_ns=data["min_ns"], max_ns=data["max_ns"])
        for i, c in data["buckets"].items():
            h.counts[int(i)] = c
        return h


class StreamStats:
    """One stream's counters (``struct xsk_seqwin``); the bitmap and histogram arrays are owned
    here and lent to C for as long as this object lives."""

    def __init__(self) -> None:
        self.bits = np.zeros(WINDOW, dtype=np.uint8)
        self.hist = np.zeros(BUCKETS, dtype=np.uint64)
        # written once now, so the stream's whole footprint is resident from its first frame
        # (calloc'd pages would otherwise fault in over its first 2^18 numbers and look like growth)
        self.bits.fill(0)
        self.hist.fill(0)
        self.c = ffi.new("struct xsk_seqwin *")
        self.c.bits = ffi.from_buffer("uint8_t[]", self.bits)
        self.c.hist = ffi.from_buffer("uint64_t[]", self.hist)
        self.c.mask = WINDOW - 1
        self.c.highest = -1
        self.c.lowest = -1

    packets = property(lambda self: int(self.c.packets))
    bytes = property(lambda self: int(self.c.bytes))
    duplicates = property(lambda self: int(self.c.duplicates))
    reordered = property(lambda self: int(self.c.reordered))
    too_late = property(lambda self: int(self.c.too_late))

    @property
    def lost(self) -> int:
        if self.c.lowest < 0:
            return 0
        return max(0, int(self.c.highest - self.c.lowest + 1) - int(self.c.unique))

    @property
    def latency(self) -> LatencyHistogram:
        timed = int(self.c.timed)
        return LatencyHistogram(self.hist.copy(), timed, float(self.c.lat_sum),
                                int(self.c.lat_min) if timed else None, int(self.c.lat_max) if timed else None)

    def export(self) -> dict[str, Any]:
        """Everything a summary is made of, as plain data (another process can merge it)."""
        c = self.c
        return {"packets": self.packets, "bytes": self.bytes, "lost": self.lost, "duplicates": self.duplicates,
                "reordered": self.reordered, "too_late": self.too_late, "first_ns": int(c.first_ns),
                "last_ns": int(c.last_ns), "jitter_ns": float(c.jitter), "latency": self.latency.export()}


def stream_summary(part: dict[str, Any], histogram: bool = False) -> dict[str, Any]:
    """A stream's results from its export: counts, rate, latency in µs, jitter (and buckets)."""
    span = (part["last_ns"] - part["first_ns"]) / 1e9
    lat = LatencyHistogram.from_export(part["latency"])
    out = {k: part[k] for k in ("packets", "bytes", "lost", "duplicates", "reordered", "too_late")}
    out["gaps"] = part["lost"]  # what "lost" always was: numbers missing between those that arrived
    out["pps"] = round((part["packets"] - 1) / span, 1) if span > 0 else None
    out["latency_us"] = lat.summary_us()
    out["jitter_us"] = round(part["jitter_ns"] / 1000, 2) if lat.count > 1 else None
    if histogram:
        out["latency_hist_us"] = lat.buckets_us()
    return out


def merge_streams(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Exports of one stream from several queues as one: counters add, histograms merge exactly,
    the span covers all, and jitter is the packet-weighted mean of the parts' jitter."""
    if len(parts) == 1:
        return parts[0]
    lat = LatencyHistogram()
    for p in parts:
        lat.merge(LatencyHistogram.from_export(p["latency"]))
    packets = sum(p["packets"] for p in parts)
    out = {k: sum(p[k] for p in parts) for k in ("packets", "bytes", "lost", "duplicates", "reordered", "too_late")}
    out["first_ns"] = min(p["first_ns"] for p in parts if p["packets"])
    out["last_ns"] = max(p["last_ns"] for p in parts if p["packets"])
    out["jitter_ns"] = sum(p["jitter_ns"] * p["packets"] for p in parts) / packets if packets else 0.0
    out["latency"] = lat.export()
    return out


class SeqStats:
    """Accumulates per-stream sequence statistics over batches of received frames, in fixed memory."""

    def __init__(self) -> None:
        self.streams: dict[int, StreamStats] = {}
        self._c = ffi.new("struct xsk_seqstats *")
        self._missing = ffi.new("int32_t *")
        self._last: dict[int, np.ndarray] = {}  # each stream's histogram at the last interval()

    def interval(self) -> dict[str, dict[str, Any]]:
        """Per stream: packets and lost so far, and p50/p99 (µs) of the latencies since the last call."""
        out = {}
        for k, s in self.streams.items():
            now = s.hist.copy()
            delta = now - self._last.get(k, 0)
            self._last[k] = now
            lat = LatencyHistogram(delta, int(delta.sum()))
            if lat.count:
                nonzero = np.flatnonzero(delta)
                lat.min_ns, lat.max_ns = (int(v) for v in (bucket_bounds(nonzero[0])[0], bucket_bounds(nonzero[-1])[1]))
            p50, p99 = lat.percentile_ns(50), lat.percentile_ns(99)
            out[str(k)] = {"packets": s.packets, "lost": s.lost,
                           "p50_us": None if p50 is None else round(p50 / 1000, 2),
                           "p99_us": None if p99 is None else round(p99 / 1000, 2)}
        return out

    @property
    def with_seq(self) -> int:
        return int(self._c.with_seq)

    @property
    def latency(self) -> LatencyHistogram:
        """Every stream's latencies in one histogram."""
        total = LatencyHistogram()
        for s in self.streams.values():
            total.merge(s.latency)
        return total

    @property
    def lat_min(self) -> float:
        """The least latency seen, µs (inf before any)."""
        v = self.latency.min_ns
        return float("inf") if v is None else v / 1000

    @property
    def lat_max(self) -> float:
        """The largest latency seen, µs (0 before any)."""
        v = self.latency.max_ns
        return 0.0 if v is None else v / 1000

    def percentile(self, q: float) -> float | None:
        """The q-th percentile of every stream's latency, µs (None before any)."""
        v = self.latency.percentile_ns(q)
        return None if v is None else v / 1000

    def add_frames(self, batch: Batch, now_ns: int | None = None) -> None:
        """Every frame of a Batch, read in place (one C call per batch in steady state)."""
        n = len(batch)
        if not n:
            return
        umem = batch.umem
        lens = batch.raw_lens()
        if lens.dtype != np.uint32:
            lens = lens.astype(np.uint32)
        self._scan(umem.area_pointer(), batch.raw_addrs(), lens, umem.frame_size, now_ns)

    def add_batch(self, rows: np.ndarray, lens: np.ndarray, now_ns: int | None = None) -> None:
        """Frames given as rows of their first bytes ((n, k) uint8) and their lengths (pcap analysis)."""
        n, k = rows.shape
        if not n:
            return
        width = 1 << max(k - 1, 1).bit_length()  # a power of two, as UMEM frames are
        area = np.zeros((n, width), dtype=np.uint8)
        area[:, :k] = rows
        addrs = np.arange(n, dtype=np.uint64) * np.uint64(width)
        lens = np.minimum(np.asarray(lens, dtype=np.int64), k).astype(np.uint32)
        self._scan(ffi.from_buffer("uint8_t[]", area), addrs, lens, width, now_ns)

    def _scan(self, area: CData, addrs: np.ndarray, lens: np.ndarray, frame_size: int, now_ns: int | None) -> None:
        now_ns = time.time_ns() if now_ns is None else now_ns
        addrs_c = ffi.from_buffer("uint64_t[]", addrs)
        lens_c = ffi.from_buffer("uint32_t[]", lens)
        n, start = len(addrs), 0
        while start < n:
            start = lib.xsk_seq_batch(self._c, area, addrs_c, lens_c, n, frame_size, now_ns, start, self._missing)
            stream = self._missing[0]
            if stream < 0:
                break
            self.streams[stream] = StreamStats()
            self._c.streams[stream] = self.streams[stream].c

    def export(self) -> dict[str, Any]:
        """Everything ``summary`` is made of, as plain data another process can ``merged``."""
        return {"with_seq": self.with_seq, "streams": {k: s.export() for k, s in self.streams.items()}}

    @classmethod
    def merged(cls, parts: list[dict[str, Any]], histogram: bool = False) -> dict[str, Any]:
        """The summary of several exports (one per queue). A stream's counters add up and its
        histograms merge exactly, which is right when each stream arrived on one queue (as
        ``gen --queues`` sends them); a stream spread over queues shows the others' share as lost."""
        by_stream: dict[int, list[dict[str, Any]]] = {}
        for part in parts:
            for k, s in part["streams"].items():
                by_stream.setdefault(int(k), []).append(s)
        streams = {k: merge_streams(v) for k, v in sorted(by_stream.items())}
        total = LatencyHistogram()
        for s in streams.values():
            total.merge(LatencyHistogram.from_export(s["latency"]))
        return {
            **{key: sum(s[key] for s in streams.values()) for key in ("lost", "duplicates", "reordered", "too_late")},
            "gaps": sum(s["lost"] for s in streams.values()),
            "streams": len(streams),
            "latency_us": total.summary_us(),
            "per_stream": {str(k): stream_summary(s, histogram) for k, s in streams.items()},
        }

    def summary(self, histogram: bool = False) -> dict[str, Any]:
        """Totals over every stream (lost, duplicates, reordered, too_late, latency_us) and
        ``per_stream``: each stream's results by its id (see ``stream_summary``)."""
        return self.merged([self.export()], histogram)


__all__ = ["BUCKETS", "PERCENTILES", "WINDOW", "LatencyHistogram", "SeqStats", "StreamStats", "bucket_bounds",
           "merge_streams", "stream_summary"]
