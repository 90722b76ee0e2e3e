"""A Session's run as JSON lines (what ``xsk run --json`` prints), and those lines read back as
the gen run and the sink run they hold (what ``xsk report`` draws).

A line a second, from ``Session.snapshot()``::

    {"t": 1.02, "time": 1796608080.4,                      # seconds since gen started; wall clock
     "gen":  {"t": 1.02, "packets", "bytes", "per_stream": {"voice": 50, ...}},
     "sink": {"t": 2.10, "packets", "bytes", "per_stream": {"1": {"packets", "p50_us", "p99_us"}, ...},
              "flows": {"raw": 120, ...}},                 # streams without a sequence header, by name
     "streams": [{"stream", "state", "tx", "rx", "missing", "p50_us", "p99_us"}, ...]}
                                                           # over ports, each row's "port" too

and the summary::

    {"test": "session", "per_stream": {name: StreamLoss.as_dict()}, "totals": {...},
     "gen": <the Generator's results>, "sink": <the Sink's results>, "warnings": [...],
     "plan": {port: {"ifname", "netns", "tx_queues", "rx_queues"}}, "per_port": {...}}  # over ports

Each side's part has the form of ``xsk gen --json``'s and ``xsk sink --json``'s lines (each with
its own ``t``, seconds since that side started), so ``split`` gives the report the two runs it
knows, and the report's time axis starts at gen's start as it does for two files. Over ports,
each side's results hold its ``per_port``, so the report's per-port table comes from the one file.

Ownership: plain functions over plain data; nothing is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._join import StreamLoss, totals
from ._ports import Port

KIND = "session"
"""The ``test`` key of a session's summary line."""


def second(snap: dict[str, Any]) -> dict[str, Any]:
    """A ``Session.snapshot()`` as its per-second JSON line."""
    gen, sink = snap["gen"], snap["sink"]
    lat = sink.get("latency_us") or {}
    return {"t": round(float(gen["seconds"]), 3), "time": round(float(snap["time"]), 3),
            "gen": {"t": round(float(gen["seconds"]), 3), "packets": gen["packets"], "bytes": gen["bytes"],
                    "per_stream": {name: s["packets"] for name, s in gen["per_stream"].items()}},
            "sink": {"t": round(float(sink["seconds"]), 3), "packets": sink["packets"], "bytes": sink["bytes"],
                     "per_stream": {k: {"packets": n, "p50_us": (lat.get(k) or {}).get("p50"),
                                        "p99_us": (lat.get(k) or {}).get("p99")}
                                    for k, n in sink["per_stream"].items()},
                     "flows": dict(sink.get("flows") or {})},
            "streams": snap["streams"]}


def summary(sent: dict[str, Any], got: dict[str, Any], joined: dict[str, StreamLoss],
            warnings: list[str] | None = None, *, plan: Mapping[str, Port] | None = None,
            per_port: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run's last line: the joined results per stream, their totals, and each side's results
    (``sent``: the Generator's, ``got``: the Sink's); over ports (``Session.plan``), ``plan``
    (each port's interface, namespace and the queues each side used) and ``per_port``
    (``Session.per_port``)."""
    out: dict[str, Any] = {"test": KIND, "per_stream": {name: s.as_dict() for name, s in joined.items()},
                           "totals": totals(joined), "gen": sent, "sink": got}
    if plan is not None:
        out["plan"] = {n: {"ifname": p.ifname, "netns": p.netns, "tx_queues": list(p.tx_queues or []),
                           "rx_queues": list(p.rx_queues or [])} for n, p in plan.items()}
        out["per_port"] = per_port or {}
    if warnings:
        out["warnings"] = warnings
    return out


def split(seconds: list[dict[str, Any]], last: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A session's lines as a gen run's lines and a sink run's (each: its per-second lines, then its
    summary). The session's warnings and ``interrupted`` go with the gen run's summary, once."""
    gen_lines = [{**line["gen"], "time": line["time"]} for line in seconds if "gen" in line]
    sink_lines = [{**line["sink"], "time": line["time"]} for line in seconds if "sink" in line]
    gen_summary = dict(last.get("gen") or {})
    for key in ("warnings", "interrupted"):
        if last.get(key):
            gen_summary[key] = last[key]
    return [*gen_lines, gen_summary], [*sink_lines, dict(last.get("sink") or {})]


__all__ = ["KIND", "second", "split", "summary"]
