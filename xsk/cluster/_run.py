"""``ClusterRun``: one traffic run across hosts, placed and supervised by Dask distributed.

The controller side. ``start()`` places a ``HostAgent`` actor on the engine worker of each host
the plan names (the worker advertising ``host_resource(host)``), asks each who it is (the clock
check), starts every receiving endpoint's Sink, then every sending endpoint's Generator (a
sender whose streams all go to one interface sends them to that interface's MAC unless they
say otherwise). ``stats()`` reads every host live; ``wait()`` watches until every generator has
finished, a host is lost, or the timeout (``follow()`` also hands each second's stats to a
callback, ``live()`` draws them as ``xsk run``'s table); ``stop()`` ends it early.
``pause()``/``resume()`` act on one stream, or with no stream on every stream of every live host. Both then stop the
generators, let the frames in flight arrive (until no sink's count moves), stop the sinks and
return the joined results (``xsk.cluster._results``): per stream sent, received, lost,
duplicates, reordering and (with one clock) latency, the hosts lost and the streams each carried.

A host is lost when a call to its agent fails because its worker is gone or does not answer
within ``call_timeout`` (``_engine.engine_lost``). Then the plan's ``on_failure`` decides: "stop"
ends the run on every other host at once, "continue" lets them finish. A lost host's traffic
workers end their loops on their own when they find their parent gone (see ``_agent``).

Ownership: the ClusterRun owns its agents (and through them every Generator and Sink) and the
engine Client when it made it from an address; ``close()`` (also ``__exit__``) stops whatever
still runs on the live hosts and releases the actors, whatever happened before.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import UsageError, XskError
from ._agent import HostAgent, boot_id, host_resource
from ._clock import Offset, measure
from ._engine import connect, distributed, engine_lost, worker_addresses
from ._plan import Endpoint, Plan
from ._results import clock, join, merged_received, merged_sent, stream_ids

SETTLE_S = 0.5  # frames in flight have arrived when no sink's count moved for this long
START_MARGIN_S = 1.0  # start_at by default: this long after every Generator is ready (covers telling them)


class ClusterRun:
    """The plan's streams run across its hosts as one run (see the module's docstring).

    ``scheduler``: the engine (``"tcp://HOST:PORT"``, a scheduler file, or a ``distributed.Client``,
    which stays the caller's). ``generator``/``sink``: options for every Generator and Sink
    (``batch``, ``frames``...). ``call_timeout``: seconds a host has to answer a call before it
    counts as lost. ``lease``: seconds a host keeps its traffic without hearing from this
    controller (renewed every third of it while the run lives): a controller that vanishes
    leaves nothing running for longer than that, whatever the engine does with its actors.
    """

    def __init__(self, plan: Plan, scheduler: Any, *, generator: dict[str, Any] | None = None,
                 sink: dict[str, Any] | None = None, call_timeout: float = 30.0, lease: float = 30.0) -> None:
        if not isinstance(plan, Plan):
            raise UsageError(f"plan: an xsk.cluster.Plan, not {type(plan).__name__}")
        distributed()  # the extra is there, or say how to get it before anything starts
        self.plan = plan
        self.scheduler = scheduler
        self.generator_options = dict(generator or {})
        self.sink_options = dict(sink or {})
        self.call_timeout = call_timeout
        if not lease > 0:
            raise UsageError(f"lease: seconds, more than 0, not {lease!r}")
        self.lease = float(lease)
        self._renewing = threading.Event()
        self.results: dict[str, Any] | None = None
        self.lost: dict[str, dict[str, Any]] = {}
        self._client: Any = None
        self._own_client = False
        self._agents: dict[str, Any] = {}
        self._where: dict[str, str] = {}  # host -> the address of the engine worker holding its agent
        self._ids = {r.name: stream_ids(plan, r.name) for r in plan.routes}  # the sink's keys of each stream
        self._identities: dict[str, dict[str, Any]] = {}
        self._offsets: dict[str, Offset] = {}  # each host's clock minus ours, at the start
        self._start: dict[str, Any] = {}  # start_at (ours, ns), its margin, each sender's (theirs, ns)
        self._t0 = 0.0

    # --- calls to hosts -------------------------------------------------------------------
    def _call(self, host: str, method: str, *args: Any) -> Any:
        """``method(*args)`` on ``host``'s agent; None (and the host marked lost) when its worker is gone."""
        return self._calls([(host, method, args)])[0]

    def _calls(self, calls: list[tuple[str, str, tuple[Any, ...]]]) -> list[Any]:
        """Several calls at once (each host works on its own), each answer in order: None for a
        host that is (or turns out) lost. An error of a call itself is raised after every answer is in."""
        self._check_workers()
        futures = []
        for h, m, a in calls:
            try:
                futures.append(None if h in self.lost else getattr(self._agents[h], m)(*a))
            except Exception as exc:  # the actor's handle knows its worker is gone
                if not engine_lost(exc):
                    raise
                self._mark_lost(h, f"{type(exc).__name__}: {exc}", m)
                futures.append(None)
        out: list[Any] = []
        error: BaseException | None = None
        for (host, method, _), f in zip(calls, futures, strict=True):
            if f is None or host in self.lost:
                out.append(None)
                continue
            try:
                out.append(f.result(timeout=self.call_timeout))
            except Exception as exc:
                out.append(None)
                if not engine_lost(exc):
                    error = error or exc
                    continue
                self._mark_lost(host, f"{type(exc).__name__}: {exc}", method)
        if error is not None:
            raise error
        return out

    def _mark_lost(self, host: str, error: str, during: str) -> None:
        if host not in self.lost:
            self.lost[host] = {"error": error, "at_s": round(time.monotonic() - self._t0, 3), "during": during,
                               "streams": self.plan.carried_by(host)}

    def _check_workers(self) -> None:
        """Mark lost every host whose engine worker has left the cluster, as the scheduler sees it
        (at once for a worker that died: its connection closed), before a call to it would wait
        for a connection that never comes."""
        if not self._where or self._client is None:
            return
        workers = worker_addresses(self._client)
        for h, addr in self._where.items():
            if addr not in workers:
                self._mark_lost(h, f"its engine worker {addr} left the cluster", "watching")

    def _place(self, timeout: float) -> None:
        futures = {h: self._client.submit(HostAgent, h, self.lease, actor=True, resources={host_resource(h): 1},
                                          pure=False,
                                          key=f"xsk-agent-{h}-{id(self):x}")
                   for h in self.plan.hosts()}
        end = time.monotonic() + timeout
        for h, f in futures.items():
            try:
                with self._client.as_current():  # the actor handle binds to the current client
                    self._agents[h] = f.result(timeout=max(0.1, end - time.monotonic()))
            except TimeoutError:
                for g in futures.values():
                    g.cancel()
                raise XskError(f"no engine worker took host {h!r} within {timeout:g} s: start a Dask worker that "
                               f"offers one unit of the resource {host_resource(h)!r} on that host") from None
        who = self._client.who_has(list(futures.values()))
        self._where = {h: next(iter(who[f.key])) for h, f in futures.items() if who.get(f.key)}
        threading.Thread(target=self._renew, name="xsk-cluster-lease", daemon=True).start()

    def _renew(self) -> None:
        """Renew every live host's lease every third of it until the run is closed."""
        while not self._renewing.wait(self.lease / 3):
            for h, agent in list(self._agents.items()):
                if h in self.lost:
                    continue
                with contextlib.suppress(Exception):  # a lost host is the watching calls' business
                    agent.renew()

    def _measure_offsets(self) -> dict[str, Offset]:
        """Each live host's clock offset to ours (``_clock.measure``: the tightest of a dozen round
        trips through the engine, one host after the other so no call waits on another's)."""
        out: dict[str, Offset] = {}
        for h, agent in list(self._agents.items()):
            if h in self.lost:
                continue
            def remote_now(a: Any = agent) -> int:
                return int(a.clock_now().result(timeout=self.call_timeout))

            try:
                out[h] = measure(remote_now)
            except Exception as exc:
                if not engine_lost(exc):
                    raise
                self._mark_lost(h, f"{type(exc).__name__}: {exc}", "clock")
        return out

    def _same_kernel(self) -> set[str]:
        """The hosts that run on our kernel (our boot id): their clock is ours, offset exactly 0."""
        ours = boot_id()
        return {h for h, i in self._identities.items() if ours and i.get("boot_id") == ours}

    def _host_start_ns(self, host: str, at_ns: int) -> int:
        """Our instant ``at_ns`` on ``host``'s clock: the same when it runs on our kernel, else
        shifted by its measured offset."""
        if host in self._same_kernel():
            return at_ns
        off = self._offsets.get(host)
        return at_ns + (off.offset_ns if off is not None else 0)

    # --- the run --------------------------------------------------------------------------
    def start(self, *, count: int | None = None, duration: float | None = None, timeout: float = 60.0,
              start_at: float | None = None) -> ClusterRun:
        """Place the agents, measure their clocks, start every Sink, then every Generator; return
        once all are ready. ``count``/``duration`` bound each Generator (its streams' own counts
        end them earlier). Every Generator is started held (ready, sending nothing); once all are,
        each is told to send its first frame at one instant, ``start_at`` (our CLOCK_REALTIME,
        ``time.time()`` seconds), on its host's clock corrected by the offset measured (none on
        our own kernel); by default ``START_MARGIN_S`` after the last is ready, which covers
        telling them. A ``start_at`` that comes before they are all ready is missed: they start
        at once (``slack_s`` below 0 says so). Returns at that instant. The results say how close
        they came (``start``, ``start_skew_us``)."""
        if self._agents:
            raise UsageError("this ClusterRun was started already")
        if start_at is not None and (isinstance(start_at, bool) or not isinstance(start_at, (int, float))
                                     or not start_at > time.time()):
            raise UsageError(f"start_at {start_at!r}: an instant still to come on this machine's realtime clock, "
                             f"in seconds since the epoch (time.time() + a margin that covers starting the hosts)")
        self._client, self._own_client = connect(self.scheduler)
        self._t0 = time.monotonic()
        try:
            self._place(timeout)
            hosts = list(self._agents)
            for h, ident in zip(hosts, self._calls([(h, "identity", ()) for h in hosts]), strict=True):
                if ident is not None:
                    self._identities[h] = ident
            self._offsets = self._measure_offsets()
            self._calls([(dst.host, "start_sink", (str(dst), dst.ifname, dst.netns, list(dst.queues),
                                                   self.plan.sink_profile(dst), self.sink_options))
                         for dst in self.plan.receivers()])
            senders = self.plan.senders()
            macs = {src: self._dst_mac(routes[0].dst, routes) for src, routes in senders.items()}
            self._calls([(src.host, "start_generator", (str(src), src.ifname, src.netns, list(src.queues),
                                                        self.plan.sender_profile(src), macs[src], count, duration,
                                                        self.generator_options, True))
                         for src in senders])
            at_ns = time.time_ns() + int(START_MARGIN_S * 1e9) if start_at is None else int(start_at * 1e9)
            self._start = {"at_ns": at_ns, "margin_s": START_MARGIN_S if start_at is None else None,
                           "slack_s": round(at_ns / 1e9 - time.time(), 3)}
            go: dict[str, dict[str, int]] = {}
            for src in senders:
                go.setdefault(src.host, {})[str(src)] = self._host_start_ns(src.host, at_ns)
            self._calls([(h, "go", (keys,)) for h, keys in go.items()])
            time.sleep(max(0.0, at_ns / 1e9 - time.time()))  # return as they send, as a Generator's start() does
            if self.lost:
                raise XskError(f"host {next(iter(self.lost))!r} was lost while the run started: "
                               f"{next(iter(self.lost.values()))['error']}")
        except BaseException:
            self.close()
            raise
        return self

    def _dst_mac(self, dst: Endpoint, routes: list[Any]) -> str | None:
        """The receiving interface's MAC when every stream of a sender goes to that one interface."""
        if any(r.dst != dst for r in routes):
            return None
        mac = self._call(dst.host, "mac", dst.ifname, dst.netns)
        return None if mac is None else str(mac)

    def _host_stats(self) -> dict[str, dict[str, Any]]:
        hosts = list(self._agents)
        return {h: s for h, s in zip(hosts, self._calls([(h, "stats", ()) for h in hosts]), strict=True)
                if s is not None}

    def stats(self) -> dict[str, Any]:
        """Live, per stream: ``tx`` (sent so far), ``rx`` (received so far; None where its host is
        lost), their difference (frames in flight included), ``from``/``to``, ``state`` (the last one
        it was put in: running, paused...; "finished" once its generator is done; "host lost") and
        ``lost_hosts`` (of its two); ``lost_hosts`` of the run."""
        if not self._agents:
            raise UsageError("this ClusterRun was not started")
        return self._live(self._host_stats())

    def _live(self, hosts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        rows = {}
        for r in self.plan.routes:
            g = hosts.get(r.src.host, {}).get("generators", {}).get(str(r.src))
            s = hosts.get(r.dst.host, {}).get("sinks", {}).get(str(r.dst))
            tx = None if g is None else int(g["per_stream"].get(r.name, {}).get("packets", 0))
            if s is None:
                rx = None
            elif r.stream.wants_seq:
                rx = sum(int(s["per_stream"].get(k, 0)) for k in self._ids[r.name])
            else:
                rx = int(s["flows"].get(r.name, 0))
            gone = [h for h in dict.fromkeys((r.src.host, r.dst.host)) if h in self.lost]
            states = [] if g is None else (g["per_stream"].get(r.name, {}).get("states") or [{"state": "running"}])
            state = "host lost" if gone else "-" if not states else str(states[-1]["state"])
            if state == "running" and g is not None and g.get("finished"):
                state = "finished"
            rows[r.name] = {"from": str(r.src), "to": str(r.dst), "state": state, "tx": tx, "rx": rx,
                            "missing": None if tx is None or rx is None else tx - rx, "lost_hosts": gone}
        return {"streams": rows, "lost_hosts": dict(self.lost), "seconds": time.monotonic() - self._t0}

    def _generators_done(self, hosts: dict[str, dict[str, Any]]) -> bool:
        return all(g["finished"] for h in hosts.values() for g in h["generators"].values())

    def wait(self, timeout: float | None = None, poll: float = 0.25) -> dict[str, Any]:
        """Watch until every generator finished, a host is lost (with ``on_failure="stop"``) or
        ``timeout`` seconds; then end the run as ``stop()`` does and return its results."""
        return self.follow(None, timeout=timeout, poll=poll)

    def follow(self, tick: Callable[[dict[str, Any]], None] | None, *, every: float = 1.0, poll: float = 0.25,
               timeout: float | None = None, stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """``wait()``, and ``tick(stats())`` (read in the same round) at once, every ``every``
        seconds and once more at the end; ``stop()`` returning true ends the run early too (a
        signal's flag). ``tick`` runs in this thread; what it raises ends the watch (``close()``
        still stops every host). Then ``stop()``'s results."""
        if not self._agents:
            raise UsageError("this ClusterRun was not started")
        end = None if timeout is None else time.monotonic() + timeout
        due = time.monotonic()
        while self.results is None:
            hosts = self._host_stats()
            if tick is not None and time.monotonic() >= due:
                due += every
                tick(self._live(hosts))
            if self.lost and self.plan.on_failure == "stop":
                break
            if self._generators_done(hosts) or (end is not None and time.monotonic() >= end):
                break
            if stop is not None and stop():
                break
            time.sleep(poll)
        if tick is not None and self.results is None:
            tick(self._live(self._host_stats()))
        return self.stop()

    def live(self, *, refresh: float = 1.0, console: Any = None, timeout: float | None = None,
             stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """``follow()`` shown as a table on the terminal (rich, as ``xsk.traffic.Session.live``),
        redrawn every ``refresh`` seconds: per stream from, to, state, tx, rx, tx - rx, hosts lost.
        A Ctrl-C here propagates (unlike ``Session.live``): leaving the ``with`` block, ``close()``
        stops every host; to end the run with its results on a signal, pass ``stop``."""
        from rich.live import Live

        from ..traffic._session import render
        from ._text import live_rows

        with Live(render([], "starting"), console=console, auto_refresh=False) as view:
            def draw(snap: dict[str, Any]) -> None:
                lost = f", hosts lost: {', '.join(snap['lost_hosts'])}" if snap["lost_hosts"] else ""
                view.update(render(live_rows(snap), f"{snap['seconds']:.1f} s{lost}"), refresh=True)

            return self.follow(draw, every=refresh, timeout=timeout, stop=stop)

    def stop(self) -> dict[str, Any]:
        """Stop every generator, let the frames in flight arrive, stop every sink; the joined results."""
        if self.results is not None:
            return self.results
        if not self._agents:
            raise UsageError("this ClusterRun was not started")
        sent: dict[str, dict[str, Any]] = {}
        received: dict[str, dict[str, Any]] = {}
        hosts = list(self._agents)
        for part in self._calls([(h, "stop_generators", ()) for h in hosts]):
            sent.update(part or {})
        self._settle()
        for part in self._calls([(h, "stop_sinks", ()) for h in hosts]):
            received.update(part or {})
        info = clock(self._identities, self._offsets, self._measure_offsets())
        start = start_report(self._start, sent, self._offsets, self._same_kernel())
        self.results = {"clock": info, "start": start, "start_skew_us": start["skew_us"],
                        "on_failure": self.plan.on_failure,
                        "streams": join(self.plan, sent, received, self.lost, info),
                        "lost_hosts": dict(self.lost), "senders": sent, "receivers": received,
                        "seconds": round(time.monotonic() - self._t0, 3)}
        return self.results

    def _settle(self, most: float = 10.0) -> None:
        """Until no sink's count moved for SETTLE_S (at most ``most`` seconds)."""
        end = time.monotonic() + most
        last: dict[str, int] | None = None
        while time.monotonic() < end:
            counts = {k: int(s["packets"]) for h in self._host_stats().values() for k, s in h["sinks"].items()}
            if counts == last:
                return
            last = counts
            time.sleep(SETTLE_S)

    # --- stream control -------------------------------------------------------------------
    def _control(self, stream: str, action: str, rate: str | float | None = None) -> None:
        r = self.plan.route(stream)
        if self.results is not None:
            raise UsageError("this ClusterRun has stopped")
        if r.src.host in self.lost:
            raise XskError(f"stream {stream!r} is sent by host {r.src.host!r}, which was lost")
        self._call(r.src.host, "control", str(r.src), action, stream, rate)

    def pause(self, stream: str | None = None) -> None:
        """Stop sending ``stream`` (on the host that sends it) until ``resume``; with no stream,
        every stream on every live host (the run goes on, its counts and durations too)."""
        if stream is None:
            self._control_all("pause")
        else:
            self._control(stream, "pause")

    def resume(self, stream: str | None = None) -> None:
        """Send a paused ``stream`` again, at its rate, scheduled from now; with no stream, every
        stream on every live host."""
        if stream is None:
            self._control_all("resume")
        else:
            self._control(stream, "resume")

    def _control_all(self, action: str) -> None:
        if not self._agents:
            raise UsageError("this ClusterRun was not started")
        if self.results is not None:
            raise UsageError("this ClusterRun has stopped")
        hosts = dict.fromkeys(src.host for src in self.plan.senders())
        self._calls([(h, "control_all", (action,)) for h in hosts if h not in self.lost])

    def set_rate(self, stream: str, rate: str | float | None) -> None:
        """A new rate for ``stream`` (as ``Generator.set_rate`` takes it)."""
        self._control(stream, "set_rate", rate)

    # --- results as files -----------------------------------------------------------------
    def write_jsonl(self, directory: str | Path) -> tuple[Path, Path]:
        """The finished run as ``gen.jsonl`` and ``sink.jsonl`` in ``directory`` (one summary line
        each, every host's streams by name), which ``xsk report`` joins by stream name."""
        if self.results is None:
            raise UsageError("write_jsonl() needs a finished run: wait() or stop() first")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        extra = {"cluster": {"clock": self.results["clock"], "lost_hosts": self.results["lost_hosts"]}}
        paths = (d / "gen.jsonl", d / "sink.jsonl")
        for path, summary in zip(paths, (merged_sent(self.plan, self.results["senders"]),
                                         merged_received(self.plan, self.results["receivers"])), strict=True):
            path.write_text(json.dumps({**summary, **extra}) + "\n")
        return paths

    # --- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop whatever still runs on the live hosts, release the actors and our Client."""
        self._renewing.set()
        with contextlib.suppress(XskError):
            self._calls([(h, "close", ()) for h in self._agents])
        self._agents.clear()
        self._where.clear()
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None

    def __enter__(self) -> ClusterRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def start_report(start: dict[str, Any], sent: dict[str, dict[str, Any]], offsets: dict[str, Offset],
                 same_kernel: Collection[str]) -> dict[str, Any]:
    """How close the senders came to one start: ``at_ns`` (our clock), the ``margin_s`` chosen,
    ``slack_s`` (what was left of it when every Generator was ready: below 0, they were late
    and started when told), per sending endpoint its first frame after ``at_ns`` (µs, on its
    clock less its offset: exact on our kernel, else within ``bound_us``), and ``skew_us``, the
    spread of those."""
    rows: dict[str, Any] = {}
    for key, g in sent.items():
        host = key.split(":", 1)[0]
        first = g.get("first_frame_ns")
        off = offsets.get(host)
        shift, bound = (0, 0) if host in same_kernel else (
            (off.offset_ns, off.bound_ns) if off is not None else (None, None))
        after = None if first is None or shift is None or not start else \
            round((int(first) - shift - start["at_ns"]) / 1e3, 1)
        rows[key] = {"first_frame_ns": first, "after_start_us": after,
                     "bound_us": None if bound is None else round(bound / 1e3, 1)}
    afters = [r["after_start_us"] for r in rows.values() if r["after_start_us"] is not None]
    return {"at_ns": start.get("at_ns"), "margin_s": start.get("margin_s"), "slack_s": start.get("slack_s"),
            "senders": rows,
            "skew_us": round(max(afters) - min(afters), 1) if afters else None}


__all__ = ["SETTLE_S", "START_MARGIN_S", "ClusterRun", "start_report"]
