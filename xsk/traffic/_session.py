"""A Generator and a Sink run together as one object: what a test run of a path looks like.

``Session(tx_iface, rx_iface, profile)`` starts a ``Sink`` on the receiving interface (given the
profile: stream names, flows for streams without a sequence header, spin for latency streams)
and then a ``Generator`` on the sending one. While it runs, ``stats()`` joins both sides live
per stream (tx, rx, the difference, latency of the last second) and ``live()`` draws them as a
table on the terminal (rich); ``pause``/``resume``/``set_rate``/``stop_stream`` control a stream.
``wait()``/``stop()`` end the generator, let the frames in flight arrive (until the sink's count
stops moving), stop the sink, and return ``loss_per_stream`` of the two results: per stream
sent, received, lost = sent - received, duplicates, reordering, latency.

Ownership: the Session owns its Generator and Sink (and so their worker processes); leaving the
``with`` block stops both whatever happened in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ..errors import UsageError, XskError
from ._generator import Generator
from ._join import StreamLoss, loss_per_stream
from ._profile import Profile, Stream
from ._receiver import Sink


def live_rows(plans: Sequence[Any], nqueues: int, sent: dict[str, Any], got: dict[str, Any]) -> list[dict[str, Any]]:
    """Per stream, from a Generator's and a Sink's ``stats()``: name, tx, rx, tx - rx (frames in
    flight included, so not yet loss), the state it was last put in, and the sink's p50/p99 (µs)
    of the last second. ``plans``: the generator's streams (their order gives the ids)."""
    n = len(plans)
    rows = []
    for i, p in enumerate(plans):
        s = sent["per_stream"].get(p.name, {})
        tx = int(s.get("packets", 0))
        states = s.get("states") or [{"state": "running"}]
        ids = [str(i + n * q) for q in range(nqueues)]
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
        rows.append({"stream": p.name, "state": states[-1]["state"], "tx": tx, "rx": rx,
                     "missing": None if rx is None else tx - rx, "p50_us": p50, "p99_us": p99})
    return rows


def receiver_mac(ifname: str, netns: str | None = None) -> str:
    """The MAC address of the receiving interface ``ifname`` (in ``netns``): the destination to
    send to when the two ends are joined directly (a veth pair)."""
    from .. import link
    from .. import netns as ns

    with ns.entered(netns):
        return link.mac_address(ifname)


def render(rows: list[dict[str, Any]], title: str) -> Any:
    """The live rows as a rich Table."""
    from rich.table import Table

    def num(v: float | int | None, digits: int = 0) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    table = Table(title=title, title_justify="left")
    for col in ("stream", "state", "tx", "rx", "tx - rx", "p50 us", "p99 us"):
        table.add_column(col, justify="left" if col in ("stream", "state") else "right")
    for r in rows:
        table.add_row(r["stream"], r["state"], num(r["tx"]), num(r["rx"]), num(r["missing"]), num(r["p50_us"], 1),
                      num(r["p99_us"], 1))
    return table


class Session:
    """A Sink on ``rx`` and a Generator on ``tx`` sending ``profile``, run together (see the module).

    ``tx_netns``/``rx_netns``, ``tx_queues``/``rx_queues``: where each side runs. ``dst_mac``:
    the destination of packets that leave it out (e.g. the receiving interface's). Other options
    go to the Generator (``generator={...}``) and the Sink (``sink={...}``).
    """

    def __init__(self, tx: str, rx: str, profile: Profile | Stream | Sequence[Stream], *, tx_netns: str | None = None,
                 rx_netns: str | None = None, tx_queues: Sequence[int] | None = None,
                 rx_queues: Sequence[int] | None = None, dst_mac: str | None = None,
                 generator: dict[str, Any] | None = None, sink: dict[str, Any] | None = None) -> None:
        self.profile = profile if isinstance(profile, Profile) else Profile(profile)
        self.sink = Sink(rx, netns=rx_netns, queues=list(rx_queues) if rx_queues else None, profile=self.profile,
                         **(sink or {}))
        self.generator = Generator(tx, netns=tx_netns, queues=tx_queues, dst_mac=dst_mac, **(generator or {}))
        self.results: dict[str, StreamLoss] | None = None

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
        """Live, per stream: tx, rx, tx - rx, state, p50/p99 of the last second (``live_rows``)."""
        return live_rows(self.generator.plans, len(self.generator.queues), self.generator.stats(), self.sink.stats())

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
        return self.results

    def wait(self, timeout: float | None = None, *, settle: float = 0.5) -> dict[str, StreamLoss]:
        """Until the generator has sent every stream (or ``timeout``), then ``stop``."""
        self.generator.wait(timeout)
        return self.stop(settle=settle)

    def snapshot(self) -> dict[str, Any]:
        """Both sides now, read once: ``time`` (the wall clock), ``gen`` (``Generator.stats()``),
        ``sink`` (``Sink.stats()``) and ``streams`` (``live_rows`` of the two; a stream still
        "running" when the generator has finished is "finished")."""
        done = self.generator.finished()
        sent, got = self.generator.stats(), self.sink.stats()
        rows = live_rows(self.generator.plans, len(self.generator.queues), sent, got)
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


__all__ = ["Session", "live_rows", "receiver_mac", "render"]
