"""Loss, duplicates, reordering and one-way latency of ``xsk gen`` sequence payloads.

Frames are parsed a batch at a time (vectorised): header offsets per frame, the magic,
the sequence number and the transmit time (layout in ``xsk.packet``). Each stream (the
top 8 bits of the sequence number) keeps a bitmap of the numbers seen, so duplicates are
exact, and its highest number so far, so a number below it arrives "reordered".
Latency goes into logarithmic buckets (about 1% wide) for percentiles in fixed memory.
"""

from __future__ import annotations

import time

import numpy as np

from .headers import HEAD, parse_rows
from .packet import SEQ_MAGIC

_COUNTER_MASK = np.uint64((1 << 56) - 1)
_BUCKETS = np.geomspace(0.01, 1e7, 2001)  # microseconds


class _Stream:
    def __init__(self) -> None:
        self.bits = np.zeros(1 << 16, dtype=bool)
        self.base: int | None = None  # sequence number at bits[0]
        self.highest = -1
        self.lowest: int | None = None
        self.unique = 0
        self.duplicates = 0
        self.reordered = 0

    def add(self, counters: np.ndarray) -> None:
        if self.base is None:
            self.base = int(counters.min())
        if counters.min() < self.base:  # numbers below the first seen: shift the bitmap
            shift = self.base - int(counters.min())
            self.bits = np.concatenate([np.zeros(shift, dtype=bool), self.bits])
            self.base -= shift
        rel = (counters - np.uint64(self.base)).astype(np.int64)
        need = int(rel.max()) + 1
        if need > len(self.bits):
            grown = np.zeros(max(need, 2 * len(self.bits)), dtype=bool)
            grown[: len(self.bits)] = self.bits
            self.bits = grown
        # duplicates: already seen, or repeated inside this batch
        order = np.argsort(rel, kind="stable")
        sorted_rel = rel[order]
        repeat_in_batch = np.zeros(len(rel), dtype=bool)
        repeat_in_batch[order[1:]] = sorted_rel[1:] == sorted_rel[:-1]
        dup = self.bits[rel] | repeat_in_batch
        # reordered: below the highest number that arrived before it (and not a duplicate)
        c = counters.astype(np.int64)
        prior = np.maximum.accumulate(np.concatenate([[self.highest], c[:-1]]))
        late = (c < prior) & ~dup
        self.bits[rel] = True
        self.duplicates += int(dup.sum())
        self.reordered += int(late.sum())
        self.unique += int((~dup).sum())
        self.highest = max(self.highest, int(c.max()))
        low = int(c.min())
        self.lowest = low if self.lowest is None else min(self.lowest, low)

    @property
    def lost(self) -> int:
        if self.lowest is None:
            return 0
        return (self.highest - self.lowest + 1) - self.unique


class SeqStats:
    """Accumulates sequence statistics over batches of received frames."""

    def __init__(self) -> None:
        self.streams: dict[int, _Stream] = {}
        self.hist = np.zeros(len(_BUCKETS) + 1, dtype=np.int64)
        self.lat_min = float("inf")
        self.lat_max = 0.0
        self.with_seq = 0

    def add_batch(self, rows: np.ndarray, lens: np.ndarray, now_ns: int | None = None) -> None:
        """``rows``: the first bytes of each frame ((n, k) uint8, k <= HEAD), ``lens`` their lengths."""
        n = len(lens)
        if not n:
            return
        now_ns = time.time_ns() if now_ns is None else now_ns
        h = parse_rows(rows, lens)
        ok = (h.payload >= 0) & (h.payload + 18 <= np.minimum(h.lens, HEAD))
        if not ok.any():
            return
        if rows.shape[1] < HEAD:
            rows = np.pad(rows, ((0, 0), (0, HEAD - rows.shape[1])))
        r, payload = np.arange(n)[ok], h.payload[ok]
        head = rows[r[:, None], payload[:, None] + np.arange(18)]
        magic = np.frombuffer(SEQ_MAGIC, dtype=np.uint8)
        good = np.all(head[:, :2] == magic, axis=1)
        head = head[good]
        if not len(head):
            return
        vals = np.ascontiguousarray(head[:, 2:18]).view(">u8").astype(np.uint64)
        seqs, sent_ns = vals[:, 0], vals[:, 1]
        self.with_seq += len(seqs)
        streams = (seqs >> np.uint64(56)).astype(np.int64)
        counters = seqs & _COUNTER_MASK
        for s in np.unique(streams):
            self.streams.setdefault(int(s), _Stream()).add(counters[streams == s])
        lat_us = (np.int64(now_ns) - sent_ns.astype(np.int64)) / 1000.0
        lat_us = lat_us[lat_us >= 0]
        if len(lat_us):
            self.hist += np.bincount(np.searchsorted(_BUCKETS, lat_us), minlength=len(self.hist))
            self.lat_min = min(self.lat_min, float(lat_us.min()))
            self.lat_max = max(self.lat_max, float(lat_us.max()))

    def percentile(self, q: float) -> float | None:
        total = int(self.hist.sum())
        if not total:
            return None
        i = int(np.searchsorted(np.cumsum(self.hist), q / 100 * total))
        upper = float(_BUCKETS[min(i, len(_BUCKETS) - 1)])  # the bucket's upper edge, within ~1%
        return min(max(upper, self.lat_min), self.lat_max)

    def summary(self) -> dict[str, object]:
        return {
            "lost": sum(s.lost for s in self.streams.values()),
            "duplicates": sum(s.duplicates for s in self.streams.values()),
            "reordered": sum(s.reordered for s in self.streams.values()),
            "streams": len(self.streams),
            "latency_us": {
                "min": None if self.lat_min == float("inf") else round(self.lat_min, 2),
                "p50": self.percentile(50) and round(self.percentile(50), 2),  # type: ignore[arg-type]
                "p99": self.percentile(99) and round(self.percentile(99), 2),  # type: ignore[arg-type]
                "max": round(self.lat_max, 2) if self.with_seq else None,
            },
        }
