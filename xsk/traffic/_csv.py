"""Per-stream results as CSV (``gen --csv``, ``sink --csv``, ``xsk report --csv``), beside the
JSON lines: a row per stream, one header for the generator's rows and the sink's, so the files
of a run's two sides concatenate and load into one sheet or data frame.

``rows(summary)`` reads a gen or sink summary (the ``--json`` one) into rows; ``write(path,
rows)`` writes them with the header ``COLUMNS`` (a blank where a figure does not apply: a
sender has no loss, a receiver no asked rate). ``port``, in a run over several ports: the port a
stream left (gen) or the ports it arrived on (sink, space-separated).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._report_data import mbit_s

LATENCY = ("min", "mean", "p50", "p90", "p99", "p99.9", "max")
COLUMNS = ("run", "side", "stream", "name", "ids", "packets", "bytes", "pps", "asked_pps", "mbit_s", "lost",
           "duplicates", "reordered", "too_late", *(f"latency_{q}_us" for q in LATENCY), "jitter_us",
           "interrupted", "port")


def rows(summary: dict[str, Any], run: str = "") -> list[dict[str, Any]]:
    """A row per stream of a ``gen`` or ``sink`` summary (sink: also one for frames without a
    sequence header, ``unsequenced``); ``run`` labels them (a file name, say)."""
    per_stream = summary.get("per_stream") or {}
    interrupted = summary.get("interrupted", "")
    out: list[dict[str, Any]] = []
    for key, s in per_stream.items():
        if not isinstance(s, dict):
            continue
        row: dict[str, Any] = {"run": run, "packets": s["packets"], "bytes": s["bytes"], "pps": s.get("pps"),
                               "mbit_s": mbit_s(s), "interrupted": interrupted}
        if "asked_pps" in s:  # the generator's: by name, with the ids it was sent with
            row.update(side="gen", stream=key, name=key, ids=" ".join(map(str, s.get("ids", []))),
                       asked_pps=s["asked_pps"], port=s.get("port"))
        else:
            lat = s.get("latency_us") or {}
            row.update(side="sink", stream=key, name=s.get("name", ""), ids=key, jitter_us=s.get("jitter_us"),
                       **{k: s.get(k) for k in ("lost", "duplicates", "reordered", "too_late")},
                       **{f"latency_{q}_us": lat.get(q) for q in LATENCY},
                       port=" ".join(sorted(s.get("ports") or {})) or None)
        out.append(row)
    unsequenced = summary.get("unsequenced")
    if unsequenced:
        out.append({"run": run, "side": "sink", "stream": "unsequenced", "name": "unsequenced",
                    "packets": unsequenced["packets"], "bytes": unsequenced["bytes"], "interrupted": interrupted})
    return out


def write(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """The rows as CSV at ``path`` (``COLUMNS`` as the header; None as an empty cell)."""
    p = Path(path)
    try:
        with p.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
    except OSError as exc:
        raise ConfigError(f"{p}: can't write it: {exc.strerror or exc}") from None
    return p


__all__ = ["COLUMNS", "LATENCY", "rows", "write"]
