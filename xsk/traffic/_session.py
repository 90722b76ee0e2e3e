"""A Generator and a Sink run together as one object: what a test run of a path looks like.

``Session(tx_iface, rx_iface, profile)`` starts a ``Sink`` on the receiving interface (given the
profile: stream names, flows for streams without a sequence header, spin for latency streams)
and then a ``Generator`` on the sending one. While it runs, ``stats()`` joins both sides live
per stream (tx, rx, the difference, latency of the last second) and ``live()`` draws them as a
table on the terminal (rich); ``pause``/``resume``/``set_rate``/``stop_stream`` control a stream.
``wait()``/``stop()`` end the generator, let the frames in flight arrive (until the sink's count
stops moving), stop the sink, and return ``loss_per_stream`` of the two results: per stream
sent, received, lost = sent - received, duplicates, reordering, latency.

``Session(ports={"a": Port(...), "b": Port(...)}, profile=...)`` drives several ports in one run
(``xsk.traffic._ports``): a Generator over the ports some stream leaves, a Sink over every port
that can receive (each stream counted wherever it arrives), their queues planned so that no
port's generator and sink ask the kernel for the same queue; the joined results then carry each
stream's tx port and rx ports, and ``per_port`` each port's sent and received totals.

Ownership: the Session owns its Generator and Sink (and so their worker processes); leaving the
``with`` block stops both whatever happened in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from ..errors import UsageError, XskError
from ._generator import Generator
from ._join import StreamLoss, loss_per_stream, port_totals
from ._ports import Port, as_ports, plan_queues, stream_ports
from ._profile import Profile, Stream
from ._receiver import Sink


def live_rows(plans: Sequence[Any], nqueues: int, sent: dict[str, Any], got: dict[str, Any],
              ports: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per stream, from a Generator's and a Sink's ``stats()``: name, tx, rx, tx - rx (frames in
    flight included, so not yet loss), the state it was last put in, and the sink's p50/p99 (µs)
    of the last second. ``plans``: the generator's streams (``StreamPlan.wire_id``: their ids);
    ``ports``: the port each leaves (a run over several), as the row's ``port``."""
    n = len(plans)  # (plans made without a profile's ids are numbered by their index, as the Mix does)
    rows = []
    for i, p in enumerate(plans):
        s = sent["per_stream"].get(p.name, {})
        tx = int(s.get("packets", 0))
        states = s.get("states") or [{"state": "running"}]
        ids = [str(p.wire_id(q, n)) for q in range(nqueues)]
        if not p.seq:
            flow = (got.get("flows") or {}).get(p.name)
            rx = None if flow is None else int(flow)
            p50 = p99 = None
        else:
            rx = sum(int(got["per_stream"].get(k, 0)) for k in ids)
            lat = [got.get("latency_us", {}).get(k) for k in ids]
            lat = [v for v in lat if v]
            p50 = max(v["p50"] for v in lat) if lat else None
            p99 = max(v["p99"] for v in lat) if lat else None
        row = {"stream": p.name, "state": states[-1]["state"], "tx": tx, "rx": rx,
               "missing": None if rx is None else tx - rx, "p50_us": p50, "p99_us": p99}
        if ports:
            row["port"] = ports[i]
        rows.append(row)
    return rows


def receiver_mac(ifname: str, netns: str | None = None) -> str:
    """The MAC address of the receiving interface ``ifname`` (in ``netns``): the destination to
    send to when the two ends are joined directly (a veth pair)."""
    from .. import link
    from .. import netns as ns

    with ns.entered(netns):
        return link.mac_address(ifname)


def render(rows: list[dict[str, Any]], title: str) -> Any:
    """The live rows as a rich Table: stream, state, tx, rx, tx - rx, and the columns the rows
    carry besides: ``port`` (a run over several ports), ``from``/``to`` and ``lost_hosts`` (a run
    across hosts, ``xsk.cluster``), ``p50_us``/``p99_us`` (a sink's latency)."""
    from rich.table import Table

    def num(v: float | int | None, digits: int = 0) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    def has(key: str) -> bool:
        return any(key in r for r in rows)

    cols: list[tuple[str, Any]] = [("stream", lambda r: r["stream"])]
    if has("port"):
        cols.append(("port", lambda r: r.get("port", "-")))
    if has("from"):
        cols += [("from", lambda r: r.get("from", "-")), ("to", lambda r: r.get("to", "-"))]
    cols += [("state", lambda r: r["state"]), ("tx", lambda r: num(r["tx"])), ("rx", lambda r: num(r["rx"])),
             ("tx - rx", lambda r: num(r["missing"]))]
    if has("p50_us"):
        cols += [("p50 us", lambda r: num(r.get("p50_us"), 1)), ("p99 us", lambda r: num(r.get("p99_us"), 1))]
    if has("lost_hosts"):
        cols.append(("hosts lost", lambda r: ", ".join(r.get("lost_hosts") or []) or "-"))
    table = Table(title=title, title_justify="left")
    for name, _ in cols:
        table.add_column(name, justify="left" if name in ("stream", "port", "from", "to", "state", "hosts lost")
                         else "right")
    for r in rows:
        table.add_row(*(cell(r) for _, cell in cols))
    return table


class Session:
    """A Sink on ``rx`` and a Generator on ``tx`` sending ``profile``, run together (see the module);
    or, with ``ports`` instead of ``tx`` and ``rx``, one run over several ports.

    ``tx_netns``/``rx_netns``, ``tx_queues``/``rx_queues``: where each side runs. ``dst_mac``:
    the destination of packets that leave it out (e.g. the receiving interface's). Other options
    go to the Generator (``generator={...}``) and the Sink (``sink={...}``).

    ``ports``: ``{"a": Port("veth0", netns=..., dst_mac=...), "b": ...}`` (``xsk.traffic.Port``):
    each stream leaves the port its ``port`` names (the first one without it), every port whose
    queues allow it receives, and ``plan_queues`` settles each port's queues now (it reads the
    interfaces' queue counts): a port that both sends and receives needs two queues, and a queue
    asked of both sides is refused here, with what to do, rather than by the kernel with EBUSY.
    ``plan``: the ports with their queues settled.
    """

    def __init__(self, tx: str | None = None, rx: str | None = None,
                 profile: Profile | Stream | Sequence[Stream] | None = None, *,
                 ports: Mapping[str, Port | str] | None = None, tx_netns: str | None = None,
                 rx_netns: str | None = None, tx_queues: Sequence[int] | None = None,
                 rx_queues: Sequence[int] | None = None, dst_mac: str | None = None,
                 generator: dict[str, Any] | None = None, sink: dict[str, Any] | None = None) -> None:
        if profile is None:
            raise UsageError("a Session needs a profile: a Profile, a Stream or a list of Streams")
        self.profile = profile if isinstance(profile, Profile) else Profile(profile)
        self.plan: dict[str, Port] | None = None
        self.per_port: dict[str, dict[str, Any]] | None = None
        self.results: dict[str, StreamLoss] | None = None
        if ports is not None:
            if tx is not None or rx is not None or tx_netns or rx_netns or tx_queues or rx_queues:
                raise UsageError("with ports=, each Port says its interface, namespace and queues: give no tx, rx, "
                                 "netns or queues besides")
            self.plan = _plan(as_ports(ports), self.profile)
            sending = {n: p for n, p in self.plan.items() if p.tx_queues}
            receiving = {n: p for n, p in self.plan.items() if p.rx_queues}
            self.sink = Sink(ports=receiving, profile=self.profile, **(sink or {}))
            self.generator = Generator(ports=sending, dst_mac=dst_mac, **(generator or {}))
            return
        if tx is None or rx is None:
            raise UsageError("a Session needs a sending and a receiving interface (tx, rx), or ports=")
        self.sink = Sink(rx, netns=rx_netns, queues=list(rx_queues) if rx_queues else None, profile=self.profile,
                         **(sink or {}))
        self.generator = Generator(tx, netns=tx_netns, queues=tx_queues, dst_mac=dst_mac, **(generator or {}))

    def start(self, *, count: int | None = None, duration: float | None = None, timeout: float = 30.0) -> Session:
        """Start the sink, then the generator (``count``/``duration`` bound the generator's run);
        return once both are running."""
        self.sink.start(timeout=timeout)
        try:
            self.generator.start(self.profile, count=count, duration=duration, timeout=timeout)
        except BaseException:
            self.sink.stop()
            raise
        return self

    def pause(self, stream: str) -> None:
        """``Generator.pause``."""
        self.generator.pause(stream)

    def resume(self, stream: str) -> None:
        """``Generator.resume``."""
        self.generator.resume(stream)

    def set_rate(self, stream: str, rate: str | float | None) -> None:
        """``Generator.set_rate``."""
        self.generator.set_rate(stream, rate)

    def stop_stream(self, stream: str) -> None:
        """End one stream (``Generator.stop(stream)``)."""
        self.generator.stop(stream)

    def stats(self) -> list[dict[str, Any]]:
        """Live, per stream: tx, rx, tx - rx, state, p50/p99 of the last second (``live_rows``);
        over ports, the ``port`` each stream leaves too."""
        return self._rows(self.generator.stats(), self.sink.stats())

    def _rows(self, sent: dict[str, Any], got: dict[str, Any]) -> list[dict[str, Any]]:
        gen = self.generator
        nq = max(len(p.tx_queues or [0]) for p in gen.ports.values())
        return live_rows(gen.plans, nq, sent, got, gen.stream_ports if gen.by_port else None)

    def _settle(self, sent: int, quiet: float, longest: float) -> None:
        """Until the sink has received ``sent`` frames, or its count has not moved for ``quiet``
        seconds (the frames in flight are in), at most ``longest``."""
        end = time.monotonic() + longest
        last, since = -1, time.monotonic()
        while time.monotonic() < end and not self.sink.finished():
            n = int(self.sink.stats()["packets"])
            if n >= sent:
                return
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.02)

    def stop(self, *, settle: float = 0.5) -> dict[str, StreamLoss]:
        """Stop the generator, let what is in flight arrive (until the sink has as many frames as
        were sent, or ``settle`` seconds without a new one; at most 5 s), stop the sink; the
        joined results (also in ``results``)."""
        if self.results is not None:
            return self.results
        try:
            sent = self.generator.stop() if self.generator.started else {}
            if self.sink.started:
                self._settle(int(sent.get("packets", 0)), settle, 5.0)
        finally:  # the sink's workers are reaped even when the generator's failed
            got = self.sink.stop() if self.sink.started else {}
        self.results = loss_per_stream(sent, got)
        if self.plan is not None:
            self.per_port = port_totals(sent, got)
        return self.results

    def wait(self, timeout: float | None = None, *, settle: float = 0.5) -> dict[str, StreamLoss]:
        """Until the generator has sent every stream (or ``timeout``), then ``stop``."""
        self.generator.wait(timeout)
        return self.stop(settle=settle)

    def snapshot(self) -> dict[str, Any]:
        """Both sides now, read once: ``time`` (the wall clock), ``gen`` (``Generator.stats()``),
        ``sink`` (``Sink.stats()``) and ``streams`` (``live_rows`` of the two, with each stream's
        ``port`` over ports; a stream still "running" when the generator has finished is "finished")."""
        done = self.generator.finished()
        sent, got = self.generator.stats(), self.sink.stats()
        rows = self._rows(sent, got)
        for r in rows:  # the last state a stream was put in, unless the run is over
            if done and r["state"] == "running":
                r["state"] = "finished"
        return {"time": time.time(), "gen": sent, "sink": got, "streams": rows}

    def follow(self, tick: Callable[[dict[str, Any]], None], *, every: float = 1.0,
               stop: Callable[[], bool] | None = None, timeout: float | None = None,
               settle: float = 0.5) -> dict[str, StreamLoss]:
        """Until the generator has finished (or ``timeout`` seconds, or ``stop()`` returns true),
        ``tick(snapshot())`` at once, every ``every`` seconds, and once more at the end; then ``stop()``
        and its result. ``tick`` runs in this thread; what it raises stops the run (the Session
        still stops both sides on the way out of its ``with`` block)."""
        if not self.generator.started:
            raise UsageError("start() the Session before following it")
        end = None if timeout is None else time.monotonic() + timeout
        due = time.monotonic() + every
        tick(self.snapshot())  # where the counts start from: the workers' start-up is not a second of traffic
        while not self.generator.finished() and (end is None or time.monotonic() < end):
            if stop is not None and stop():
                break
            if time.monotonic() >= due:
                due += every
                tick(self.snapshot())
            time.sleep(min(0.01, every))
        tick(self.snapshot())
        return self.stop(settle=settle)

    def live(self, *, refresh: float = 0.5, timeout: float | None = None, console: Any = None,
             settle: float = 0.5, stop: Callable[[], bool] | None = None) -> dict[str, StreamLoss]:
        """Show ``stats()`` as a table on the terminal (rich), redrawn every ``refresh`` seconds,
        until the generator has finished (or ``timeout``, ``stop()``, or Ctrl-C); then ``stop()``
        and its result."""
        from rich.live import Live

        if not self.generator.started:
            raise UsageError("start() the Session before live()")
        t0 = time.monotonic()
        try:
            with Live(render(self.stats(), "starting"), console=console, auto_refresh=False) as view:
                def draw(snap: dict[str, Any]) -> None:
                    done = ", done" if self.generator.finished() else ""
                    view.update(render(snap["streams"], f"{time.monotonic() - t0:.1f} s{done}"), refresh=True)

                return self.follow(draw, every=refresh, stop=stop, timeout=timeout, settle=settle)
        except KeyboardInterrupt:
            return self.stop(settle=settle)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        except XskError:
            if exc_type is None:
                raise


def _plan(ports: dict[str, Port], profile: Profile) -> dict[str, Port]:
    """The ports' queues settled (``plan_queues``) from the interfaces' RX queue counts."""
    from .. import link, netns

    sending = set(stream_ports(profile, ports))
    counts = {}
    for name, port in ports.items():
        with netns.entered(port.netns):
            counts[name], _ = link.queue_counts(link.ifindex(port.ifname, port.netns))
    return plan_queues(ports, sending, counts)


__all__ = ["Session", "live_rows", "receiver_mac", "render"]
