"""The send loop: frames out of one socket, from a source that says how many are due and fills them.

One loop for every sender over a socket: the command line's (``xsk gen`` from options, a
profile or a capture, ``xsk replay``) and the Python ``Generator``. A :class:`Source` makes the
frames: ``Mix`` (a profile's streams, paced per stream: ``send_streams``), :class:`Cycle` (a
capture's frames in a cycle, ``xsk gen --pcap``) or :class:`Recording` (a capture at its recorded
timing, ``xsk replay``). The caller owns the UMEM and the socket (opened, bound, closed by it);
the loop owns the frames it takes, and every one is back in the pool or on the completion path
when it returns.

With ``tx_timestamps`` (a UMEM made with ``tx_metadata=True``, see :mod:`xsk.txmeta`) every
packet asks the kernel for its completion timestamp, and :class:`TxStamps` measures, frame by
frame, how long after the transmit time written into its sequence header the kernel sent it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import pcap, txmeta
from ..errors import ConfigError, HostError
from . import _linkdown as linkdown
from ._mix import Mix, StreamPlan
from ._pacer import Pacer
from ._seqstats import BUCKETS, LatencyHistogram

if TYPE_CHECKING:
    from .._batch import Batch
    from .._socket import Socket
    from .._umem import Umem

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


class Source(Protocol):
    """What the send loop asks of the frames it sends. ``now`` is the run's clock (ns since the
    first call); ``due`` how many frames may go now; ``fill`` makes the batch's frames the next
    ones (counted as sent) and returns how many; ``unsend`` gives back the ones the socket did not
    take, so they go again; ``wait`` sleeps until more fall due (False: the source has finished);
    ``sent_bytes`` the bytes given out so far; ``results`` per stream, for sources that have
    streams ([] for the others)."""

    def now(self) -> int: ...

    def due(self, now_ns: int) -> int: ...

    def fill(self, batch: Batch, now_ns: int) -> int: ...

    def unsend(self, sent: int, filled: int) -> None: ...

    def wait(self, now_ns: int) -> bool: ...

    def sent_bytes(self) -> int: ...

    def results(self) -> list[dict[str, Any]]: ...


class _Frames:
    """A capture's frames laid out once as rows, copied into UMEM frames a batch at a time."""

    def __init__(self, frames: Sequence[bytes], umem: Umem, capacity: int) -> None:
        if not frames:
            raise ConfigError("no frames to send", argument="frames")
        self.umem = umem
        self.capacity = capacity
        self.store, self.lens = pcap.Capture(list(frames), np.zeros(len(frames), dtype=np.int64)).rows()
        self.next = 0  # the next frame's number (the capture's index is next % len)
        self.bytes = 0
        self._idx = np.zeros(0, dtype=np.int64)
        self._t0_ns: int | None = None

    def now(self) -> int:
        t = time.monotonic_ns()
        if self._t0_ns is None:
            self._t0_ns = t
        return t - self._t0_ns

    def fill(self, batch: Batch, now_ns: int) -> int:
        n = len(batch)
        idx = (self.next + np.arange(n)) % len(self.lens)
        batch.lens[:] = self.lens[idx]
        self.umem.write_rows(batch.addrs, self.store[idx])
        self._idx = idx
        self.next += n
        self.bytes += int(self.lens[idx].sum())
        return n

    def unsend(self, sent: int, filled: int) -> None:
        self.next -= filled - sent
        self.bytes -= int(self.lens[self._idx[sent:filled]].sum())

    def sent_bytes(self) -> int:
        return self.bytes

    def results(self) -> list[dict[str, Any]]:
        return []


class Cycle(_Frames):
    """A capture's frames in a cycle, each sent as it is, from frame ``first`` on: at ``pps``
    (``burst`` back to back, see ``Pacer``), or as fast as the socket takes them."""

    def __init__(self, frames: Sequence[bytes], umem: Umem, capacity: int, *, pps: float | None = None,
                 burst: int = 1, first: int = 0) -> None:
        super().__init__(frames, umem, capacity)
        self.next = first
        self._pacer = Pacer(pps, burst) if pps else None

    def due(self, now_ns: int) -> int:
        # the pacer waits for the next frame itself when none is due, and says 0
        return self._pacer.grant(self.capacity) if self._pacer is not None else self.capacity

    def fill(self, batch: Batch, now_ns: int) -> int:
        n = super().fill(batch, now_ns)
        if self._pacer is not None:
            self._pacer.consumed(n)
        return n

    def unsend(self, sent: int, filled: int) -> None:
        super().unsend(sent, filled)
        if self._pacer is not None:
            self._pacer.consumed(sent - filled)

    def wait(self, now_ns: int) -> bool:
        return True  # endless: count, duration or stop end it


class Recording(_Frames):
    """A capture sent ``loops`` times in order, at its recorded timing scaled by ``speed`` (frame
    i of lap L due at (L * span + offset_i) / speed), or at ``pps`` evenly spaced, or as fast as
    the socket takes them (``topspeed``). A batch never spans two laps."""

    def __init__(self, frames: Sequence[bytes], timestamps_ns: np.ndarray, umem: Umem, capacity: int, *,
                 speed: float = 1.0, pps: float | None = None, topspeed: bool = False, loops: int = 1) -> None:
        super().__init__(frames, umem, capacity)
        self.total = len(frames) * loops
        self._offsets_s = (timestamps_ns - timestamps_ns[0]) / 1e9
        self._span = float(self._offsets_s[-1])
        self._speed = speed
        self._topspeed = topspeed
        self._pacer = Pacer(pps, max(1, min(capacity, int(pps / 1000) or 1))) if pps else None

    def due(self, now_ns: int) -> int:
        n = len(self.lens)
        i, lap = self.next % n, self.next // n
        want = min(self.capacity, self.total - self.next, n - i)
        if want <= 0:
            return 0
        if self._pacer is not None:
            return self._pacer.grant(want)
        if self._topspeed:
            return want
        at = now_ns / 1e9 * self._speed - lap * self._span  # where the recording is now, in this lap
        due = int(np.searchsorted(self._offsets_s, at, side="right")) - i
        return min(want, max(due, 0))

    def fill(self, batch: Batch, now_ns: int) -> int:
        n = super().fill(batch, now_ns)
        if self._pacer is not None:
            self._pacer.consumed(n)
        return n

    def unsend(self, sent: int, filled: int) -> None:
        super().unsend(sent, filled)
        if self._pacer is not None:
            self._pacer.consumed(sent - filled)

    def wait(self, now_ns: int) -> bool:
        """Until the next frame falls due; False once every lap was given out."""
        if self.next >= self.total:
            return False
        if self._pacer is None and not self._topspeed:
            n = len(self.lens)
            at = now_ns / 1e9 * self._speed - self.next // n * self._span
            gap = (self._offsets_s[self.next % n] - at) / self._speed
            if gap > 0.0005:
                time.sleep(min(gap, 0.1))
        return True


def send_frames(source: Source, umem: Umem, sock: Socket, *, count: int | None = None,
                duration: float | None = None, stop: Callable[[], bool] | None = None,
                tick: Callable[[dict[str, Any]], None] | None = None,
                tx_timestamps: bool = False) -> dict[str, Any]:
    """Send ``source``'s frames until it has finished, or ``count`` packets, ``duration`` seconds
    or ``stop()``: the one send loop.

    ``tick(progress)`` is called between batches with ``{"packets", "source"}`` (the caller
    decides how often to look). Returns the totals, the seconds taken, ``streams`` (the
    source's per-stream results, each with its achieved rate) and ``link_down_seconds`` (how
    long the interface was down under it: see ``linkdown``). ``tx_timestamps`` (a ``Mix``
    source, the UMEM made with ``tx_metadata=True``): every frame asks for its completion
    timestamp, and the result has ``tx_timestamps`` (``TxStamps.results``).
    """
    stamps = None
    if tx_timestamps:
        if not isinstance(source, Mix):
            raise ConfigError("measure from each frame's sequence header: it needs a profile's streams",
                              argument="tx_timestamps")
        stamps = TxStamps(umem, len(source.plans))
    sent = 0
    link_down = 0.0  # seconds spent waiting for the interface to come back up (linkdown)
    deadline_ns = None if duration is None else int(duration * 1e9)
    deadline = None if duration is None else time.monotonic() + duration  # the same, for linkdown
    b = umem.take(0)  # one batch, refilled in place every round (into=)
    now = source.now()
    while True:
        if (count is not None and sent >= count) or (stop is not None and stop()):
            break
        now = source.now()
        if deadline_ns is not None and now >= deadline_ns:
            break
        if tick is not None:
            tick({"packets": sent, "source": source})
        want = source.due(now)
        if count is not None:
            want = min(want, count - sent)
        if not want:
            if not source.wait(now):
                break  # the source has finished
            continue
        b = umem.take(want, into=b)
        if not len(b):
            sock.complete()
            sock.poll(0.001, rx=False, tx=True)
            continue
        filled = source.fill(b, now)
        if stamps is not None:
            assert isinstance(source, Mix)
            stamps.sending(b, source.last_streams(filled), source.last_ts_ns)
        try:
            k = sock.send(b)
        except HostError as exc:
            k, waited = linkdown.ride_out(exc, sock, stop, deadline)
            link_down += waited
        if len(b):  # the socket took k: the rest go back, their packets sent again next round
            source.unsend(k, filled)
            umem.release(b)
        sent += k
        if stamps is not None:
            stamps.reap(sock)
    linkdown.flush(sock, timeout=2)
    if stamps is not None:
        stamps.reap(sock)
    seconds = source.now() / 1e9
    streams = source.results()
    for r in streams:
        span = (r["last_s"] - r["first_s"]) if r["packets"] > 1 else 0.0
        r["pps"] = round((r["packets"] - 1) / span, 1) if span > 0 else None
    out = {"packets": sent, "bytes": source.sent_bytes(), "seconds": seconds, "streams": streams,
           "link_down_seconds": round(link_down, 3)}
    if stamps is not None:
        out["tx_timestamps"] = stamps.results()
    return out


def send_streams(plans: list[StreamPlan], umem: Umem, sock: Socket, *, batch: int, q: int = 0, nqueues: int = 1,
                 count: int | None = None, duration: float | None = None,
                 stop: Callable[[], bool] | None = None,
                 tick: Callable[[dict[str, Any]], None] | None = None,
                 tx_timestamps: bool = False) -> dict[str, Any]:
    """A profile's resolved streams (``plans``) through ``send_frames``: a ``Mix`` of ``batch``
    frames a round, the ``q``-th of ``nqueues`` workers' share; until every stream is done, or
    ``count``, ``duration`` or ``stop()``. ``streams`` in the result: per stream its id, packets,
    bytes and rates."""
    return send_frames(Mix(plans, umem, batch, q=q, nqueues=nqueues), umem, sock, count=count, duration=duration,
                       stop=stop, tick=tick, tx_timestamps=tx_timestamps)


__all__ = ["Cycle", "Recording", "Source", "TxStamps", "hist_index", "merge_tx_stamps", "send_frames",
           "send_streams"]
