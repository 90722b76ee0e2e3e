"""Sending: the workers under ``xsk gen`` and the ``Generator`` API.

``send_on_queue`` is one queue's worker over a socket: it opens its UMEM and socket
(``SendConfig``), sends a source's frames with ``sender.send_frames`` (the one send loop) and
returns plain data (per stream, kernel counters, the causes of anything lost, frame accounting);
UMEM and socket are closed, every frame back in the pool, before it returns. ``send_profile``
sends a profile's resolved streams that way, ``send_capture`` a capture's frames in a cycle,
``send_recording`` a capture at its recorded timing (``xsk replay``).

``run`` sends a planned run (``xsk.traffic._run_plan.GenConfig``, what ``xsk gen`` plans from its
options) from each of its queues, by its engine: in this process for one queue, else a worker
process per queue; ``summarize`` makes the workers' results one summary (``xsk gen --json``'s).

``Generator`` runs a worker process per queue: ``start(profile)`` returns once every worker
sends, ``stats()`` reads live per-stream counts, ``wait()`` returns when every stream has
finished, ``stop()`` ends it early; ``pause``, ``resume``, ``set_rate`` and ``stop(stream)`` control one
stream while it runs (``xsk.traffic._control``). As a context manager it stops and reaps its workers
whatever the body does, so no process, socket or XDP program outlives it.
"""

from __future__ import annotations

import dataclasses
import os
import queue as queue_mod
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import pcap
from .._socket import Mode
from ..errors import ConfigError, UsageError, XskError
from ._control import PAUSE, RATE, RUN, STOP, UNPACED, Control, states
from ._health import FOOTPRINT_KEYS, Health, quiet_gc
from ._mix import Mix, StreamPlan, check_plans_mtu, resolve
from ._pacer import line_rate, parse_rate
from ._ports import Port, as_ports, check_ids, one_port_warning, stream_ports
from ._profile import Profile, Stream
from ._results import add_counters, cause_dicts, merge_causes, merge_footprints
from ._sender import Cycle, Recording, Source, merge_tx_stamps, send_frames
from ._workers import Workers, WorkerStop, answer, context

if TYPE_CHECKING:
    from .._umem import Umem
    from ._run_plan import GenConfig


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


def send_on_queue(cfg: SendConfig, source: Callable[[Umem], Source], queue: int, *, count: int | None = None,
                  duration: float | None = None, stop: Callable[[], bool] | None = None,
                  tick: Callable[[Source, int, dict[str, int] | None], None] | None = None,
                  ready: Callable[[], None] | None = None, start_at: Callable[[], int] | None = None
                  ) -> dict[str, Any]:
    """Send the frames of ``source(umem)`` on ``queue``; the totals and ``streams``.

    ``tick(source, packets, kernel)`` is called about four times a second (``kernel``, the
    socket's counters, once a second, else None). ``ready()`` once the socket is bound.
    ``start_at()``: a CLOCK_REALTIME instant (``time.time_ns()``; 0: not given yet); once bound
    and its source built, the worker waits for it (``hold_until``) and only then sends, so its
    rates, counts and duration run from there. The result's ``first_frame_ns``: the CLOCK_REALTIME stamp of the
    batch that carried the first frame the socket took (the stamp its sequence header carries;
    None for a source without stamps, or when nothing was sent).
    ``cfg.tx_timestamps``: the UMEM is made with TX metadata (UnsupportedError where libxdp or
    the kernel can't) and the result has ``tx_timestamps`` (see ``sender.TxStamps``).
    """
    import xsk

    with xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size, tx_metadata=cfg.tx_timestamps) as umem:
        with xsk.Socket(umem, cfg.ifname, queue=queue, mode=cfg.mode, rx=False, netns=cfg.netns,
                        ring_size=cfg.ring_size) as sock:
            if ready is not None:
                ready()
            src = source(umem)  # built before the hold: its clock starts at its first frame
            health = Health(umem, cfg.verify_ledger)
            clock = {"tick": time.monotonic() + 0.25, "kernel": time.monotonic() + 1.0}
            first: list[int | None] = [None]  # the first sent frame's stamp

            def on_batch(progress: dict[str, Any]) -> None:
                if first[0] is None and progress["packets"]:  # the batch before this tick sent the first
                    first[0] = getattr(progress["source"], "last_ts_ns", None)
                if health.due():
                    health.check()
                now = time.monotonic()
                if tick is not None and now >= clock["tick"]:
                    clock["tick"] = now + 0.25
                    kernel = None
                    if now >= clock["kernel"]:
                        clock["kernel"] = now + 1.0
                        kernel = sock.statistics()
                    tick(progress["source"], progress["packets"], kernel)

            quiet_gc()
            if start_at is not None:
                hold_until(start_at, stop)
            out = send_frames(src, umem, sock, count=count, duration=duration, stop=stop, tick=on_batch,
                              tx_timestamps=cfg.tx_timestamps)
            if first[0] is None and out["packets"]:  # it ended right after its first sending batch
                first[0] = getattr(src, "last_ts_ns", None)
            out["first_frame_ns"] = first[0] or None
            result = {"queue": queue, **out, "mode": sock.mode, "kernel": sock.statistics(), **health.summary(),
                      "causes": cause_dicts(sock.diagnose())}
        result["accounting"] = umem.accounting()._asdict()
    return result


def hold_until(at: Callable[[], int], stop: Callable[[], bool] | None = None) -> None:
    """Return at the CLOCK_REALTIME instant ``at()`` ns (read again and again: 0 is "not given
    yet"), or at once when ``stop()`` says so or the instant has passed: asleep until 200 µs
    before it (a wake-up is late by tens of µs here), spinning on the clock for the rest (short:
    several workers spinning on few cores would delay each other)."""
    while not (stop is not None and stop()):
        at_ns = at()
        if not at_ns:
            time.sleep(0.005)
            continue
        left = at_ns - time.time_ns()
        if left <= 0:
            return
        if left > 200_000:
            time.sleep(min(0.05, (left - 200_000) / 1e9))


def send_profile(cfg: SendConfig, plans: list[StreamPlan], queue: int, q: int = 0, nqueues: int = 1, *,
                 count: int | None = None, duration: float | None = None, stop: Callable[[], bool] | None = None,
                 tick: Callable[[Source, int, dict[str, int] | None], None] | None = None,
                 ready: Callable[[], None] | None = None, control: Control | None = None, slot: int | None = None,
                 active: Collection[int] | None = None, start_at: Callable[[], int] | None = None
                 ) -> dict[str, Any]:
    """Send the plans on ``queue`` (the ``q``-th of ``nqueues``, which sets the stream ids and
    this queue's share of rates and counts): ``send_on_queue`` over a ``Mix``, which applies the
    ``control``'s commands as they come (``xsk.traffic._control``; ``slot``: this worker's row of
    marks). ``active``: the indexes of the plans this port sends (a run over several ports).
    ``start_at``: begin sending at the CLOCK_REALTIME instant it gives (see ``send_on_queue``)."""
    return send_on_queue(cfg, lambda umem: Mix(plans, umem, cfg.batch, q=q, nqueues=nqueues, control=control,
                                               slot=slot, active=active), queue,
                         count=count, duration=duration, stop=stop, tick=tick, ready=ready, start_at=start_at)


def send_capture(cfg: SendConfig, frames: list[bytes], queue: int, *, pps: float | None = None, burst: int = 1,
                 first: int = 0, count: int | None = None, duration: float | None = None,
                 stop: Callable[[], bool] | None = None,
                 tick: Callable[[Source, int, dict[str, int] | None], None] | None = None,
                 ready: Callable[[], None] | None = None) -> dict[str, Any]:
    """Send a capture's ``frames`` as they are, in a cycle from frame ``first``, at ``pps``
    (or unpaced) on ``queue``: ``send_on_queue`` over a ``sender.Cycle`` (no ``streams``)."""
    return send_on_queue(cfg, lambda umem: Cycle(frames, umem, cfg.batch, pps=pps, burst=burst, first=first), queue,
                         count=count, duration=duration, stop=stop, tick=tick, ready=ready)


def send_recording(cfg: SendConfig, capture: pcap.Capture, queue: int, *, speed: float = 1.0,
                   pps: float | None = None, topspeed: bool = False, loops: int = 1,
                   stop: Callable[[], bool] | None = None,
                   tick: Callable[[Source, int, dict[str, int] | None], None] | None = None,
                   ready: Callable[[], None] | None = None) -> dict[str, Any]:
    """Send a capture ``loops`` times on ``queue``: at its recorded timing scaled by ``speed``, at
    ``pps`` evenly spaced, or ``topspeed``: ``send_on_queue`` over a ``sender.Recording``."""
    for name, value in (("speed", speed), ("loops", loops), ("pps", pps)):
        if value is not None and value <= 0:
            raise ConfigError(f"must be positive, got {value}", argument=name)
    return send_on_queue(cfg, lambda umem: Recording(capture.frames, capture.timestamps_ns, umem, cfg.batch,
                                                     speed=speed, pps=pps, topspeed=topspeed, loops=loops),
                         queue, stop=stop, tick=tick, ready=ready)


def merge_streams(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each stream's results over every queue's worker, by name: the ids it was sent with, whether
    its frames carry the sequence header (``seq``), packets, bytes, the rate achieved and the rate
    asked (None: unpaced)."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        for st in r["streams"]:
            if st.get("active") is False:  # another port's stream (a run over several ports)
                continue
            m = out.setdefault(st["name"], {"ids": [], "seq": st.get("seq", True), "packets": 0, "bytes": 0, "pps": 0.0,
                                            "asked_pps": None})
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
    """The workers' results as one (``xsk gen --json``'s form): totals and rates, the queues, kernel
    counters; ``per_stream`` when the workers sent streams; ``tx_timestamps`` when they measured
    them; the footprint and frame ``accounting`` of AF_XDP workers; ``causes`` of anything the
    kernel lost or refused; ``link_down_seconds`` when a link was down under a worker; and for
    the XDP engine, ``refused`` frames that never left (with ``attempted`` and the ``driver``)."""
    packets = sum(r["packets"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    seconds = max(r["seconds"] for r in results)
    out: dict[str, Any] = {
        "packets": packets, "bytes": nbytes, "seconds": round(seconds, 6),
        "pps": round(packets / seconds, 1) if seconds else 0.0,
        "bps": round(nbytes * 8 / seconds, 1) if seconds else 0.0, "mode": results[0]["mode"],
        "queues": [r["queue"] for r in results], "kernel": add_counters([r["kernel"] for r in results])}
    if any(r.get("streams") for r in results):
        out["per_stream"] = merge_streams(results)
    if "tx_timestamps" in results[0]:
        out["tx_timestamps"] = merge_tx_stamps([r["tx_timestamps"] for r in results],
                                               [st["name"] for st in results[0]["streams"]])
    if "rss_kib" in results[0]:  # the AF_XDP engine's workers report their footprint and frames
        out.update(merge_footprints([{k: r[k] for k in FOOTPRINT_KEYS if k in r} for r in results]))
        out["accounting"] = {k: sum(r["accounting"][k] for r in results) for k in results[0]["accounting"]}
    out["causes"] = merge_causes([r.get("causes", []) for r in results])
    down = max(r.get("link_down_seconds", 0.0) for r in results)
    if down:
        out["link_down_seconds"] = down
    refused = sum(r.get("refused", 0) for r in results)
    if refused:
        out["refused"] = refused
        out["attempted"] = sum(r.get("attempted", 0) for r in results)
        out["driver"] = next(r["driver"] for r in results if "driver" in r)
    return out


def rate_warnings(cfg: GenConfig, summary: dict[str, Any]) -> list[str]:
    """What to say of a run that fell more than 1% short of its rate (runs of a second or more):
    a sentence for the run against ``cfg.pps``, and for a profile one for each paced stream
    against its own; settings named by their keywords (``burst=1``, ``queues=[0, 1]``)."""
    seconds, pps = summary["seconds"], summary["pps"]
    if seconds < 1.0:
        return []
    lines = []
    if cfg.pps and pps < 0.99 * cfg.pps:
        asked = f"asked for {cfg.pps:,.0f} pps, sent {pps:,.0f} ({pps / cfg.pps:.0%})"
        more = list(range(len(cfg.queues) + 1))
        if cfg.burst <= 1:
            lines.append(f"{asked}: with burst=1 every frame costs a wakeup of the kernel; a burst of 16-64 keeps "
                         "the average rate with far fewer")
        elif cfg.engine == "afxdp":
            lines.append(f"{asked}: the kernel's copy-mode transmit is one core's work per queue; spread the rate "
                         f"over more queues (queues={more}), or use engine='xdp' for one template at high rates")
        else:
            lines.append(f"{asked}: the engine could not keep up on this machine; spread the rate over more queues "
                         "(queues=)")
    if cfg.from_profile:  # a one-stream run made from options has the line above
        lines += stream_rate_warnings(summary)
    return lines


def stream_rate_warnings(summary: dict[str, Any]) -> list[str]:
    """A sentence for each paced stream of a profile that sent for a second or more and fell
    more than 1% short of its rate."""
    return [f"stream {name!r}: asked for {s['asked_pps']:,.0f} pps, sent {s['pps']:,.0f} "
            f"({s['pps'] / s['asked_pps']:.0%}): the path could not carry the profile's sum; lower the rates or "
            "spread them over more queues (queues=)"
            for name, s in summary.get("per_stream", {}).items()
            if s["asked_pps"] and s["pps"] and s["packets"] >= s["pps"] and s["pps"] < 0.99 * s["asked_pps"]]


def stream_warnings(plans: Sequence[StreamPlan], summary: dict[str, Any]) -> list[str]:
    """A sentence for each stream that sent nothing: a ``start`` the run never reached, a
    predecessor that never ended (a chained stream), or else only that it sent nothing."""
    lines = []
    per_stream = summary.get("per_stream", {})
    after = {p.name: plans[p.after].name for p in plans if p.after is not None and p.after < len(plans)}
    for name, start in dict((p.name, p.start) for p in plans).items():
        if name not in per_stream or per_stream[name]["packets"]:
            continue
        if name in after:
            lines.append(f"stream {name!r} was to start when {after[name]!r} ended, which it did not before the run "
                         "ended: it sent nothing (make the run longer: duration=)")
        elif start and summary["seconds"] <= start:
            lines.append(f"stream {name!r} was to start {start:g} s into the run, which ended after "
                         f"{summary['seconds']:.1f} s: it sent nothing (start it earlier, or make the run longer: "
                         "duration=)")
        else:
            lines.append(f"stream {name!r} sent nothing")
    return lines


def broadcast_warning(frames: Sequence[tuple[str, bytes]]) -> str | None:
    """What to say when frames go to the broadcast address because no destination was given:
    ``frames``, each stream's name and frame."""
    names = [name for name, frame in frames if frame[:6] == b"\xff" * 6]
    if not names:
        return None
    which = "" if len(names) == len(frames) else f" (streams {', '.join(map(repr, names))})"
    return (f"no dst_mac= given: frames{which} go to the broadcast address ff:ff:ff:ff:ff:ff, which every host on "
            "the link takes and a router does not forward; give the receiver's MAC with dst_mac=")


def work(cfg: GenConfig, queue: int, count: int | None = None, pps: float | None = None,
         report: Callable[[dict[str, Any]], None] | None = None,
         stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """One queue's share of a planned run (``count`` packets at ``pps``), by its engine: streams
    (a profile's, or the options' one) or a capture's frames over a socket, or the XDP engine.
    ``report(totals)`` about once a second: packets, bytes, the socket's counters, and packets
    per stream where there are streams."""
    if cfg.engine == "xdp":
        from ._fields import layout
        from ._xdpgen import transmit

        frame = bytearray(cfg.frame)
        lay = layout(cfg.frame)
        seq_offset = None
        if cfg.seq and lay.l4 is not None:  # sequence headers on the XDP engine: IPv4 UDP (plan checks)
            seq_offset = lay.payload
            frame[lay.l4 + 6 : lay.l4 + 8] = b"\0\0"  # no UDP checksum: the program does not recompute it
        return transmit(bytes(frame), cfg.ifname, queue, netns=cfg.netns, stream=queue, seq_offset=seq_offset,
                        first_seq=cfg.seq_start, count=count, duration=cfg.duration, pps=pps, burst=cfg.burst,
                        batch=cfg.batch, report=report, stop=stop)
    send = SendConfig(cfg.ifname, netns=cfg.netns, mode=cfg.mode, batch=cfg.batch, frames=cfg.frames,
                      frame_size=cfg.frame_size, ring_size=cfg.ring_size, verify_ledger=cfg.verify_ledger,
                      tx_timestamps=cfg.tx_timestamps)
    kernel: dict[str, int] = {}

    def tick(source: Source, packets: int, counters: dict[str, int] | None) -> None:
        if counters is not None and report is not None:
            kernel.update(counters)
            r = {"queue": queue, "packets": packets, "bytes": source.sent_bytes(), "kernel": dict(kernel)}
            streams = source.results()
            if streams:
                r["per_stream"] = {s["name"]: s["packets"] for s in streams}
            report(r)

    if not cfg.plans:
        return send_capture(send, cfg.pcap_frames, queue, pps=pps, burst=cfg.burst, first=cfg.seq_start, count=count,
                            duration=cfg.duration, stop=stop, tick=tick)
    q = cfg.queues.index(queue) if queue in cfg.queues else 0
    plans = [dataclasses.replace(cfg.plans[0], stream_id=queue)] if cfg.one_stream else cfg.plans
    return send_profile(send, plans, queue, q, len(cfg.queues) or 1, count=count, duration=cfg.duration, stop=stop,
                        tick=tick)


def _work_in_child(cfg: GenConfig, queue: int, count: int | None, pps: float | None, reports: Any, stop: Any,
                   cpu: int | None) -> None:
    stop = WorkerStop(stop)
    try:
        if cpu is not None:  # one core per queue: the kernel's copy-mode TX work runs on it too
            os.sched_setaffinity(0, {cpu})
        result = work(cfg, queue, count, pps, lambda r: reports.put(("tick", r)), stop.is_set)
        reports.put(("done", result))
    except XskError as exc:
        reports.put(("error", str(exc)))
    except KeyboardInterrupt:
        reports.put(("error", "interrupted"))


def run(cfg: GenConfig, report: Callable[[dict[str, Any]], None] | None = None,
        stop: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Send a planned run from each of ``cfg.queues`` (each its share of the count and rate); the
    workers' results in queue order (``summarize`` makes them one).

    One queue: in this process, ``report`` getting its worker's totals once a second and ``stop``
    asked between batches. Several: a worker process per queue, each on its own CPU where there
    are enough; ``report`` gets their sums (packets, bytes, packets per stream) about once a
    second, and a worker's failure, Ctrl-C or ``stop()`` stops them all (XskError "worker failed"
    for a failure)."""
    queues = cfg.queues or [0]
    per_count = [None] * len(queues) if cfg.count is None else [
        cfg.count // len(queues) + (1 if i < cfg.count % len(queues) else 0) for i in range(len(queues))]
    per_pps = cfg.pps / len(queues) if cfg.pps else None
    if len(queues) == 1:
        return [work(cfg, queues[0], per_count[0], per_pps, report, stop)]
    ctx = context()
    reports, stop_all = ctx.Queue(), ctx.Event()
    cpus = sorted(os.sched_getaffinity(0))
    pin = [cpus[i] for i in range(len(queues))] if len(queues) <= len(cpus) else [None] * len(queues)
    procs = [ctx.Process(target=_work_in_child, args=(cfg, q, per_count[i], per_pps, reports, stop_all, pin[i]),
                         daemon=True)
             for i, q in enumerate(queues)]
    for p in procs:
        p.start()
    results: list[dict[str, Any]] = []
    latest: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    next_report = time.monotonic() + 1.0
    try:
        while len(results) + len(errors) < len(procs):
            if stop is not None and stop() and not stop_all.is_set():
                stop_all.set()
            try:
                kind, payload = reports.get(timeout=0.5)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    errors.append("a worker exited without reporting")
                continue
            if kind == "tick":
                latest[payload["queue"]] = payload
                if report is not None and time.monotonic() >= next_report:
                    next_report = time.monotonic() + 1.0
                    live: dict[str, int] = {}
                    for r in latest.values():
                        for name, n in r.get("per_stream", {}).items():
                            live[name] = live.get(name, 0) + n
                    total = {"packets": sum(r["packets"] for r in latest.values()),
                             "bytes": sum(r["bytes"] for r in latest.values())}
                    report({**total, "per_stream": live} if live else total)
            elif kind == "done":
                results.append(payload)
            else:
                errors.append(payload)
                stop_all.set()
    except KeyboardInterrupt:
        stop_all.set()
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    if errors:
        raise XskError(f"worker failed: {errors[0]}")
    return sorted(results, key=lambda r: int(r["queue"]))


def _worker(cfg: SendConfig, plans: list[StreamPlan], queue: int, q: int, nqueues: int, count: int | None,
            duration: float | None, shared: Any, control: Control, slot: int, port: str, active: list[int] | None,
            go: Any, results: Any, stop: Any) -> None:
    n = len(plans)
    stop = WorkerStop(stop)

    def publish(streams: list[dict[str, Any]]) -> None:
        for i, r in enumerate(streams):
            shared[(slot * n + i) * 2], shared[(slot * n + i) * 2 + 1] = r["packets"], r["bytes"]

    def work() -> dict[str, Any]:
        out = send_profile(cfg, plans, queue, q, nqueues, count=count, duration=duration, stop=stop.is_set,
                           tick=lambda source, packets, kernel: publish(source.results()),
                           ready=lambda: results.put(("ready", queue)), control=control, slot=slot, active=active,
                           start_at=None if go is None else lambda: int(go.value))
        publish(out["streams"])
        return {**out, "slot": slot, "port": port}

    answer(results, work)


def _start_at_ns(start_at: float) -> int:
    """``start_at`` (CLOCK_REALTIME seconds) in ns, or a one-line error for what can't be one."""
    if isinstance(start_at, bool) or not isinstance(start_at, (int, float)) or not start_at >= 1e9:
        raise ConfigError(f"start_at {start_at!r}: an instant on the realtime clock, in seconds since the epoch "
                          f"(time.time() + a few seconds)", argument="start_at")
    return int(start_at * 1e9)


def _check_chains_stay_on_their_port(profile: Profile, ports: Sequence[str]) -> None:
    """A chained stream (``next``) starts when its predecessor ends in the same worker: both must
    leave the same port."""
    index = {s.name: i for i, s in enumerate(profile.streams)}
    for i, s in enumerate(profile.streams):
        if s.next is not None and s.next in index and ports[index[s.next]] != ports[i]:
            raise ConfigError(f"stream {s.name!r} leaves port {ports[i]!r} but its next, {s.next!r}, leaves "
                              f"{ports[index[s.next]]!r}: a chain runs on one port; give both the same port",
                              argument="next")


class Generator(Workers):
    """Sends a profile's streams from an interface's queues, a worker process per queue; or from
    several interfaces at once (``ports``), a worker process per port and queue.

    ``ifname`` (with ``netns``, ``queues`` and ``dst_mac``): one port. ``ports``: instead, several
    by name (``{"a": Port("veth0", netns="ns-a", dst_mac=...), "b": "veth1"}``, see
    ``xsk.traffic.Port``); each stream leaves the port its ``port`` names (the first one without),
    stream ids stay unique over all of them, and the results add ``per_port`` (each port's
    interface, queues, packets and bytes) and each stream's ``port``.
    ``engine``: "afxdp" or "auto" (the same here: a profile's streams need the AF_XDP engine).
    ``dst_mac``: the destination of streams whose packets leave it out (default broadcast; a
    ``Port``'s own ``dst_mac`` comes first).
    Other keyword options are ``SendConfig``'s (batch, frames, frame_size, ring_size, verify_ledger,
    tx_timestamps: each packet's kernel completion timestamp against its header's, see ``sender.TxStamps``).

    While it runs, ``pause(name)``, ``resume(name)``, ``set_rate(name, rate)`` and
    ``stop(name)`` control one stream: every worker applies a command between two batches
    (within a millisecond when idle), and ``stats()`` and the results say, per stream, how many
    frames it sent in each state it was put in (``per_stream[name]["states"]``), exactly.

    Ownership: each worker owns its UMEM and socket and closes them before it reports; the
    Generator owns the processes and reaps them in ``stop()``/``wait()`` (also from
    ``__exit__``), killing one that does not exit within 10 s.
    """

    what = "generator worker"
    _control: Control | None = None
    _go: Any = None  # the instant the workers send their first frame (ns, CLOCK_REALTIME; 0: held)

    def __init__(self, ifname: str | None = None, *, ports: Mapping[str, Port | str] | None = None,
                 netns: str | None = None, queues: Sequence[int] | None = None, mode: Mode = "auto",
                 engine: str = "auto", dst_mac: str | None = None, **options: Any) -> None:
        if engine not in ("auto", "afxdp"):
            raise ConfigError(f"engine {engine!r}: a profile's streams need the AF_XDP engine ('afxdp' or 'auto')",
                              argument="engine")
        if (ifname is None) == (ports is None):
            raise UsageError("give a Generator one interface, or ports= (several by name), not "
                             + ("both" if ports is not None else "neither"))
        if ports is not None and (netns is not None or queues):
            raise UsageError("with ports=, each Port says its own netns and tx_queues")
        super().__init__()
        by_port = ports is not None
        if ports is None:
            assert ifname is not None
            ports = {ifname: Port(ifname, netns=netns, tx_queues=list(queues) if queues else None)}
        self.ports = as_ports(ports)
        self.by_port = by_port  # ports= given: results per port, streams named by port
        first = next(iter(self.ports.values()))
        self.config = SendConfig(first.ifname, netns=first.netns, mode=mode, **options)
        self.queues = list(first.tx_queues) if first.tx_queues else [0]
        self.dst_mac = dst_mac
        self.plans: list[StreamPlan] = []
        self.stream_ports: list[str] = []  # the port each plan leaves, by name
        self._slots: list[tuple[str, int, int]] = []  # per worker: port, queue, queue index on the port
        self._bounded = False

    def _tx_queues(self, name: str) -> list[int]:
        queues = self.ports[name].tx_queues
        return [0] if queues is None else list(queues)

    def start(self, profile: Profile | Stream | Sequence[Stream], *, count: int | None = None,
              duration: float | None = None, timeout: float = 30.0, start_at: float | None = None,
              hold: bool = False) -> Generator:
        """Resolve the profile here (its errors raised now), start the workers, return once each sends
        (or, held or given a later ``start_at``, is bound and waits).

        ``count``/``duration`` bound the whole run (each worker sends its share of ``count``);
        the streams' own counts and durations end them earlier. ``start_at``: a CLOCK_REALTIME
        instant (``time.time()`` seconds): every worker binds its socket, then holds its first
        frame until that instant, so that several Generators (on several hosts) start together;
        start() returns once every worker is bound, which may be before it. ``hold``: the
        workers hold their first frame until ``go()`` gives the instant (several Generators that
        take different times to start, started together once all are ready). The results
        say ``start_at_ns`` then, and ``first_frame_ns`` (the earliest worker's first frame, as
        its sequence header stamps it; also without either).
        """
        from .. import link, netns

        if self._procs:
            raise XskError("this Generator was started already")
        if hold and start_at is not None:
            raise UsageError("give start_at= or hold=True (then go(start_at)), not both")
        at_ns = None if start_at is None else _start_at_ns(start_at)
        if not isinstance(profile, Profile):
            profile = Profile(profile)
        cfg = self.config
        if cfg.tx_timestamps:
            from .. import txmeta

            txmeta.require("Generator(tx_timestamps=True)")  # here, not in every worker
        self.stream_ports = stream_ports(profile, self.ports) if self.by_port else \
            [next(iter(self.ports))] * len(profile.streams)
        _check_chains_stay_on_their_port(profile, self.stream_ports)
        sending = [name for name in self.ports if name in self.stream_ports]
        for name in sending:
            if not self._tx_queues(name):
                streams = [s.name for s, p in zip(profile.streams, self.stream_ports, strict=True) if p == name]
                raise ConfigError(f"port {name!r} has tx_queues=[] (it does not send), but streams "
                                  f"{', '.join(map(repr, streams))} leave it: give it a queue to send from",
                                  argument="ports")
        check_ids(profile.id_width, {name: self._tx_queues(name) for name in sending})
        plans: dict[int, StreamPlan] = {}
        for name in sending:
            port = self.ports[name]
            with netns.entered(port.netns):
                link.ifindex(port.ifname, port.netns)
                mac, ip, mtu = link.mac_address(port.ifname), link.ipv4_address(port.ifname), link.mtu(port.ifname)
            line_bps = line_rate(port.ifname, port.netns) if profile.uses_line_rate() else None
            mine = [i for i, p in enumerate(self.stream_ports) if p == name]
            resolved = resolve(profile, src_mac=mac, dst_mac=port.dst_mac or self.dst_mac or "ff:ff:ff:ff:ff:ff",
                               src_ip=ip, frame_size=cfg.frame_size, line_bps=line_bps, indexes=mine)
            check_plans_mtu(port.ifname, mtu, resolved)
            plans.update((p.index, p) for p in resolved)
        self.plans = [plans[i] for i in range(len(profile.streams))]
        self._bounded = count is not None or duration is not None or all(
            p.count is not None or p.duration is not None for p in self.plans)
        self._slots = [(name, queue, q) for name in sending for q, queue in enumerate(self._tx_queues(name))]
        nw = len(self._slots)
        self._shared = self._ctx.RawArray("q", 2 * len(self.plans) * nw)
        self._control = Control.make(self._ctx, nw)
        if hold or at_ns is not None:
            self._go = self._ctx.RawValue("q", at_ns or 0)
        shares = [None if count is None else count // nw + (1 if w < count % nw else 0) for w in range(nw)]
        several = self.by_port
        args = []
        for w, (name, queue, q) in enumerate(self._slots):
            port = self.ports[name]
            port_cfg = dataclasses.replace(cfg, ifname=port.ifname, netns=port.netns)
            active = [i for i, p in enumerate(self.stream_ports) if p == name] if several else None
            args.append((port_cfg, self.plans, queue, q, len(self._tx_queues(name)), shares[w], duration,
                         self._shared, self._control, w, name, active, self._go))
        self._spawn(_worker, args, ", ".join(self.ports[n].ifname for n in sending), timeout)
        return self

    def go(self, start_at: float | None = None) -> None:
        """Let workers held by ``start(hold=True)`` send their first frame at ``start_at`` (a
        CLOCK_REALTIME instant, ``time.time()`` seconds; None: now)."""
        if self._go is None or self._go.value:
            raise UsageError("go() is for a Generator started with hold=True, once")
        if self.results is not None:
            raise UsageError("this Generator has stopped")
        self._go.value = time.time_ns() if start_at is None else _start_at_ns(start_at)

    def _command(self, stream: str, op: int, value: float = 0.0) -> None:
        if not self._procs or self._control is None:
            raise UsageError("this Generator was not started")
        if self.results is not None:
            raise UsageError("this Generator has stopped")
        names = [p.name for p in self.plans]
        if stream not in names:
            raise UsageError(f"no stream {stream!r} in this run (streams: {', '.join(names)})")
        self._control.send(names.index(stream), op, value)

    def pause(self, stream: str) -> None:
        """Stop sending stream ``stream`` (by name) until ``resume``; the run goes on even when every
        stream is paused. Its count, duration and sequence numbers carry on after the pause."""
        self._command(stream, PAUSE)

    def resume(self, stream: str) -> None:
        """Send a paused stream again, at its rate, scheduled from now (no burst to make up for the
        pause)."""
        self._command(stream, RUN)

    def set_rate(self, stream: str, rate: str | float | None) -> None:
        """Change a stream's rate: packets/s, a rate string (``"10k"``, ``"2Gbit"``: bits count the
        stream's mean frame length) or None (as fast as the path takes it). Scheduled from now; a
        paused stream takes it when resumed."""
        plan = next((p for p in self.plans if p.name == stream), None)
        if rate is None:
            pps = UNPACED
        elif isinstance(rate, str):
            pps = parse_rate(rate, plan.mean_size if plan is not None else 64.0)
        elif isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ConfigError(f"must be a positive rate, got {rate!r}", argument="rate")
        else:
            pps = float(rate)
        self._command(stream, RATE, pps)

    def stop(self, stream: str | None = None) -> dict[str, Any]:
        """Without ``stream``: stop every worker, reap it, and return the run's summary. With a
        stream's name: end that stream only (it counts as finished) and return ``stats()``."""
        if stream is not None:
            self._command(stream, STOP)
            return self.stats()
        return super().stop()

    def _states(self) -> dict[str, list[dict[str, Any]]]:
        """Each stream's frames per state, from the counts the workers published (their last
        publication is their final count)."""
        if self._control is None:
            return {}
        n, nw = len(self.plans), len(self._slots)
        return {p.name: states(self._control, i, p.pps, [int(self._shared[(w * n + i) * 2]) for w in range(nw)],
                               self._t0)
                for i, p in enumerate(self.plans)}

    def stats(self) -> dict[str, Any]:
        """Live: packets and bytes in all and per stream (by name), and the seconds since start;
        over several ports, ``per_port`` too (packets and bytes each port has sent)."""
        per_stream = {}
        n, nw = len(self.plans), len(self._slots)
        per_port = {name: {"packets": 0, "bytes": 0} for name, _, _ in self._slots}
        for i, p in enumerate(self.plans):
            packets = sum(self._shared[(w * n + i) * 2] for w in range(nw))
            nbytes = sum(self._shared[(w * n + i) * 2 + 1] for w in range(nw))
            per_stream[p.name] = {"packets": packets, "bytes": nbytes}
            if self.stream_ports:
                per_port[self.stream_ports[i]]["packets"] += packets
                per_port[self.stream_ports[i]]["bytes"] += nbytes
        for name, st in self._states().items():
            per_stream[name]["states"] = st
        out = {"packets": sum(s["packets"] for s in per_stream.values()),
               "bytes": sum(s["bytes"] for s in per_stream.values()), "per_stream": per_stream,
               "seconds": time.monotonic() - self._t0}
        if self.by_port:
            out["per_port"] = per_port
        return out

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
        """``summarize``'s, with each stream's frames per state (pause, stop, rates) and ``warnings``
        when a stream fell short of its rate or sent nothing; over several ports, each stream's
        ``port`` and ``per_port``: interface, namespace, queues, packets and bytes."""
        results = sorted(results, key=lambda r: int(r.get("slot", 0)))
        out = summarize(results)
        for name, st in self._states().items():
            out.setdefault("per_stream", {}).setdefault(name, {})["states"] = st
        if self.by_port:
            for i, p in enumerate(self.plans):
                if p.name in out.get("per_stream", {}):
                    out["per_stream"][p.name]["port"] = self.stream_ports[i]
            per_port: dict[str, Any] = {}
            for r in results:
                port = self.ports[r["port"]]
                m = per_port.setdefault(r["port"], {"ifname": port.ifname, "netns": port.netns, "queues": [],
                                                    "packets": 0, "bytes": 0})
                m["queues"].append(r["queue"])
                m["packets"] += r["packets"]
                m["bytes"] += r["bytes"]
            out["per_port"] = per_port
        firsts = [int(r["first_frame_ns"]) for r in results if r.get("first_frame_ns")]
        out["first_frame_ns"] = min(firsts) if firsts else None
        if self._go is not None and self._go.value:
            out["start_at_ns"] = int(self._go.value)
        warnings = stream_rate_warnings(out) + stream_warnings(self.plans, out)
        if not self.by_port:
            warnings += [w for w in [one_port_warning(self.plans, self.config.ifname)] if w]
        if self.dst_mac is None:
            ports = self.stream_ports or [next(iter(self.ports))] * len(self.plans)
            unaddressed = [(p.name, p.frame) for p, port in zip(self.plans, ports, strict=True)
                           if self.ports[port].dst_mac is None]
            warnings += [w for w in [broadcast_warning(unaddressed)] if w]
        if warnings:
            out["warnings"] = warnings
        return out


__all__ = ["Generator", "SendConfig", "broadcast_warning", "hold_until", "merge_streams", "rate_warnings", "run",
           "send_capture", "send_on_queue", "send_profile", "send_recording", "stream_rate_warnings", "stream_warnings",
           "summarize", "work"]
