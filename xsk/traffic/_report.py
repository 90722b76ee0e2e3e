"""One self-contained HTML report of a run from what ``xsk gen --json`` and ``xsk sink --json`` print.

``render([gen.jsonl, sink.jsonl], "report.html")`` reads each file's lines (one JSON object a
second, then the summary), recognises the generator's (``per_stream`` with ``asked_pps``) and
the sink's (``per_stream`` with ``latency_us``), and writes, per stream: the sent and received
rate over time, the latency p50/p99 over time, the latency histogram and its CDF, and a table
of counts, loss, rates and percentiles, with each file's own summary as the run's parameters.
Given a gen run and a sink run, the first table is each stream's loss as sent minus received
(``xsk.traffic._join``: joined by stream name, else by the ids gen sent it with); the sink's own
``gaps`` (numbers missing between those that arrived) stay beside it, named as what they are.

The JSON of ``xsk rfc2544 --json`` gives the RFC 2544 tables (throughput per frame size, the
loss curve, back-to-back) and charts (throughput and latency against frame size, loss against
offered load), alone or beside gen and sink runs.

Charts are matplotlib PNGs embedded as base64 ``<img>``: the file opens offline in any
browser, weighs tens of kilobytes, and needs no JavaScript (plotly embeds ~3.5 MB of it per
file). matplotlib is the ``report`` extra (``pip install xsk[report]``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import _charts, _session_lines
from . import _report_data as data


class Run:
    """What one --json output held: the per-second lines and the summary."""

    def __init__(self, path: Path, lines: list[dict[str, Any]]) -> None:
        self.path = path
        self.seconds = [line for line in lines if "t" in line]
        summaries = [line for line in lines if "t" not in line]
        if not summaries:
            raise ConfigError(f"{path}: no summary line: is it the whole JSON output of a gen or sink run?")
        self.summary = summaries[-1]
        streams = self.summary.get("per_stream") or {}
        first: dict[str, Any] = next(iter(streams.values()), {})
        self.kind = "rfc2544" if self.summary.get("test") == "rfc2544" else "gen" if "asked_pps" in first else \
            "sink" if "latency_us" in first or "receive_mode" in self.summary else "other"


def load_runs(paths: list[str | Path]) -> list[Run]:
    """The runs in ``paths``: a run per file, and a gen run and a sink run for each file that
    ``xsk run --json`` (a Session) wrote (named ``FILE:gen`` and ``FILE:sink``)."""
    out = []
    for path in paths:
        run = load(path)
        if run.summary.get("test") == _session_lines.KIND:
            gen, sink = _session_lines.split(run.seconds, run.summary)
            out += [Run(Path(f"{run.path}:gen"), gen), Run(Path(f"{run.path}:sink"), sink)]
        else:
            out.append(run)
    return out


def load(path: str | Path) -> Run:
    """One file's lines as a Run (a session's file as it is: ``load_runs`` splits it)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: can't read it: {exc.strerror or exc}") from None
    lines = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}:{n}: not a JSON line ({exc.msg}): give the JSON output of a gen or sink run") \
                from None
        if not isinstance(value, dict):
            raise ConfigError(f"{p}:{n}: a JSON object per line was expected")
        lines.append(value)
    return Run(p, lines)


def _names(runs: list[Run]) -> dict[str, str]:
    """Stream id -> name: the sink's own labels, else the generator's ids."""
    out: dict[str, str] = {}
    for r in runs:
        if r.kind == "gen":
            for name, s in r.summary["per_stream"].items():
                for i in s.get("ids", []):
                    out.setdefault(str(i), name)
    for r in runs:
        if r.kind == "sink":
            for k, s in r.summary["per_stream"].items():
                if "name" in s:
                    out[k] = s["name"]
    return out


def render(inputs: list[str | Path], output: str | Path, title: str | None = None) -> Path:
    """Write the report of the runs in ``inputs`` to ``output``; returns its path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("the report needs matplotlib: pip install 'xsk[report]' (or matplotlib)") from None
    runs = load_runs(inputs)
    gens = [r for r in runs if r.kind == "gen"]
    sinks = [r for r in runs if r.kind == "sink"]
    benches = [r for r in runs if r.kind == "rfc2544"]
    if not gens and not sinks and not benches:
        raise ConfigError("none of the files holds per-stream results: give the JSON output of a gen run with "
                          "a profile, of a sink run, or of an RFC 2544 run")
    names = _names(runs)
    charts: list[tuple[str, str]] = [chart for b in benches for chart in _rfc2544_charts(plt, b)]
    if not gens and not sinks:
        return _write(Path(output), title or "xsk RFC 2544 report", runs, names, charts)
    charts += _charts.traffic_charts(plt, [_charts.Run("gen", r.seconds, r.summary) for r in gens],
                                     [_charts.Run("sink", r.seconds, r.summary) for r in sinks], names)
    return _write(Path(output), title or "xsk traffic report", runs, names, charts)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return html.escape("-" if v is None else str(v))

    out = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    for r in rows:
        out += "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>"
    return out + "</table>"


def joined(runs: list[Run]) -> list[tuple[Run, dict[str, Any]]]:
    """Each sink run joined with what the gen runs sent (their streams by name, added up when
    several gens sent one name): per sink, ``loss_per_stream``'s result. Empty without both."""
    from ._join import loss_per_stream

    gens = [r for r in runs if r.kind == "gen"]
    if not gens:
        return []
    sent: dict[str, dict[str, Any]] = {}
    for g in gens:
        for name, s in (g.summary.get("per_stream") or {}).items():
            m = sent.setdefault(name, {"ids": [], "seq": s.get("seq", True), "packets": 0, "bytes": 0, "states": [],
                                       "port": s.get("port")})
            m["ids"] += s.get("ids", [])
            m["packets"] += s["packets"]
            m["bytes"] += s["bytes"]
            m["states"] += s.get("states", [])
    return [(r, loss_per_stream({"per_stream": sent}, r.summary)) for r in runs if r.kind == "sink"]


def ports_joined(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """Per port of runs over several ports (``per_port`` in their summaries): what the gen runs
    sent from it and the sink runs received on it, added up (``port_totals``); empty otherwise."""
    from ._join import port_totals

    total: dict[str, dict[str, Any]] = {}
    for r in runs:
        if r.kind not in ("gen", "sink"):
            continue
        side = "tx" if r.kind == "gen" else "rx"
        for name, p in port_totals(r.summary if side == "tx" else {}, r.summary if side == "rx" else {}).items():
            m = total.setdefault(name, {"ifname": p["ifname"], "tx_packets": 0, "tx_bytes": 0, "rx_packets": 0,
                                        "rx_bytes": 0})
            for key in ("tx_packets", "tx_bytes", "rx_packets", "rx_bytes"):
                m[key] += p[key]
    return total


def _rfc2544_charts(plt: Any, run: Run) -> list[tuple[str, str]]:
    """Throughput and latency against frame size, and the loss curves, of an ``xsk rfc2544 --json`` run."""
    rows = run.summary.get("sizes") or []
    if not rows:
        return []
    out = []
    sizes = [r["size"] for r in rows]
    fig, (pps_ax, bits_ax) = plt.subplots(1, 2, figsize=(_charts.WIDTH, 4.2))
    pps_ax.plot(sizes, [r["rate_pps"] for r in rows], marker="o")
    pps_ax.set_ylabel("frames/s")
    bits_ax.plot(sizes, [r["l1_mbps"] for r in rows], marker="o", label="L1")
    bits_ax.plot(sizes, [r["l2_mbps"] for r in rows], marker="s", linestyle="--", label="L2")
    bits_ax.set_ylabel("Mbit/s")
    _charts.legend(bits_ax)
    for a in (pps_ax, bits_ax):
        a.set_xscale("log")
        a.set_xticks(sizes, [str(x) for x in sizes])
        a.set_xlabel("frame size, bytes (FCS included)")
        a.set_ylim(bottom=0)
    fig.suptitle(f"Throughput ({'NDR' if not run.summary['acceptable_loss_pct'] else 'PDR'}) by frame size")
    out.append((f"RFC 2544 throughput: {run.path.name}", _charts.png(fig)))
    lat = [(r["size"], r["latency"]["latency_us"]) for r in rows if (r.get("latency") or {}).get("latency_us")]
    if lat:
        fig, ax = plt.subplots(figsize=(_charts.WIDTH - 2.5, 3.6))
        for q, style in (("p50", "-o"), ("p99", ":s"), ("max", "--^")):
            pts = [(size, v[q]) for size, v in lat if v.get(q) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=q)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([s for s, _ in lat], [str(s) for s, _ in lat])
        ax.set_xlabel("frame size, bytes")
        ax.set_ylabel("one-way latency, µs")
        ax.set_title("Latency at the throughput found")
        _charts.legend(ax)
        out.append((f"RFC 2544 latency: {run.path.name}", _charts.png(fig)))
    curves = [(r["size"], r["loss_curve"]) for r in rows if r.get("loss_curve")]
    if curves:
        fig, ax = plt.subplots(figsize=(_charts.WIDTH - 2.5, 3.6))
        for size, curve in curves:
            ax.plot([p["percent"] for p in curve], [p["loss_pct"] for p in curve], marker="o", label=f"{size} B")
        ax.set_xlabel("offered load, % of the ceiling")
        ax.set_ylabel("frame loss, %")
        ax.set_title("Frame loss rate")
        _charts.legend(ax)
        out.append((f"RFC 2544 frame loss rate: {run.path.name}", _charts.png(fig)))
    return out


def _rfc2544_tables(runs: list[Run]) -> list[str]:
    parts = []
    for r in runs:
        if r.kind != "rfc2544":
            continue
        sm = r.summary
        what = "NDR" if not sm["acceptable_loss_pct"] else f"PDR at {sm['acceptable_loss_pct']:g}% loss"
        parts.append(f"<h2>RFC 2544 throughput, {what}: {html.escape(r.path.name)}</h2>")
        parts.append(f"<p>{html.escape(str(sm.get('layout', '')))}; {sm['trial_seconds']:g} s trials, each "
                     "verified by one twice as long; loss is sent minus received.</p>")
        rows = []
        for row in sm["sizes"]:
            lat = (row.get("latency") or {}).get("latency_us") or {}
            rows.append([row["size"], row["rate_pps"], row["l1_mbps"], row["l2_mbps"],
                         f"{100 * row['resolution_reached']:.2f}%", "yes" if row["verified"] else "no",
                         "generator" if row["limited_by_generator"] else "device", len(row["trials"]),
                         lat.get("p50"), lat.get("p99"), lat.get("max")])
        parts.append(_table(["size", "frames/s", "L1 Mbit/s", "L2 Mbit/s", "resolution", "verified", "limit",
                             "trials", "p50 µs", "p99 µs", "max µs"], rows))
        for row in sm["sizes"]:
            if row.get("loss_curve"):
                parts.append(f"<h3>Frame loss rate, {row['size']} bytes</h3>")
                parts.append(_table(["load %", "frames/s asked", "sent", "received", "lost", "loss %"],
                                    [[p["percent"], p["rate_pps"], p["sent"], p["received"], p["lost"], p["loss_pct"]]
                                     for p in row["loss_curve"]]))
            if row.get("back_to_back"):
                b = row["back_to_back"]
                parts.append(f"<p>Back-to-back, {row['size']} bytes: {b['mean']:,} frames on average "
                             f"(trials: {', '.join(f'{n:,}' for n in b['frames'])}; longest tried {b['max_burst']:,})"
                             "</p>")
        if sm.get("skipped_sizes"):
            parts.append(f"<p>Skipped, over the MTU: {', '.join(map(str, sm['skipped_sizes']))}</p>")
    return parts


def _received_mbit(sink: Run, names: dict[str, str], stream: str) -> float | None:
    """The Mbit/s the sink received of ``stream`` (its ids added up)."""
    parts = [data.mbit_s(s) for k, s in (sink.summary.get("per_stream") or {}).items()
             if names.get(k, f"id {k}") == stream]
    known = [p for p in parts if p is not None]
    return round(sum(known), 3) if known else None


def _loss_tables(runs: list[Run], names: dict[str, str]) -> list[str]:
    sent_mbit: dict[str, float] = {}
    for g in runs:
        if g.kind == "gen":
            for name, s in (g.summary.get("per_stream") or {}).items():
                m = data.mbit_s(s)
                if m is not None:
                    sent_mbit[name] = round(sent_mbit.get(name, 0.0) + m, 3)
    parts = []
    for sink, streams in joined(runs):
        parts.append(f"<h2>Sent minus received: {html.escape(sink.path.name)}</h2>")
        parts.append("<p>lost = sent &minus; (received &minus; duplicates). gaps: sequence numbers missing between "
                     "those that arrived (what the sink alone can see; frames lost after the last arrival leave "
                     "none). Mbit/s: frame bytes as sent (no FCS) at each side's own rate.</p>")
        ports = any(s.tx_port is not None for s in streams.values())  # a run over several ports
        rows = []
        for s in streams.values():
            lat = s.latency_us or {}
            where = [s.tx_port, " ".join(sorted(s.rx_ports or {})) or None] if ports else []
            rows.append([s.name, *where, s.sent, s.received, s.lost, s.loss_pct, sent_mbit.get(s.name),
                         _received_mbit(sink, names, s.name), s.duplicates, s.reordered, s.gaps, s.extra,
                         lat.get("p50"), lat.get("p99"), lat.get("max"), s.counted_by])
        parts.append(_table(["stream", *(["tx port", "rx ports"] if ports else []), "sent", "received", "lost",
                             "loss %", "Mbit/s sent", "Mbit/s received", "duplicates", "reordered", "gaps", "extra",
                             "p50 µs", "p99 µs", "max µs", "counted by"], rows))
    per_port = ports_joined(runs)
    if per_port:
        parts.append("<h2>Per port</h2>")
        parts.append(_table(["port", "interface", "tx packets", "rx packets", "tx bytes", "rx bytes"],
                            [[name, p["ifname"], p["tx_packets"], p["rx_packets"], p["tx_bytes"], p["rx_bytes"]]
                             for name, p in per_port.items()]))
    return parts


def readable(value: Any) -> str:
    """A summary's value as a person reads it: numbers with thousands separated, tables as
    ``key value, key value`` (a nested one in parentheses), lists by commas, None as ``-``
    (the HTML report's run tables and the CLI's summaries alike)."""
    if value is None:
        return "-"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{round(value, 3):,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} ({readable(v)})" if isinstance(v, dict) else f"{k} {readable(v)}"
                         for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value) or "-"
    return str(value)


def _warnings(runs: list[Run]) -> list[str]:
    return data.warnings([(r.path.name, r.summary) for r in runs],
                         [{n: s.as_dict() for n, s in streams.items()} for _, streams in joined(runs)])


def _write(path: Path, title: str, runs: list[Run], names: dict[str, str], charts: list[tuple[str, str]]) -> Path:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em auto;padding:0 1em;max-width:1400px}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
             "text-align:right}th{background:#f4f4f4}img{max-width:100%}"
             ".warnings{background:#fff4e0;border-left:4px solid #e69500;padding:.5em 1em}"
             ".summary td:first-child{text-align:left;font-weight:bold}.summary td{text-align:left}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]
    said = _warnings(runs)
    if said:
        parts.append("<div class='warnings'><h2>Warnings</h2><ul>" +
                     "".join(f"<li>{html.escape(w)}</li>" for w in said) + "</ul></div>")
    parts += _rfc2544_tables(runs)
    parts += _loss_tables(runs, names)
    for r in runs:
        per = r.summary.get("per_stream") or {}
        if r.kind == "gen":
            parts.append(f"<h2>Sent: {html.escape(r.path.name)}</h2>")
            parts.append(_table(["stream", "ids", "packets", "bytes", "pps", "asked pps", "Mbit/s"],
                                [[n, ",".join(map(str, s["ids"])), s["packets"], s["bytes"], s["pps"], s["asked_pps"],
                                  data.mbit_s(s)] for n, s in per.items()]))
        elif r.kind == "sink":
            parts.append(f"<h2>Received: {html.escape(r.path.name)} (latency measured in "
                         f"{html.escape(str(r.summary.get('receive_mode', 'poll')))} mode)</h2>")
            parts.append(_table(
                ["stream", "name", "packets", "gaps", "duplicates", "reordered", "pps", "Mbit/s", "p50 µs", "p90 µs",
                 "p99 µs", "p99.9 µs", "max µs", "jitter µs"],
                [[k, names.get(k, ""), s["packets"], s["lost"], s["duplicates"], s["reordered"], s["pps"],
                  data.mbit_s(s), s["latency_us"]["p50"], s["latency_us"]["p90"], s["latency_us"]["p99"],
                  s["latency_us"]["p99.9"], s["latency_us"]["max"], s["jitter_us"]] for k, s in per.items()]))
    for caption, src in charts:
        parts.append(f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' src='{src}'>")
    parts.append("<h2>The runs' summaries</h2>")
    for r in runs:
        brief = {k: v for k, v in r.summary.items() if k not in ("per_stream", "sizes", "warnings")}
        parts.append(f"<h3>{html.escape(str(r.path))}</h3><table class='summary'>" +
                     "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(readable(v))}</td></tr>"
                             for k, v in brief.items()) + "</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path


__all__ = ["Run", "joined", "load", "load_runs", "render"]
