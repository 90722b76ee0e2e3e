"""The multi-stream send loop: a profile's streams out of one socket, paced per stream.

One loop for the command line (``xsk gen --profile``) and the Python ``Generator``. The
caller owns the UMEM and the socket (opened, bound, closed by it); the loop owns the frames
it takes, and every one is back in the pool or on the completion path when it returns.

With ``tx_timestamps`` (a UMEM made with ``tx_metadata=True``, see :mod:`xsk.txmeta`) every
packet asks the kernel for its completion timestamp, and :class:`TxStamps` measures, frame by
frame, how long after the transmit time written into its sequence header the kernel sent it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import txmeta
from ..errors import HostError
from . import linkdown
from .mix import Mix, StreamPlan
from .seqstats import BUCKETS, LatencyHistogram

if TYPE_CHECKING:
    from ..batch import Batch
    from ..socket import Socket
    from ..umem import Umem

_SUB = 128  # buckets per power of two above 256 ns (xsk_hist_index's XSK_HIST_SUB)


def hist_index(ns: np.ndarray) -> np.ndarray:
    """``xsk_hist_index`` of each value (ns >= 0), in numpy: the LatencyHistogram bucket of each."""
    v = np.minimum(np.asarray(ns, dtype=np.uint64), np.uint64(1 << 50))
    exp = np.frexp(v.astype(np.float64))[1].astype(np.int64) - 8  # v >> exp is in [128, 256) from 256 on
    exp = np.maximum(exp, 0)
    i = np.where(v < 2 * _SUB, v.astype(np.int64), exp * _SUB + (v >> exp.astype(np.uint64)).astype(np.int64))
    out: np.ndarray = np.minimum(i, BUCKETS - 1)
    return out


class TxStamps:
    """Per stream: from the transmit time in each packet's sequence header (the moment its batch
    was filled, ``time.time_ns()``) to the kernel's completion timestamp of that very frame.

    ``sending`` asks for a timestamp for every frame of a batch about to be sent and remembers,
    by UMEM frame, the header's time and the stream; ``reap`` reads the timestamps the socket's
    completions brought (``Socket.tx_timestamps``), converts them from CLOCK_TAI to
    CLOCK_REALTIME and adds each frame's delay to its stream's histogram. What it remembers is
    about frames the loop owned when it wrote it; a frame is read back only by its completion.
    ``missing``: frames the driver gave no timestamp for; ``lost``: completions whose timestamps
    the socket's log overwrote before they were read (none when ``reap`` follows every send).
    """

    def __init__(self, umem: Umem, streams: int) -> None:
        self._umem = umem
        self._stamp = np.zeros(umem.frame_count, dtype=np.int64)
        self._stream = np.zeros(umem.frame_count, dtype=np.int64)
        self._tai = txmeta.tai_offset_ns()
        self.delays = [LatencyHistogram() for _ in range(streams)]
        self.frames = self.missing = self.lost = 0

    def sending(self, batch: Batch, streams: np.ndarray, stamp_ns: int) -> None:
        """The batch's frames carry ``stamp_ns`` in their headers and belong to ``streams``."""
        batch.request_tx(timestamp=True)
        frames = batch.frame_indices
        self._stamp[frames] = stamp_ns
        self._stream[frames[:len(streams)]] = streams[:len(frames)]

    def reap(self, sock: Socket) -> None:
        got = sock.tx_timestamps()
        self.lost += got.lost
        given = got.ns != 0
        self.missing += int(np.count_nonzero(~given))
        if not given.any():
            return
        frames = self._umem.frames_of(got.addrs[given])
        delay = np.maximum(got.ns[given].astype(np.int64) - self._tai - self._stamp[frames], 0)
        stream = self._stream[frames]
        for s in np.unique(stream):  # a few streams per batch, never a loop per packet
            mine = delay[stream == s]
            h = self.delays[int(s)]
            np.add.at(h.counts, hist_index(mine), 1)
            h.count += len(mine)
            h.total_ns += float(mine.sum())
            lo, hi = int(mine.min()), int(mine.max())
            h.min_ns = lo if h.min_ns is None else min(h.min_ns, lo)
            h.max_ns = hi if h.max_ns is None else max(h.max_ns, hi)
        self.frames += len(frames)

    def results(self) -> dict[str, Any]:
        """Plain data: counts, and the delay histograms in ``LatencyHistogram.export`` form, per stream
        (by index) and over every stream (``merge_tx_stamps`` adds workers' together)."""
        total = LatencyHistogram()
        for h in self.delays:
            total.merge(h)
        return {"clock": "CLOCK_TAI", "frames": self.frames, "missing": self.missing, "lost": self.lost,
                "delay": total.export(), "per_stream": [h.export() for h in self.delays]}


def merge_tx_stamps(parts: list[dict[str, Any]], names: list[str] | None = None) -> dict[str, Any]:
    """Workers' ``TxStamps.results`` as one summary: counts, and the delay from the sequence
    header's transmit time to the kernel's completion timestamp in µs (min, mean, percentiles,
    max), in all and per stream (named by ``names``, else by index)."""
    total = LatencyHistogram()
    per: dict[str, LatencyHistogram] = {}
    for part in parts:
        total.merge(LatencyHistogram.from_export(part["delay"]))
        for i, h in enumerate(part["per_stream"]):
            name = names[i] if names is not None and i < len(names) else str(i)
            per.setdefault(name, LatencyHistogram()).merge(LatencyHistogram.from_export(h))
    out: dict[str, Any] = {"clock": "CLOCK_TAI", "frames": sum(p["frames"] for p in parts),
                           "missing": sum(p["missing"] for p in parts), "lost": sum(p["lost"] for p in parts),
                           "header_to_kernel_us": total.summary_us()}
    if len(per) > 1:
        out["per_stream"] = {name: h.summary_us() for name, h in per.items() if h.count}
    return out


def send_streams(plans: list[StreamPlan], umem: Umem, sock: Socket, *, batch: int, q: int = 0, nqueues: int = 1,
                 count: int | None = None, duration: float | None = None,
                 stop: Callable[[], bool] | None = None,
                 tick: Callable[[dict[str, Any]], None] | None = None,
                 tx_timestamps: bool = False) -> dict[str, Any]:
    """Send until every stream is done, or ``count`` packets, ``duration`` seconds or ``stop()``.

    ``tick(progress)`` is called between batches with ``{"packets", "mix"}`` (the ``Mix``, for
    per-stream counts; the caller decides how often to look). Returns the totals,
    the seconds taken, ``streams`` (per stream its id, packets, bytes and rates) and
    ``link_down_seconds`` (how long the interface was down under it: see ``linkdown``).
    ``tx_timestamps`` (the UMEM made with ``tx_metadata=True``): every frame asks for its
    completion timestamp, and the result has ``tx_timestamps`` (``TxStamps.results``).
    """
    mix = Mix(plans, umem, batch, q=q, nqueues=nqueues)
    stamps = TxStamps(umem, len(plans)) if tx_timestamps else None
    sent = 0
    link_down = 0.0  # seconds spent waiting for the interface to come back up (linkdown)
    deadline_ns = None if duration is None else int(duration * 1e9)
    deadline = None if duration is None else time.monotonic() + duration  # the same, for linkdown
    b = umem.take(0)  # one batch, refilled in place every round (into=)
    now = mix.now()
    while True:
        if (count is not None and sent >= count) or (stop is not None and stop()):
            break
        now = mix.now()
        if deadline_ns is not None and now >= deadline_ns:
            break
        if tick is not None:
            tick({"packets": sent, "mix": mix})
        want = mix.due(now)
        if count is not None:
            want = min(want, count - sent)
        if not want:
            if not mix.wait(now):
                break  # every stream has finished
            continue
        b = umem.take(want, into=b)
        if not len(b):
            sock.complete()
            sock.poll(0.001, rx=False, tx=True)
            continue
        filled = mix.fill(b, now)
        if stamps is not None:
            stamps.sending(b, mix.last_streams(filled), mix.last_ts_ns)
        try:
            k = sock.send(b)
        except HostError as exc:
            k, waited = linkdown.ride_out(exc, sock, stop, deadline)
            link_down += waited
        if len(b):  # the socket took k: the rest go back, their packets sent again next round
            mix.unsend(k, filled)
            umem.release(b)
        sent += k
        if stamps is not None:
            stamps.reap(sock)
    linkdown.flush(sock, timeout=2)
    if stamps is not None:
        stamps.reap(sock)
    seconds = mix.now() / 1e9
    streams = mix.results()
    for r in streams:
        span = (r["last_s"] - r["first_s"]) if r["packets"] > 1 else 0.0
        r["pps"] = round((r["packets"] - 1) / span, 1) if span > 0 else None
    out = {"packets": sent, "bytes": sum(r["bytes"] for r in streams), "seconds": seconds, "streams": streams,
           "link_down_seconds": round(link_down, 3)}
    if stamps is not None:
        out["tx_timestamps"] = stamps.results()
    return out


__all__ = ["TxStamps", "hist_index", "merge_tx_stamps", "send_streams"]
