"""Receiving and counting `xsk gen` traffic: the loop under ``xsk sink`` and the ``Sink`` API.

``receive`` is one queue's loop: it opens its UMEM and socket (``ReceiveConfig`` says how),
reads batches until told to stop, counts every frame per stream (``SeqStats``) and L4
checksum state, and returns plain data; the UMEM and socket are closed, every frame back in
the pool, before it returns. ``Sink`` runs a worker process per queue, so ``start()``
returns at once and a test goes on while it receives; ``stats()`` reads live counts, and
``stop()`` collects each worker's results into one ``summarize`` (per stream, per queue,
kernel counters and the causes of any loss). Used as a context manager, a ``Sink`` stops and
reaps its workers whatever happens in the body, so no process, socket or XDP program outlives it.

``record`` is the loop under ``xsk capture``: every frame received on one or more queues (a
socket each, all on one UMEM) written to a pcap or pcapng file, in the order the batches were read.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import pcap
from .._program import XdpMode
from .._socket import Mode
from ..errors import ConfigError, XskError
from ._checksum_count import ChecksumCount
from ._flows import FlowCount, FlowSpec, flow_specs
from ._flows import merge as merge_flows
from ._health import Health, quiet_gc
from ._ports import MAX_IDS, Port, as_ports
from ._profile import Profile
from ._results import add_counters, cause_dicts, merge_causes, merge_footprints
from ._seqstats import SeqStats
from ._workers import Workers, WorkerStop, answer

if TYPE_CHECKING:
    from .._socket import Socket
    from .._umem import Umem

STREAM_SLOTS = 256


@dataclass
class ReceiveConfig:
    """How a receiver opens its socket and when it stops (picklable: workers get a copy)."""

    ifname: str
    netns: str | None = None
    queue: int = 0
    filter: str | None = None
    mode: Mode = "auto"
    xdp_mode: XdpMode = "auto"
    batch: int = 256
    frames: int = 16384  # all on the fill ring: a 50 ms stall of the receiver absorbed at 300k pps
    frame_size: int = 2048
    ring_size: int = 16384  # veth has no backpressure: an RX ring as deep as the fill ring absorbs a stall
    count: int | None = None
    duration: float | None = None
    verify_ledger: bool = False
    pin: str | None = None
    histogram: bool = False  # results carry each stream's latency buckets
    spin: bool = False  # re-read the RX ring without sleeping (a whole core): latency without wake-ups
    flows: list[FlowSpec] | None = None  # streams without a sequence header, counted by a match (_flows)


def open_receiver(cfg: ReceiveConfig, queue: int | None = None) -> tuple[Umem, Socket]:
    """The UMEM and receiving socket the config describes (closing the UMEM if the socket fails)."""
    import xsk

    program = None
    if cfg.pin:
        from ..pinned import PinnedProgram

        program = PinnedProgram(cfg.pin)
    umem = xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size)
    try:
        # the UMEM is ours alone: every frame can wait on the fill ring, the deepest buffer for bursts
        sock = xsk.Socket(umem, cfg.ifname, queue=cfg.queue if queue is None else queue, mode=cfg.mode,
                          tx=False, netns=cfg.netns, xdp_mode=cfg.xdp_mode, filter=cfg.filter,
                          fill_frames=cfg.frames, ring_size=cfg.ring_size, program=program)
    except BaseException:
        umem.close()
        raise
    return umem, sock


def open_receivers(cfg: ReceiveConfig, queues: list[int]) -> tuple[Umem, list[Socket]]:
    """One UMEM and a receiving socket per queue on it, each keeping its share of the frames on its
    fill ring (for one queue, ``open_receiver``); everything opened is closed again if one fails."""
    if len(queues) == 1:
        umem, sock = open_receiver(cfg, queues[0])
        return umem, [sock]
    import xsk

    program = None
    if cfg.pin:
        from ..pinned import PinnedProgram

        program = PinnedProgram(cfg.pin)
    umem = xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size)
    socks: list[Socket] = []
    try:
        for q in queues:
            socks.append(xsk.Socket(umem, cfg.ifname, queue=q, mode=cfg.mode, tx=False, netns=cfg.netns,
                                    xdp_mode=cfg.xdp_mode, filter=cfg.filter, program=program,
                                    fill_frames=cfg.frames // len(queues), ring_size=cfg.ring_size))
    except BaseException:
        for s in reversed(socks):
            s.close()
        umem.close()
        raise
    return umem, socks


def record(cfg: ReceiveConfig, path: str, *, queues: list[int] | None = None, pcapng: bool = False,
           stop: Callable[[], bool] | None = None,
           tick: Callable[[int, int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Receive on ``queues`` (default ``[cfg.queue]``) into the capture file ``path`` (pcapng with
    ``pcapng``, each frame cut at ``cfg.frame_size``) until ``cfg.count`` frames, ``cfg.duration``
    seconds or ``stop()``; the UMEM and sockets are closed before it returns.

    ``tick(packets, bytes, {"kernel": counters})`` about once a second. Returns packets, bytes,
    seconds, the sockets' ``kernel`` counters added up, ``l4_checksums`` (partial and bad), the
    health footprint, the ``causes`` of anything the kernel lost and ``checksum_warnings``.
    """
    for name in ("count", "duration"):
        value = getattr(cfg, name)
        if value is not None and value <= 0:
            raise ConfigError(f"must be positive, got {value}", argument=name)
    umem, socks = open_receivers(cfg, queues or [cfg.queue])
    packets = nbytes = 0
    sums = ChecksumCount()
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
    kernel: dict[str, int] = {}
    causes: list[dict[str, Any]] = []
    footprint: dict[str, Any] = {}
    health = Health(umem, cfg.verify_ledger)
    t0 = time.monotonic()
    try:
        with pcap.Writer(path, pcapng=pcapng, snaplen=cfg.frame_size) as writer:
            quiet_gc()
            t0 = time.monotonic()
            deadline = t0 + cfg.duration if cfg.duration else None
            next_tick = t0 + 1.0
            while (cfg.count is None or packets < cfg.count) and (deadline is None or time.monotonic() < deadline):
                if stop is not None and stop():
                    break
                got = 0
                for sock in socks:
                    want = cfg.batch if cfg.count is None else min(cfg.batch, cfg.count - packets)
                    if want <= 0:
                        break
                    b = sock.recv(want, timeout=0 if len(socks) > 1 else 0.05)
                    if len(b):
                        writer.write_batch(b.gather(), b.lens, time.time_ns())
                        sums.add(b)
                        packets += len(b)
                        nbytes += int(b.lens.sum())
                        got += len(b)
                        b.release()
                        health.traffic_started()
                if not got and len(socks) > 1:
                    poller.poll(50)
                if health.due():
                    health.check()
                if tick is not None and time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + 1.0
                    tick(packets, nbytes, {"kernel": add_counters([s.statistics() for s in socks])})
            kernel = add_counters([s.statistics() for s in socks])
            causes = merge_causes([cause_dicts(s.diagnose()) for s in socks])
        footprint = health.summary()
    finally:
        for s in reversed(socks):
            s.close()
        umem.close()
    return {"packets": packets, "bytes": nbytes, "seconds": time.monotonic() - t0, "kernel": kernel,
            **sums.summary(), **footprint, "causes": causes, "checksum_warnings": sums.warnings()}


def receive(cfg: ReceiveConfig, queue: int, tick: Callable[[int, int, dict[str, Any]], None] | None = None,
            shared: Any = None, slot: int = 0, stop: Any = None, streams: Any = None,
            ready: Callable[[], None] | None = None, flow_shared: Any = None,
            latency: Any = None) -> dict[str, Any]:
    """One queue's loop, until ``cfg.count``, ``cfg.duration`` or ``stop`` (an Event); its results.

    ``tick(packets, bytes, extra)`` is called once a second, ``extra`` holding the socket's
    ``kernel`` counters and ``per_stream``: each stream's packets so far and the latency
    percentiles of the last second (``SeqStats.interval``). ``shared[2*slot]`` and
    ``shared[2*slot+1]`` (a shared array) follow packets and bytes batch by batch, so a parent
    can stop every worker when their sum reaches the count; ``streams[slot*256 + id]`` follows
    each stream's packets four times a second, ``flow_shared[slot*F + k]`` flow k's (of F,
    ``cfg.flows``), and ``latency[(slot*256 + id)*2]`` and ``+1`` each stream's p50 and p99 (µs)
    of the last second. ``ready()`` is called once the socket is bound. ``cfg.flows``: streams
    without a sequence header counted by a match on their frames (``flows`` in the result).
    """
    umem, sock = open_receiver(cfg, queue)
    if ready is not None:
        ready()
    stats = SeqStats()
    sums = ChecksumCount()
    flows = FlowCount(cfg.flows) if cfg.flows else None
    nflows = len(cfg.flows or [])
    packets = nbytes = 0
    first = last = None
    health = Health(umem, cfg.verify_ledger)
    footprint: dict[str, int] = {}
    count = cfg.count if shared is None else None  # several queues: the parent counts
    b = None  # one batch, refilled in place every round (into=)
    next_tick = time.monotonic() + 1.0
    next_publish = time.monotonic() + 0.25
    wait = 0 if cfg.spin else 0.05  # 0: re-read the ring and come back, never sleep in poll()
    quiet_gc()
    t0 = time.monotonic()
    try:
        with umem, sock:
            deadline = t0 + cfg.duration if cfg.duration else None
            try:
                while (count is None or packets < count) and (deadline is None or time.monotonic() < deadline):
                    if stop is not None and stop.is_set():
                        break
                    want = cfg.batch if count is None else min(cfg.batch, count - packets)
                    b = sock.recv(want, timeout=wait, into=b)
                    if len(b):
                        now = time.time_ns()
                        if first is None:
                            first = time.monotonic()
                            health.traffic_started()
                        last = time.monotonic()
                        stats.add_frames(b, now)
                        if flows is not None:
                            flows.add(b)
                        sums.add(b)
                        packets += len(b)
                        nbytes += int(b.lens.sum())
                        b.release()
                        if shared is not None:
                            shared[2 * slot], shared[2 * slot + 1] = packets, nbytes
                    if health.due():
                        health.check()
                    now_m = time.monotonic()
                    if streams is not None and now_m >= next_publish:
                        next_publish = now_m + 0.25
                        for k, s in stats.streams.items():
                            streams[slot * STREAM_SLOTS + k] = s.packets
                        if flows is not None and flow_shared is not None:
                            for k, f in enumerate(flows.export().values()):
                                flow_shared[slot * nflows + k] = f["packets"]
                    if (tick is not None or latency is not None) and now_m >= next_tick:
                        next_tick += 1.0
                        interval = stats.interval()
                        if latency is not None:
                            for key, v in interval.items():
                                at = (slot * STREAM_SLOTS + int(key)) * 2
                                latency[at], latency[at + 1] = (-1.0 if v[q] is None else v[q] for q in
                                                                ("p50_us", "p99_us"))
                        if tick is not None:
                            tick(packets, nbytes, {"kernel": sock.statistics(), "per_stream": interval})
            except KeyboardInterrupt:  # Ctrl-C ends the run as a count would: the summary still comes
                if b is not None and len(b):
                    b.release()
            if streams is not None:
                for k, s in stats.streams.items():
                    streams[slot * STREAM_SLOTS + k] = s.packets
            if flows is not None and flow_shared is not None:
                for k, f in enumerate(flows.export().values()):
                    flow_shared[slot * nflows + k] = f["packets"]
            kernel = sock.statistics()
            causes = cause_dicts(sock.diagnose())
            footprint = health.summary()
    except KeyboardInterrupt:  # a second one, while the summary was being made
        kernel, causes = {}, []
    return {"queue": queue, "packets": packets, "bytes": nbytes, "first": first, "last": last, "t0": t0,
            "seq": stats.export(), "flows": flows.export() if flows is not None else {}, "kernel": kernel,
            "footprint": footprint,
            "checksums": {"partial": sums.partial, "bad": sums.bad}, "causes": causes,
            "receive_mode": "spin" if cfg.spin else "poll",
            "accounting": umem.accounting()._asdict()}  # after close: all in the pool


def summarize(parts: list[dict[str, Any]], histogram: bool = False) -> dict[str, Any]:
    """The results of one or more ``receive`` loops as one summary (``xsk sink --json``'s form):
    ``per_stream`` by stream id for frames with a sequence header, ``unsequenced`` (packets and
    bytes) for the rest of the total, when there are any."""
    packets = sum(r["packets"] for r in parts)
    firsts = [r["first"] for r in parts if r["first"]]
    lasts = [r["last"] for r in parts if r["last"]]
    if firsts and lasts and max(lasts) > min(firsts):
        seconds = max(lasts) - min(firsts)
    else:
        seconds = time.monotonic() - min(r["t0"] for r in parts)
    sums = ChecksumCount()
    sums.partial = sum(r["checksums"]["partial"] for r in parts)
    sums.bad = sum(r["checksums"]["bad"] for r in parts)
    out: dict[str, Any] = {"packets": packets, "bytes": sum(r["bytes"] for r in parts),
                           "seconds": round(seconds, 6), "pps": round(packets / seconds, 1) if seconds else 0.0,
                           **SeqStats.merged([r["seq"] for r in parts], histogram=histogram)}
    sequenced = out["per_stream"].values()
    unsequenced = packets - sum(s["packets"] for s in sequenced)
    if unsequenced:  # frames without an xsk sequence header: in the total, and said apart
        out["unsequenced"] = {"packets": unsequenced, "bytes": out["bytes"] - sum(s["bytes"] for s in sequenced)}
    if any(r.get("flows") for r in parts):
        out["flows"] = merge_flows([r.get("flows") or {} for r in parts])
    if len(parts) > 1:
        out["queues"] = {str(r["queue"]): r["packets"] for r in parts}
    out["kernel"] = add_counters([r["kernel"] for r in parts])
    out.update(sums.summary())
    footprints = [r["footprint"] for r in parts if r["footprint"]]
    if footprints:
        out.update(merge_footprints(footprints))
    out["accounting"] = {k: sum(r["accounting"][k] for r in parts) for k in parts[0]["accounting"]}
    out["receive_mode"] = parts[0]["receive_mode"]
    out["causes"] = merge_causes([r["causes"] for r in parts])
    out["checksum_warnings"] = sums.warnings()
    return out


def name_streams(summary: dict[str, Any], profile: Profile, nqueues: int = 1) -> None:
    """Label each stream id of a summary with its profile stream's name: id ``k`` is the stream
    whose id (``Profile.ids``) is ``k mod W``, sent from queue index ``k // W`` (``W``:
    ``Profile.id_width``), for the first ``nqueues`` queue indexes."""
    width = profile.id_width
    by_id = {sid: s.name for sid, s in zip(profile.ids, profile.streams, strict=True)}
    for key, s in summary.get("per_stream", {}).items():
        name = by_id.get(int(key) % width)
        if name is not None and int(key) < width * nqueues:
            s["name"] = name


def _worker(cfg: ReceiveConfig, queue: int, slot: int, shared: Any, streams: Any, flow_shared: Any, latency: Any,
            port: str, results: Any, stop: Any) -> None:
    stop = WorkerStop(stop)
    answer(results, lambda: {**receive(cfg, queue, shared=shared, slot=slot, stop=stop, streams=streams,
                                       ready=lambda: results.put(("ready", queue)), flow_shared=flow_shared,
                                       latency=latency), "slot": slot, "port": port})


def per_port(parts: list[dict[str, Any]], ports: Mapping[str, Port]) -> dict[str, Any]:
    """The workers' results (each with its ``port``) per port: interface, namespace, packets and
    bytes received, per queue, and per stream id (``streams``: packets of each id that arrived
    there)."""
    out: dict[str, Any] = {}
    for r in parts:
        port = ports[r["port"]]
        m = out.setdefault(r["port"], {"ifname": port.ifname, "netns": port.netns, "packets": 0, "bytes": 0,
                                       "queues": {}, "streams": {}})
        m["packets"] += r["packets"]
        m["bytes"] += r["bytes"]
        m["queues"][str(r["queue"])] = r["packets"]
        for k, st in r["seq"]["streams"].items():
            m["streams"][str(k)] = m["streams"].get(str(k), 0) + int(st["packets"])
    return out


class Sink(Workers):
    """Receives on one or more queues of an interface in worker processes (one per queue); or on
    several interfaces at once (``ports``, by name: ``xsk.traffic.Port``, whose ``rx_queues`` say
    where; default queue 0), a worker process per port and queue. Every stream is counted wherever
    it arrives: the results add ``per_port`` (each port's packets, bytes, queues and the stream
    ids that arrived there) and each stream's ``ports`` (its packets by port that received them).

    ``start()`` returns once every worker's socket is bound and receiving; ``stats()`` gives
    live counts; ``wait()`` returns when ``count`` packets arrived in all or ``duration``
    passed; ``stop()`` stops the workers and returns ``summarize``'s result (also what
    ``results`` holds afterwards). A worker's failure is raised as its XskError by
    ``start``, ``wait`` or ``stop``.

    ``profile``: the profile being received; its stream names label the results, and a
    ``latency`` stream in it makes ``spin`` (re-read the RX ring instead of sleeping) the
    default. ``results["receive_mode"]`` says which measured the latency. Its streams sent
    without a sequence header are counted by a match on their frames (``xsk.traffic._flows``):
    ``results["flows"]`` by stream name.

    Ownership: each worker owns its UMEM and socket and closes them before it reports; the
    Sink owns the processes and reaps them in ``stop()`` (also from ``__exit__`` and when
    garbage collected), killing one that does not exit within 10 s.
    """

    what = "sink worker"

    def __init__(self, ifname: str | None = None, *, ports: Mapping[str, Port | str] | None = None,
                 netns: str | None = None, filter: str | None = None,
                 queues: list[int] | None = None, count: int | None = None, duration: float | None = None,
                 histogram: bool = True, profile: Profile | None = None, spin: bool | None = None,
                 **options: Any) -> None:
        from ..errors import UsageError

        if (ifname is None) == (ports is None):
            raise UsageError("give a Sink one interface, or ports= (several by name), not "
                             + ("both" if ports is not None else "neither"))
        if ports is not None and (netns is not None or queues):
            raise UsageError("with ports=, each Port says its own netns and rx_queues")
        if spin is None:
            spin = profile is not None and any(s.latency for s in profile.streams)
        super().__init__()
        if profile is not None and options.get("flows") is None:
            options["flows"] = flow_specs(profile)
        by_port = ports is not None
        if ports is None:
            assert ifname is not None
            queue = int(options.get("queue", 0))
            ports = {ifname: Port(ifname, netns=netns, rx_queues=list(queues) if queues else [queue])}
        self.ports = as_ports(ports)
        self.by_port = by_port  # ports= given: results per port
        first = next(iter(self.ports.values()))
        self.config = ReceiveConfig(first.ifname, netns=first.netns, filter=filter, count=count, duration=duration,
                                    histogram=histogram, spin=spin, **options)
        self.profile = profile
        self._slots = [(name, q) for name, port in self.ports.items()
                       for q in (port.rx_queues if port.rx_queues is not None else [0])]
        if not self._slots:
            raise ConfigError("no port receives: every Port has rx_queues=[]", argument="ports")
        self.queues = [q for name, q in self._slots if name == next(iter(self.ports))]

    def start(self, timeout: float = 30.0) -> Sink:
        """Start a worker per queue and return once each receives (its program attached). What
        every worker would refuse (a bad filter, a queue the interface lacks) is refused here first."""
        self._check()
        n = len(self._slots)
        self._shared = self._ctx.RawArray("q", 2 * n)
        self._streams = self._ctx.RawArray("q", STREAM_SLOTS * n)
        self._flow_shared = self._ctx.RawArray("q", max(1, len(self.config.flows or [])) * n)
        self._latency = self._ctx.RawArray("d", 2 * STREAM_SLOTS * n)
        cfg = replace(self.config, count=None)  # the parent counts, over every queue
        args = []
        for i, (name, q) in enumerate(self._slots):
            port = self.ports[name]
            args.append((replace(cfg, ifname=port.ifname, netns=port.netns), q, i, self._shared, self._streams,
                         self._flow_shared, self._latency, name))
        self._spawn(_worker, args, ", ".join(p.ifname for p in self.ports.values()), timeout)
        return self

    def _check(self) -> None:
        from .. import _filter as filter_mod
        from .. import link, netns
        from ..errors import QueueRangeError

        filter_mod.parse(self.config.filter)
        for name, port in self.ports.items():
            queues = [q for n, q in self._slots if n == name]
            if not queues:
                continue
            with netns.entered(port.netns):
                rx, _ = link.queue_counts(link.ifindex(port.ifname, port.netns))
            if max(queues) >= rx:
                which = f"port {name!r}: " if self.by_port else ""
                raise QueueRangeError(f"{which}queues={queues}: {port.ifname} has {rx} RX queues "
                                      f"(valid: 0..{rx - 1})")

    def stats(self) -> dict[str, Any]:
        """Live: packets and bytes in all, per queue, packets per stream id so far, and per flow
        (streams without a sequence header) by name; ``latency_us``: per stream id, the p50 and
        p99 of the last second (µs; the largest over the queues), once a worker measured them.
        Over several ports, ``per_port``: packets and bytes each port has received."""
        n = len(self._slots)
        per_stream: dict[str, int] = {}
        latency: dict[str, tuple[float, float]] = {}
        for slot in range(n):
            for k in range(STREAM_SLOTS):
                v = self._streams[slot * STREAM_SLOTS + k]
                if v:
                    per_stream[str(k)] = per_stream.get(str(k), 0) + v
                    at = (slot * STREAM_SLOTS + k) * 2
                    p50, p99 = self._latency[at], self._latency[at + 1]
                    if p50 > 0:
                        old = latency.get(str(k), (0.0, 0.0))
                        latency[str(k)] = (max(old[0], p50), max(old[1], p99))
        specs = self.config.flows or []
        flows = {f.name: sum(self._flow_shared[slot * len(specs) + k] for slot in range(n))
                 for k, f in enumerate(specs)}
        out = {"packets": sum(self._shared[0::2]), "bytes": sum(self._shared[1::2]),
               "queues": {str(q): self._shared[2 * i] for i, (_, q) in enumerate(self._slots)},
               "per_stream": per_stream, "flows": flows,
               "latency_us": {k: {"p50": v[0], "p99": v[1]} for k, v in latency.items()},
               "seconds": time.monotonic() - self._t0}
        if self.by_port:
            per_port: dict[str, dict[str, int]] = {}
            for i, (name, _) in enumerate(self._slots):
                m = per_port.setdefault(name, {"packets": 0, "bytes": 0})
                m["packets"] += self._shared[2 * i]
                m["bytes"] += self._shared[2 * i + 1]
            out["per_port"] = per_port
        return out

    def wait(self, timeout: float | None = None, *, tick: Callable[[dict[str, Any]], None] | None = None,
             stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Until ``count`` packets arrived, ``duration`` passed, every worker ended, ``timeout`` or
        ``stop()``; then ``stop()``. ``tick(stats())`` once a second meanwhile."""
        cfg = self.config
        end = None if timeout is None else time.monotonic() + timeout
        next_tick = time.monotonic() + 1.0
        while not self._errors:
            if cfg.count is not None and sum(self._shared[0::2]) >= cfg.count:
                break
            if cfg.duration is not None and time.monotonic() - self._t0 >= cfg.duration:
                break
            if end is not None and time.monotonic() >= end:
                break
            if cfg.count is None and cfg.duration is None and end is None and stop is None:
                raise XskError("wait() needs count, duration, a timeout or stop, or it would wait forever")
            if (stop is not None and stop()) or self.finished():
                break
            if tick is not None and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                tick(self.stats())
            time.sleep(0.01)
        return self.stop()

    def _summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        results = sorted(results, key=lambda r: int(r.get("slot", 0)))
        out = summarize(results, histogram=self.config.histogram)
        if self.profile is not None:
            most = max(len([1 for n, _ in self._slots if n == name]) for name in self.ports)
            name_streams(out, self.profile, MAX_IDS // self.profile.id_width if self.by_port else most)
        if self.by_port:
            out.pop("queues", None)  # queue numbers repeat over ports: per_port has them
            out["per_port"] = per_port(results, self.ports)
            for key, s in out.get("per_stream", {}).items():
                s["ports"] = {name: m["streams"][key] for name, m in out["per_port"].items() if key in m["streams"]}
        return out

    def __enter__(self) -> Sink:
        return self if self._procs else self.start()


__all__ = ["ReceiveConfig", "Sink", "open_receiver", "open_receivers", "receive", "record", "summarize"]
