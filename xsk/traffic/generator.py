"""Sending a traffic profile: the worker under ``xsk gen --profile`` and the ``Generator`` API.

``send_profile`` is one queue's worker: it opens its UMEM and socket (``SendConfig``), sends
the resolved streams with ``send_streams`` and returns plain data (per stream, kernel
counters, the causes of anything lost, frame accounting); UMEM and socket are closed, every
frame back in the pool, before it returns.

``Generator`` runs a worker process per queue: ``start(profile)`` returns once every worker
sends, ``stats()`` reads live per-stream counts, ``wait()`` returns when every stream has
finished, ``stop()`` ends it early. As a context manager it stops and reaps its workers
whatever the body does, so no process, socket or XDP program outlives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, XskError
from ..socket import Mode
from .health import FOOTPRINT_KEYS, Health, quiet_gc
from .mix import StreamPlan, resolve
from .profile import Profile, Stream
from .results import add_counters, cause_dicts, merge_causes, merge_footprints
from .sender import merge_tx_stamps, send_streams
from .workers import Workers, answer

if TYPE_CHECKING:
    from .mix import Mix


@dataclass
class SendConfig:
    """How a sending worker opens its socket (picklable: workers get a copy)."""

    ifname: str
    netns: str | None = None
    mode: Mode = "auto"
    batch: int = 64
    frames: int = 4096
    frame_size: int = 2048
    ring_size: int = 2048
    verify_ledger: bool = False
    tx_timestamps: bool = False  # each packet's kernel completion timestamp (a UMEM with TX metadata)


def send_profile(cfg: SendConfig, plans: list[StreamPlan], queue: int, q: int = 0, nqueues: int = 1, *,
                 count: int | None = None, duration: float | None = None, stop: Callable[[], bool] | None = None,
                 tick: Callable[[Mix, int, dict[str, int] | None], None] | None = None,
                 ready: Callable[[], None] | None = None) -> dict[str, Any]:
    """Send the plans on ``queue`` (the ``q``-th of ``nqueues``); the totals and ``streams``.

    ``tick(mix, packets, kernel)`` is called about four times a second (``kernel``, the
    socket's counters, once a second, else None). ``ready()`` once the socket is bound.
    ``cfg.tx_timestamps``: the UMEM is made with TX metadata (UnsupportedError where libxdp or
    the kernel can't) and the result has ``tx_timestamps`` (see ``sender.TxStamps``).
    """
    import xsk

    with xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size, tx_metadata=cfg.tx_timestamps) as umem:
        with xsk.Socket(umem, cfg.ifname, queue=queue, mode=cfg.mode, rx=False, netns=cfg.netns,
                        ring_size=cfg.ring_size) as sock:
            if ready is not None:
                ready()
            health = Health(umem, cfg.verify_ledger)
            clock = {"tick": time.monotonic() + 0.25, "kernel": time.monotonic() + 1.0}

            def on_batch(progress: dict[str, Any]) -> None:
                if health.due():
                    health.check()
                now = time.monotonic()
                if tick is not None and now >= clock["tick"]:
                    clock["tick"] = now + 0.25
                    kernel = None
                    if now >= clock["kernel"]:
                        clock["kernel"] = now + 1.0
                        kernel = sock.statistics()
                    tick(progress["mix"], progress["packets"], kernel)

            quiet_gc()
            out = send_streams(plans, umem, sock, batch=cfg.batch, q=q, nqueues=nqueues, count=count,
                               duration=duration, stop=stop, tick=on_batch, tx_timestamps=cfg.tx_timestamps)
            result = {"queue": queue, **out, "mode": sock.mode, "kernel": sock.statistics(), **health.summary(),
                      "causes": cause_dicts(sock.diagnose())}
        result["accounting"] = umem.accounting()._asdict()
    return result


def merge_streams(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each stream's results over every queue's worker, by name: the ids it was sent with, packets,
    bytes, the rate achieved and the rate asked (None: unpaced)."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        for st in r["streams"]:
            m = out.setdefault(st["name"], {"ids": [], "packets": 0, "bytes": 0, "pps": 0.0, "asked_pps": None})
            m["ids"].append(st["id"])
            m["packets"] += st["packets"]
            m["bytes"] += st["bytes"]
            m["pps"] += st["pps"] or 0.0
            if st["asked_pps"] is not None:
                m["asked_pps"] = (m["asked_pps"] or 0.0) + st["asked_pps"]
    for m in out.values():
        m["pps"] = round(m["pps"], 1) if m["packets"] > 1 else None
        m["asked_pps"] = None if m["asked_pps"] is None else round(m["asked_pps"], 1)
    return out


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' results as one (``xsk gen --profile --json``'s form, with ``per_stream``)."""
    packets = sum(r["packets"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    seconds = max(r["seconds"] for r in results)
    out = {"packets": packets, "bytes": nbytes, "seconds": round(seconds, 6),
           "pps": round(packets / seconds, 1) if seconds else 0.0,
           "bps": round(nbytes * 8 / seconds, 1) if seconds else 0.0, "mode": results[0]["mode"],
           "queues": [r["queue"] for r in results], "kernel": add_counters([r["kernel"] for r in results]),
           "accounting": {k: sum(r["accounting"][k] for r in results) for k in results[0]["accounting"]},
           "causes": merge_causes([r["causes"] for r in results]), "per_stream": merge_streams(results),
           **merge_footprints([{k: r[k] for k in FOOTPRINT_KEYS} for r in results])}
    if "tx_timestamps" in results[0]:
        out["tx_timestamps"] = merge_tx_stamps([r["tx_timestamps"] for r in results],
                                               [st["name"] for st in results[0]["streams"]])
    return out


def _worker(cfg: SendConfig, plans: list[StreamPlan], queue: int, q: int, nqueues: int, count: int | None,
            duration: float | None, shared: Any, results: Any, stop: Any) -> None:
    n = len(plans)

    def publish(streams: list[dict[str, Any]]) -> None:
        for i, r in enumerate(streams):
            shared[(q * n + i) * 2], shared[(q * n + i) * 2 + 1] = r["packets"], r["bytes"]

    def work() -> dict[str, Any]:
        out = send_profile(cfg, plans, queue, q, nqueues, count=count, duration=duration, stop=stop.is_set,
                           tick=lambda mix, packets, kernel: publish(mix.results()),
                           ready=lambda: results.put(("ready", queue)))
        publish(out["streams"])
        return out

    answer(results, work)


class Generator(Workers):
    """Sends a profile's streams from an interface's queues, a worker process per queue.

    ``engine``: "afxdp" or "auto" (the same here: a profile's streams need the AF_XDP engine).
    ``dst_mac``: the destination of streams whose packets leave it out (default broadcast).
    Other keyword options are ``SendConfig``'s (batch, frames, frame_size, ring_size, verify_ledger,
    tx_timestamps: each packet's kernel completion timestamp against its header's, see ``sender.TxStamps``).

    Ownership: each worker owns its UMEM and socket and closes them before it reports; the
    Generator owns the processes and reaps them in ``stop()``/``wait()`` (also from
    ``__exit__``), killing one that does not exit within 10 s.
    """

    what = "generator worker"

    def __init__(self, ifname: str, *, netns: str | None = None, queues: Sequence[int] | None = None,
                 mode: Mode = "auto", engine: str = "auto", dst_mac: str | None = None, **options: Any) -> None:
        if engine not in ("auto", "afxdp"):
            raise ConfigError(f"engine {engine!r}: a profile's streams need the AF_XDP engine ('afxdp' or 'auto')",
                              argument="engine")
        super().__init__()
        self.config = SendConfig(ifname, netns=netns, mode=mode, **options)
        self.queues = list(queues) if queues else [0]
        self.dst_mac = dst_mac
        self.plans: list[StreamPlan] = []
        self._bounded = False

    def start(self, profile: Profile | Stream | Sequence[Stream], *, count: int | None = None,
              duration: float | None = None, timeout: float = 30.0) -> Generator:
        """Resolve the profile here (its errors raised now), start the workers, return once each sends.

        ``count``/``duration`` bound the whole run (each worker sends its share of ``count``);
        the streams' own counts and durations end them earlier.
        """
        from .. import link, netns

        if self._procs:
            raise XskError("this Generator was started already")
        if not isinstance(profile, Profile):
            profile = Profile(profile)
        cfg = self.config
        if cfg.tx_timestamps:
            from .. import txmeta

            txmeta.require("Generator(tx_timestamps=True)")  # here, not in every worker
        with netns.entered(cfg.netns):
            link.ifindex(cfg.ifname, cfg.netns)
            mac, ip = link.mac_address(cfg.ifname), link.ipv4_address(cfg.ifname)
        self.plans = resolve(profile, src_mac=mac, dst_mac=self.dst_mac or "ff:ff:ff:ff:ff:ff", src_ip=ip,
                             frame_size=cfg.frame_size)
        nq = len(self.queues)
        self._bounded = count is not None or duration is not None or all(
            p.count is not None or p.duration is not None for p in self.plans)
        if len(self.plans) * nq > 256:
            raise ConfigError(f"{len(self.plans)} streams on {nq} queues need more than 256 stream ids")
        self._shared = self._ctx.RawArray("q", 2 * len(self.plans) * nq)
        shares = [None if count is None else count // nq + (1 if i < count % nq else 0) for i in range(nq)]
        self._spawn(_worker, [(cfg, self.plans, queue, q, nq, shares[q], duration, self._shared)
                              for q, queue in enumerate(self.queues)], cfg.ifname, timeout)
        return self

    def stats(self) -> dict[str, Any]:
        """Live: packets and bytes in all and per stream (by name), and the seconds since start."""
        per_stream = {}
        n = len(self.plans)
        for i, p in enumerate(self.plans):
            packets = sum(self._shared[(q * n + i) * 2] for q in range(len(self.queues)))
            nbytes = sum(self._shared[(q * n + i) * 2 + 1] for q in range(len(self.queues)))
            per_stream[p.name] = {"packets": packets, "bytes": nbytes}
        return {"packets": sum(s["packets"] for s in per_stream.values()),
                "bytes": sum(s["bytes"] for s in per_stream.values()), "per_stream": per_stream,
                "seconds": time.monotonic() - self._t0}

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Until every worker has finished (or ``timeout`` seconds, then stop them); the results."""
        end = None if timeout is None else time.monotonic() + timeout
        if end is None and not self._bounded:
            raise XskError("wait() needs a timeout here: a stream has neither count nor duration, nor has the run")
        while not self.finished():
            if end is not None and time.monotonic() >= end:
                break
            time.sleep(0.01)
        return self.stop()

    def __enter__(self) -> Generator:
        return self

    def _summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return summarize(results)


__all__ = ["Generator", "SendConfig", "merge_streams", "send_profile", "summarize"]
