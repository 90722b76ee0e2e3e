"""Merging the results of several workers (one per queue) into one: kernel counters, loss
causes, health footprints. Plain data in and out, so results can come from other processes."""

from __future__ import annotations

from typing import Any


def cause_dicts(causes: list[Any]) -> list[dict[str, Any]]:
    """``xsk._diagnose.Cause`` objects as plain data (for worker processes and --json)."""
    return [{"counter": c.counter, "count": c.count, "reason": c.reason, "fix": c.fix} for c in causes]


def merge_causes(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Causes from several sockets, one per counter and reason with the counts added up."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for part in parts:
        for c in part:
            key = (c["counter"], c["reason"])
            if key in merged:
                merged[key]["count"] += c["count"]
            else:
                merged[key] = dict(c)
    return list(merged.values())


def add_counters(parts: list[dict[str, int]]) -> dict[str, int]:
    """Kernel counters of several sockets, added up by name."""
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return total


def merge_footprints(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Health summaries of several workers: ledger checks added up, memory figures the worst one's
    (a slope only where every worker had one; else the first note saying why not)."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for p in parts for k in p):
        values = [p[key] for p in parts if key in p]
        if key == "rss_slope_kib_per_min":
            out[key] = None if None in values else max(values)
        elif key == "rss_slope_note":
            out[key] = next((v for v in values if v), None)
        else:
            out[key] = sum(values) if key.startswith("ledger_") else max(values)
    if out.get("rss_slope_note") is None:
        out.pop("rss_slope_note", None)
    return out
