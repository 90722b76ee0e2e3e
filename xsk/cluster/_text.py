"""A plan and a run across hosts as text for a person: what ``xsk cluster check`` and ``xsk cluster
run`` print, and what makes a run not clean (its exit status).

``plan_text``: per host, the streams it sends (from which interface, to where, at what rate, how
many) and receives, and the streams its loss would take; ``live_rows``: ``ClusterRun.stats()``
as the rows the live table (``xsk.traffic._session.render``) draws; ``results_table``: the
joined results per stream; ``lost_lines`` and ``clock_line``: the hosts lost with their streams,
and what the run assumed of the clocks; ``problems``: each host lost and each stream whose
received count is not its sent count, as a sentence (none: every frame sent arrived).

Ownership: plain functions over plain data (a ``Plan``, the dicts ``ClusterRun`` returns); nothing
is kept.
"""

from __future__ import annotations

from typing import Any

from ._plan import Plan, Route


def columns(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as right-aligned columns, two spaces apart (the first row is the header)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _num(v: float | int | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _what(r: Route) -> str:
    """A stream's rate and end in words: "3k pps, 3,000 frames", "as fast as it goes, 5 s"."""
    s = r.stream
    rate = (f"{s.percent:g}% of the plan's rate" if s.percent is not None else
            "as fast as it goes" if s.rate is None else f"rate {s.rate:g} pps" if not isinstance(s.rate, str) else
            f"rate {s.rate}")
    end = ([f"{s.count:,} frames"] if s.count is not None else []) + \
        ([f"{s.duration:g} s"] if s.duration is not None else [])
    counted = "" if s.wants_seq else ", counted by its flow"
    return f"{rate}, {' or '.join(end) or 'until stopped'}{counted}"


def plan_text(plan: Plan) -> str:
    """Per host what it sends, receives, and what its loss would take (see the module)."""
    out = [f"{plan.source}: {len(plan.routes)} stream(s) across {len(plan.hosts())} host(s); "
           f"a host lost {'stops the whole run' if plan.on_failure == 'stop' else 'leaves the others going on'} "
           f"(on_failure = {plan.on_failure!r})"]
    for host in plan.hosts():
        out.append(f"host {host}:")
        for src, routes in plan.senders().items():
            if src.host == host:
                out.append(f"  sends from {src.ifname}{_where(src.netns)} (queues {_queues(src.queues)}):")
                out += [f"    {r.name} -> {r.dst}: {_what(r)}" for r in routes]
        for dst, routes in plan.receivers().items():
            if dst.host == host:
                out.append(f"  receives on {dst.ifname}{_where(dst.netns)} (queues {_queues(dst.queues)}):")
                out += [f"    {r.name} <- {r.src}" for r in routes]
        then = "; the run stops on every host" if plan.on_failure == "stop" else ""
        out.append(f"  if {host} is lost: {', '.join(plan.carried_by(host))}{then}")
    return "\n".join(out)


def _where(netns: str | None) -> str:
    return "" if netns is None else f" in namespace {netns}"


def _queues(queues: tuple[int, ...]) -> str:
    return ",".join(map(str, queues))


def live_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """``ClusterRun.stats()`` as the live table's rows: each stream's with its name as ``stream``."""
    return [{"stream": name, **row} for name, row in stats["streams"].items()]


def results_table(streams: dict[str, dict[str, Any]]) -> str:
    """The joined results (``results["streams"]``), a row per stream: from, to, status, sent,
    received, lost (- : unknown, its host lost), duplicates, reordering, latency."""
    rows: list[tuple[str, ...]] = [("stream", "from", "to", "status", "sent", "received", "lost", "loss %", "dup",
                                    "reord", "p50 us", "p99 us", "max us")]
    for name, s in streams.items():
        lat = s.get("latency_us") or {}
        rows.append((name, s["from"], s["to"], s["status"], _num(s.get("sent")), _num(s.get("received")),
                     _num(s.get("lost")), _num(s.get("loss_pct"), 3), _num(s.get("duplicates")),
                     _num(s.get("reordered")), _num(lat.get("p50"), 1), _num(lat.get("p99"), 1),
                     _num(lat.get("max"), 1)))
    return columns(rows)


def lost_lines(results: dict[str, Any]) -> list[str]:
    """A line per host lost: when, during what, why, and the streams it carried."""
    return [f"host {h} lost at {v['at_s']:g} s ({v['during']}): {v['error']}; its streams: "
            f"{', '.join(v['streams']) or 'none'}" for h, v in results["lost_hosts"].items()]


def clock_line(results: dict[str, Any]) -> str:
    """What the run assumed of the hosts' clocks (and so whether one-way latency is given), each
    host's offset to the controller as measured through the engine at the start, and how far
    apart the senders' first frames were (``start_skew_us``)."""
    out = f"clocks: {results['clock']['basis']}"
    offsets = []
    for host, c in (results["clock"].get("hosts") or {}).items():
        m = c.get("start")
        if m:
            offsets.append(f"{host} {m['offset_us'] / 1000:+.2f} ± {m['bound_us'] / 1000:.2f} ms"
                           f"{'' if c.get('synced') else ' (kernel clock unsynchronised)'}")
    if offsets:
        out += "\noffsets to the controller (through the engine): " + ", ".join(offsets)
    skew = results.get("start_skew_us")
    if skew is not None:
        out += f"\nstart: the senders' first frames {skew / 1000:.2f} ms apart"
    return out


def problems(results: dict[str, Any]) -> list[str]:
    """Why the run is not clean, a sentence each: a host lost, a stream whose frames did not all
    arrive (or were not all counted). Empty: every stream's received equals its sent."""
    out = [f"host {h} was lost (streams {', '.join(v['streams']) or 'none'})"
           for h, v in results["lost_hosts"].items()]
    for name, s in results["streams"].items():
        if s["status"] == "host lost":
            continue  # said with its host
        if s["status"] != "ok" or s.get("lost") is None:
            out.append(f"stream {name!r}: {s['status']}, not counted")
        elif s["lost"]:
            out.append(f"stream {name!r} lost {s['lost']:,} of {s['sent']:,} frames")
        elif s.get("received") != s.get("sent"):
            out.append(f"stream {name!r} received {s['received']:,} frames for {s['sent']:,} sent "
                       f"({s.get('duplicates') or 0:,} duplicates, {s.get('extra') or 0:,} beyond what was sent)")
    return out


__all__ = ["clock_line", "columns", "live_rows", "lost_lines", "plan_text", "problems", "results_table"]
