"""Loss, duplicates, reordering and one-way latency of ``xsk gen`` sequence payloads.

Frames are read a batch at a time, in place, by one C call (xsk_seq_batch): header
offsets, the magic, the sequence number and the transmit time (layout in ``xsk.traffic.packet``). Each
stream (the top 8 bits of the sequence number) keeps a bitmap of the last ``WINDOW``
numbers below its highest so far, so duplicates inside the window are exact and memory
stays fixed however long the run; a number below the highest arrives "reordered", and one
that falls behind the whole window is counted as reordered and ``too_late`` (it can't be
told from a duplicate any more). Latency goes into logarithmic buckets (about 1% wide) for
percentiles in fixed memory.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .._binding import CData, ffi, lib

if TYPE_CHECKING:
    from ..batch import Batch

_BUCKETS = np.geomspace(0.01, 1e7, 2001)  # microseconds
WINDOW = 1 << 18  # sequence numbers remembered per stream (256 KiB each)


class _Stream:
    """One stream's window (struct xsk_seqwin), its bitmap owned here for the C code to use."""

    def __init__(self) -> None:
        self.bits = np.zeros(WINDOW, dtype=np.uint8)
        self.c = ffi.new("struct xsk_seqwin *")
        self.c.bits = ffi.from_buffer("uint8_t[]", self.bits)
        self.c.mask = WINDOW - 1
        self.c.highest = -1
        self.c.lowest = -1

    duplicates = property(lambda self: int(self.c.duplicates))
    reordered = property(lambda self: int(self.c.reordered))
    too_late = property(lambda self: int(self.c.too_late))

    @property
    def lost(self) -> int:
        if self.c.lowest < 0:
            return 0
        return max(0, int(self.c.highest - self.c.lowest + 1) - int(self.c.unique))


class SeqStats:
    """Accumulates sequence statistics over batches of received frames, in fixed memory."""

    def __init__(self) -> None:
        self.streams: dict[int, _Stream] = {}
        self.hist = np.zeros(len(_BUCKETS) + 1, dtype=np.uint64)
        self._buckets = np.ascontiguousarray(_BUCKETS)
        self._c = ffi.new("struct xsk_seqstats *")
        self._c.hist = ffi.from_buffer("uint64_t[]", self.hist)
        self._c.buckets = ffi.from_buffer("double[]", self._buckets)
        self._c.nbuckets = len(self._buckets)
        self._c.lat_min = float("inf")
        self._missing = ffi.new("int32_t *")

    @property
    def with_seq(self) -> int:
        return int(self._c.with_seq)

    @property
    def lat_min(self) -> float:
        return float(self._c.lat_min)

    @property
    def lat_max(self) -> float:
        return float(self._c.lat_max)

    def add_frames(self, batch: Batch, now_ns: int | None = None) -> None:
        """Every frame of a Batch, read in place (one C call per batch in steady state)."""
        n = len(batch)
        if not n:
            return
        umem = batch._umem
        lens = batch._lens if batch._lens.dtype == np.uint32 else batch._lens.astype(np.uint32)
        self._scan(umem._area_ptr(), batch._addrs, lens, umem.frame_size, now_ns)

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
            self.streams[stream] = _Stream()
            self._c.streams[stream] = self.streams[stream].c

    def percentile(self, q: float) -> float | None:
        total = int(self.hist.sum())
        if not total:
            return None
        i = int(np.searchsorted(np.cumsum(self.hist), q / 100 * total))
        upper = float(_BUCKETS[min(i, len(_BUCKETS) - 1)])  # the bucket's upper edge, within ~1%
        return min(max(upper, self.lat_min), self.lat_max)

    def export(self) -> dict[str, Any]:
        """Everything ``summary`` is made of, as plain data another process can ``merge``."""
        nonzero = np.flatnonzero(self.hist)
        return {"hist": {int(i): int(self.hist[i]) for i in nonzero}, "lat_min": self.lat_min,
                "lat_max": self.lat_max, "with_seq": self.with_seq,
                "streams": {k: {"lost": s.lost, "duplicates": s.duplicates, "reordered": s.reordered,
                                "too_late": s.too_late} for k, s in self.streams.items()}}

    @classmethod
    def merged(cls, parts: list[dict[str, Any]]) -> dict[str, object]:
        """The summary of several exports (one per queue): histograms add exactly, and each stream's
        counters add up, which is right when each stream arrived on one queue (as ``gen --queues``
        sends them); a stream spread over queues shows the others' share as lost."""
        out = cls()
        for part in parts:
            for i, count in part["hist"].items():
                out.hist[int(i)] += np.uint64(count)
            out._c.lat_min = min(out.lat_min, part["lat_min"])
            out._c.lat_max = max(out.lat_max, part["lat_max"])
            out._c.with_seq += part["with_seq"]
        summary = out.summary()
        streams = [s for part in parts for s in part["streams"].values()]
        for key in ("lost", "duplicates", "reordered", "too_late"):
            summary[key] = sum(s[key] for s in streams)
        summary["streams"] = len({k for part in parts for k in part["streams"]})
        return summary

    def summary(self) -> dict[str, object]:
        p50, p99 = self.percentile(50), self.percentile(99)
        return {
            "lost": sum(s.lost for s in self.streams.values()),
            "duplicates": sum(s.duplicates for s in self.streams.values()),
            "reordered": sum(s.reordered for s in self.streams.values()),
            "too_late": sum(s.too_late for s in self.streams.values()),
            "streams": len(self.streams),
            "latency_us": {
                "min": None if self.lat_min == float("inf") else round(self.lat_min, 2),
                "p50": None if p50 is None else round(p50, 2),
                "p99": None if p99 is None else round(p99, 2),
                "max": round(self.lat_max, 2) if self.with_seq else None,
            },
        }
