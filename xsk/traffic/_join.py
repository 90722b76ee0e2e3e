"""Loss as sent minus received, per stream: a generator's results joined with a sink's.

A sink alone can't know what was lost: it sees the sequence numbers that arrived, and a gap
between two of them. Frames lost after the last one that arrived (a sink stopped early, a link
that went down for good) leave no gap, so the sink's gap count (``gaps``; its ``lost`` key is the
same figure, kept under its old name) says "7" where 99 of 500 were lost. ``loss_per_stream``
joins what the generator says it sent with what the sink says it received, stream by stream:

* by name: the sink's results carry each stream's name when it was given the profile;
* else by the ids the generator sent the stream with (``per_stream[name]["ids"]``, one per queue),
  which are the sink's keys;
* an unsequenced stream (``seq=False``) is counted by the sink's flow match instead
  (``flows[name]``, see ``xsk.traffic._flows``): received, and so lost, but no duplicates,
  reordering or latency, which only a sequence header can tell.

``lost = sent - (received - duplicates)``: a duplicate is not a frame that arrived. Frames that
arrived beyond what was sent (another sender's traffic with the same ids) are ``extra``, never
a negative loss. Both inputs are plain data (``Generator.results``/``Sink.results``, or the
summary lines of ``xsk gen --json`` and ``xsk sink --json``), so a run from the command line
joins as one from Python does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._seqstats import LatencyHistogram


@dataclass
class StreamLoss:
    """One stream's sent and received, joined (see the module's docstring).

    ``counted_by``: "sequence" (the sink read the stream's sequence headers), "flow" (its frames
    matched the stream's flow, no sequence header), or "none" (the sink could not tell its
    frames: an unsequenced stream the sink was not given the profile of; ``received``, ``lost``
    and ``loss_pct`` are then None). ``gaps``: the sink's own gap-only figure (sequence streams).
    ``states``: how many frames the stream sent in each state it was put in while it ran
    (``Generator.pause``/``resume``/``set_rate``/``stop_stream``), in order.
    ``tx_port`` and ``rx_ports`` (a run over several ports): the port it left, and its frames by
    the port that received them (sequence streams).
    """

    name: str
    sent: int
    received: int | None
    lost: int | None
    loss_pct: float | None
    duplicates: int | None = None
    reordered: int | None = None
    gaps: int | None = None
    extra: int = 0
    counted_by: str = "sequence"
    sent_bytes: int = 0
    received_bytes: int | None = None
    latency_us: dict[str, float | None] | None = None
    jitter_us: float | None = None
    states: list[dict[str, Any]] = field(default_factory=list)
    tx_port: str | None = None
    rx_ports: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``--json``, reports)."""
        return asdict(self)


def _histogram(parts: list[dict[str, Any]]) -> LatencyHistogram | None:
    """The parts' latency as one histogram, from their ``latency_hist_us`` rows (exact: the rows
    are whole buckets), or None when a part has latencies but no rows."""
    from ._sender import hist_index

    total = LatencyHistogram()
    for p in parts:
        lat = p.get("latency_us") or {}
        rows = p.get("latency_hist_us")
        if lat.get("min") is None:
            continue
        if not rows:
            return None
        lows = np.array([round(r[0] * 1000) for r in rows], dtype=np.int64)
        counts = np.array([r[2] for r in rows], dtype=np.uint64)
        np.add.at(total.counts, hist_index(lows), counts)
        n = int(counts.sum())
        total.count += n
        total.total_ns += float(lat["mean"]) * 1000 * n
        lo, hi = round(lat["min"] * 1000), round(lat["max"] * 1000)
        total.min_ns = lo if total.min_ns is None else min(total.min_ns, lo)
        total.max_ns = hi if total.max_ns is None else max(total.max_ns, hi)
    return total


def _latency(parts: list[dict[str, Any]]) -> dict[str, float | None] | None:
    timed = [p for p in parts if (p.get("latency_us") or {}).get("min") is not None]
    if not timed:
        return None
    if len(timed) == 1:
        out: dict[str, float | None] = timed[0]["latency_us"]
        return out
    h = _histogram(timed)
    if h is None:  # several queues' percentiles can't be merged without their buckets: the biggest part's
        best: dict[str, float | None] = max(timed, key=lambda p: p["packets"])["latency_us"]
        return best
    return h.summary_us()


def _pct(lost: int | None, sent: int) -> float | None:
    if lost is None or not sent:
        return None
    return round(100.0 * lost / sent, 4)


def loss_per_stream(sent: dict[str, Any], received: dict[str, Any]) -> dict[str, StreamLoss]:
    """Each stream the generator sent, by name, joined with what the sink received of it.

    ``sent``: a ``Generator``'s results (or ``xsk gen --json``'s summary), with ``per_stream``
    by name; ``received``: a ``Sink``'s results (or ``xsk sink --json``'s summary), with
    ``per_stream`` by stream id and ``flows`` by name. Streams the sink received that the
    generator did not send (ids it never used) come last, named ``"id N"``, with ``sent`` 0 and
    every frame ``extra``.
    """
    got: dict[str, dict[str, Any]] = dict(received.get("per_stream") or {})
    flows: dict[str, dict[str, Any]] = received.get("flows") or {}
    by_name: dict[str, list[str]] = {}
    for key, r in got.items():
        if "name" in r:
            by_name.setdefault(r["name"], []).append(key)
    used: set[str] = set()
    out: dict[str, StreamLoss] = {}
    for name, s in (sent.get("per_stream") or {}).items():
        n_sent = int(s["packets"])
        states = list(s.get("states") or [])
        tx_port = s.get("port")
        if s.get("seq", True) is False:
            f = flows.get(name)
            if f is None:
                out[name] = StreamLoss(name, n_sent, None, None, None, counted_by="none", sent_bytes=int(s["bytes"]),
                                       states=states, tx_port=tx_port)
                continue
            n_got = int(f["packets"])
            lost = max(0, n_sent - n_got)
            out[name] = StreamLoss(name, n_sent, n_got, lost, _pct(lost, n_sent), extra=max(0, n_got - n_sent),
                                   counted_by="flow", sent_bytes=int(s["bytes"]), received_bytes=int(f["bytes"]),
                                   states=states, tx_port=tx_port)
            continue
        keys = by_name.get(name) or [str(i) for i in s.get("ids", []) if str(i) in got]
        used.update(keys)
        parts = [got[k] for k in keys]
        n_got = sum(int(p["packets"]) for p in parts)
        dups = sum(int(p.get("duplicates", 0)) for p in parts)
        unique = n_got - dups
        lost = max(0, n_sent - unique)
        jitters = [(p["jitter_us"], p["packets"]) for p in parts if p.get("jitter_us") is not None]
        jitter = round(sum(j * n for j, n in jitters) / sum(n for _, n in jitters), 2) if jitters else None
        rx_ports: dict[str, int] | None = None
        for p in parts:
            for port, n in (p.get("ports") or {}).items():
                rx_ports = rx_ports or {}
                rx_ports[port] = rx_ports.get(port, 0) + int(n)
        out[name] = StreamLoss(name, n_sent, n_got, lost, _pct(lost, n_sent), duplicates=dups,
                               reordered=sum(int(p.get("reordered", 0)) for p in parts),
                               gaps=sum(int(p.get("gaps", p.get("lost", 0))) for p in parts),
                               extra=max(0, unique - n_sent), counted_by="sequence", sent_bytes=int(s["bytes"]),
                               received_bytes=sum(int(p.get("bytes", 0)) for p in parts),
                               latency_us=_latency(parts), jitter_us=jitter, states=states, tx_port=tx_port,
                               rx_ports=rx_ports)
    for key, r in got.items():
        if key in used:
            continue
        n_got = int(r["packets"])
        out[f"id {key}"] = StreamLoss(f"id {key}", 0, n_got, 0, None, duplicates=int(r.get("duplicates", 0)),
                                      reordered=int(r.get("reordered", 0)), gaps=int(r.get("gaps", r.get("lost", 0))),
                                      extra=n_got, received_bytes=int(r.get("bytes", 0)),
                                      latency_us=r.get("latency_us"), jitter_us=r.get("jitter_us"))
    return out


def port_totals(sent: dict[str, Any], received: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per port of a run over several, from a Generator's and a Sink's results (their
    ``per_port``): the interface, packets and bytes sent from it and received on it (0 where
    one side did not use the port)."""
    out: dict[str, dict[str, Any]] = {}
    for side, results in (("tx", sent), ("rx", received)):
        for name, p in (results.get("per_port") or {}).items():
            m = out.setdefault(name, {"ifname": p.get("ifname"), "tx_packets": 0, "tx_bytes": 0, "rx_packets": 0,
                                      "rx_bytes": 0})
            m[f"{side}_packets"] += int(p["packets"])
            m[f"{side}_bytes"] += int(p["bytes"])
    return out


def totals(streams: dict[str, StreamLoss]) -> dict[str, Any]:
    """Sent, received and lost over every stream the sink could count (``uncounted``: the names of
    those it could not)."""
    counted = [s for s in streams.values() if s.received is not None and s.sent]
    sent = sum(s.sent for s in counted)
    lost = sum(s.lost or 0 for s in counted)
    return {"sent": sent, "received": sum(s.received or 0 for s in counted), "lost": lost,
            "loss_pct": _pct(lost, sent), "uncounted": [s.name for s in streams.values() if s.received is None]}


def table(streams: dict[str, StreamLoss]) -> str:
    """The joined results as a plain-text table, one row per stream (with the port it left and
    the ports it arrived on, in a run over several)."""
    def num(v: float | int | None, digits: int = 0) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    ports = any(s.tx_port is not None for s in streams.values())  # a run over several ports
    head: tuple[str, ...] = ("stream", "sent", "received", "lost", "loss %", "dup", "reord", "gaps", "p50 us",
                             "p99 us", "max us", "by")
    if ports:
        head = (*head[:1], "tx port", "rx port", *head[1:])
    rows = [head]
    for s in streams.values():
        lat = s.latency_us or {}
        row: tuple[str, ...] = (s.name, num(s.sent), num(s.received), num(s.lost), num(s.loss_pct, 3),
                                num(s.duplicates), num(s.reordered), num(s.gaps), num(lat.get("p50"), 1),
                                num(lat.get("p99"), 1), num(lat.get("max"), 1), s.counted_by)
        if ports:
            rx = ",".join(sorted(s.rx_ports)) if s.rx_ports else "-"
            row = (*row[:1], s.tx_port or "-", rx, *row[1:])
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


__all__ = ["StreamLoss", "loss_per_stream", "port_totals", "table", "totals"]
