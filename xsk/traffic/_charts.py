"""The report's charts of gen and sink runs, drawn with matplotlib: rate per stream over time,
latency percentiles over time, and the latency histogram and CDF per stream.

What each chart shows, and why that way, is decided in ``xsk.traffic._report_data`` (one time
axis from gen's start with the idle tail trimmed, rate panels by order of magnitude, bursts as
blocks, normalised histograms); this module only draws it. Every stream has one colour in every
chart; sent is a solid line, received a dashed one in the same colour, the asked rate a thin
dotted one. Charts are ``WIDTH`` inches at ``DPI`` (about 1,350 pixels: the report page's width).

Ownership: each function makes its figures, encodes them as PNG data URLs and closes them; the
caller's data is only read.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from . import _report_data as data

WIDTH = 13.5
"""Chart width in inches (at ``DPI``, the page's width in pixels)."""

DPI = 100


def png(fig: Any) -> str:
    """The figure as a PNG data URL (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def legend(ax: Any, outside: bool = False) -> None:
    """A legend when the chart has labelled lines (a run with nothing to draw gets none, not a
    warning); ``outside``: right of the axes, so it never covers a line."""
    if ax.get_legend_handles_labels()[0]:
        if outside:
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        else:
            ax.legend(fontsize="small")


def colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour per stream name, in order (tab10, then tab20 past ten streams)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(dict.fromkeys(names))}


class Run:
    """What the charts need of one gen or sink run: its per-second lines and its summary."""

    def __init__(self, kind: str, seconds: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        self.kind = kind
        self.seconds = seconds
        self.summary = summary


def _by_name(seconds: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """A sink's per-second lines with each stream's counts under its name (ids of one stream on
    several queues added up; streams counted by their flow, ``flows``, under theirs)."""
    out = []
    for line in seconds:
        per: dict[str, int] = {}
        for key, v in (line.get("per_stream") or {}).items():
            n = v.get("packets") if isinstance(v, dict) else v
            if n is not None:
                name = names.get(key, f"id {key}")
                per[name] = per.get(name, 0) + int(n)
        for name, n in (line.get("flows") or {}).items():  # streams without a sequence header
            per[name] = per.get(name, 0) + int(n.get("packets", 0) if isinstance(n, dict) else n)
        out.append({**line, "per_stream": per})
    return out


def traffic_charts(plt: Any, gens: list[Run], sinks: list[Run], names: dict[str, str]) -> list[tuple[str, str]]:
    """The charts of the gen and sink runs: (caption, PNG data URL) each. ``names``: the sink's
    stream ids to names."""
    starts = [data.run_start(g.seconds) for g in gens]
    zero, axis_label = data.origin(starts, [data.run_start(s.seconds) for s in sinks])
    sent: list[data.Series] = []
    gen_end = None
    for g, start in zip(gens, starts, strict=True):
        for name, st in (g.summary.get("per_stream") or {}).items():
            end = (float(g.summary["seconds"]), int(st["packets"])) if "seconds" in g.summary else None
            sent.append(data.series(g.seconds, name, zero, stream=name, side="sent", end=end))
        if start is not None and "seconds" in g.summary:
            gen_end = max(gen_end or 0.0, start - zero + float(g.summary["seconds"]))
    received: list[data.Series] = []
    for s in sinks:
        lines = _by_name(s.seconds, names)
        keys = list(dict.fromkeys(k for line in lines for k in line["per_stream"]))
        received += [data.series(lines, k, zero, stream=k, side="received") for k in keys]
    every = sent + received
    if not every:
        return []
    lo, hi = data.span(every, gen_end)
    colour = colours([x.stream for x in every])
    asked = {name: st.get("asked_pps") for g in gens for name, st in (g.summary.get("per_stream") or {}).items()}
    gen_streams = {name: st for g in gens for name, st in (g.summary.get("per_stream") or {}).items()}
    out = [("Rate per stream over time", _rate_chart(plt, sent, received, colour, asked, gen_streams, (lo, hi),
                                                      axis_label))]
    for s in sinks:
        out.append(("Latency percentiles over time", _latency_over_time(plt, s, names, colour, zero, (lo, hi),
                                                                         axis_label)))
        hist = _histograms(plt, s, names, colour)
        if hist is not None:
            out.append(("Latency histogram and CDF per stream", hist))
    return out


def _rate_chart(plt: Any, sent: list[data.Series], received: list[data.Series], colour: dict[str, Any],
                asked: dict[str, float | None], gen_streams: dict[str, dict[str, Any]], xlim: tuple[float, float],
                axis_label: str) -> str:
    from matplotlib.ticker import EngFormatter

    peaks: dict[str, float] = {}
    for x in sent + received:
        peaks[x.stream] = max(peaks.get(x.stream, 0.0), x.peak)
    groups = data.panels(peaks)
    fig, axes = plt.subplots(len(groups), 1, sharex=True, figsize=(WIDTH - 1.5, 0.6 + 2.2 * len(groups)),
                             squeeze=False)
    burst = {b.stream: b for b in data.bursts(sent, gen_streams)}
    for ax, group in zip(axes[:, 0], groups, strict=True):
        for name in group:
            c = colour[name]
            for x in sent:
                if x.stream == name and x.rates:
                    ax.stairs(x.rates, x.edges, color=c, linewidth=1.8, label=f"{name} sent",
                              fill=name in burst, alpha=0.35 if name in burst else 1.0)
            for x in received:
                if x.stream == name and x.rates:
                    ax.stairs(x.rates, x.edges, color=c, linewidth=1.8, linestyle="--", label=f"{name} received")
            want = asked.get(name)
            if want:
                ax.axhline(want, color=c, linewidth=0.9, linestyle=":", label=f"{name} asked")
            if name in burst:
                b = burst[name]
                rate = "" if b.pps is None else f" at {data.engineering(b.pps)}pps while it lasted"
                ax.annotate(f"{name}: {b.packets:,} frames in one burst{rate}", (b.at, peaks[name]),
                            xytext=(6, -14), textcoords="offset points", fontsize="small", color=c,
                            bbox={"facecolor": "white", "alpha": 0.85, "linewidth": 0})
        ax.set_ylim(bottom=0, top=max(max((peaks[n] for n in group), default=1.0),
                                      max((asked.get(n) or 0.0 for n in group), default=0.0)) * 1.15 or 1.0)
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_ylabel("packets/s")
        ax.grid(axis="y", alpha=0.3)
        legend(ax, outside=True)
    axes[0, 0].set_title("Rate per stream: sent solid, received dashed, asked dotted; a panel per order of magnitude")
    axes[-1, 0].set_xlim(*xlim)
    axes[-1, 0].set_xlabel(axis_label)
    fig.tight_layout()
    return png(fig)


def _latency_over_time(plt: Any, sink: Run, names: dict[str, str], colour: dict[str, Any], zero: float,
                       xlim: tuple[float, float], axis_label: str) -> str:
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(WIDTH - 1.5, 3.6))
    start = data.run_start(sink.seconds)
    shift = (start - zero) if (start is not None and zero) else 0.0
    for key in sink.summary.get("per_stream") or {}:
        name = names.get(key, f"id {key}")
        for q, style, marker in (("p50_us", "-", "o"), ("p99_us", ":", "s")):
            pts = [(float(line["t"]) + shift, line["per_stream"][key][q]) for line in sink.seconds
                   if isinstance((line.get("per_stream") or {}).get(key), dict)
                   and line["per_stream"][key].get(q) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), linestyle=style, marker=marker, markersize=3,
                        color=colour.get(name), label=f"{name} {q[:-3]}")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlim(*xlim)
    ax.set_xlabel(axis_label)
    ax.set_ylabel("one-way latency, µs")
    ax.set_title("Latency per stream, each second's p50 (solid) and p99 (dotted)")
    ax.grid(alpha=0.3)
    legend(ax, outside=True)
    return png(fig)


def _histograms(plt: Any, sink: Run, names: dict[str, str], colour: dict[str, Any]) -> str | None:
    streams = [(names.get(k, f"id {k}"), st) for k, st in (sink.summary.get("per_stream") or {}).items()
               if st.get("latency_hist_us")]
    if not streams:
        return None
    fig, (hist_ax, cdf_ax) = plt.subplots(1, 2, figsize=(WIDTH, 4.2))
    for name, st in streams:
        rows = st["latency_hist_us"]
        lat = st.get("latency_us") or {}
        c = colour.get(name)
        edges, fractions = data.normalised_histogram(rows)
        marks = ", ".join(f"{q} {lat[q]:,.0f} µs" if lat[q] >= 10 else f"{q} {lat[q]:.1f} µs"
                          for q in ("p50", "p99") if lat.get(q) is not None)
        hist_ax.stairs(fractions, edges, color=c, linewidth=1.6, label=f"{name} ({marks})" if marks else name)
        xs, ys = data.cdf(rows)
        cdf_ax.step(xs, ys, where="post", color=c, linewidth=1.6, label=name)
        for q, style, y, marker in (("p50", "--", 0.5, "o"), ("p99", ":", 0.99, "s")):
            if lat.get(q) is not None:
                hist_ax.axvline(lat[q], color=c, linestyle=style, linewidth=1.0)
                cdf_ax.plot([lat[q]], [y], marker=marker, color=c, markersize=6)
    for a in (hist_ax, cdf_ax):
        a.set_xscale("log")
        a.set_xlabel("one-way latency, µs")
        a.grid(alpha=0.3)
    hist_ax.set_ylim(bottom=0)
    hist_ax.set_ylabel("fraction of the stream's frames")
    hist_ax.set_title(f"Latency histogram ({data.BINS_PER_DECADE} bins a decade); p50 dashed, p99 dotted")
    cdf_ax.set_ylabel("fraction of the stream's frames at or under")
    cdf_ax.set_title("Latency CDF; p50 (circle) and p99 (square)")
    legend(hist_ax)
    legend(cdf_ax)
    fig.tight_layout()
    return png(fig)


__all__ = ["DPI", "WIDTH", "Run", "colours", "legend", "png", "traffic_charts"]
