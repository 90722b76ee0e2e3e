"""``xsk report RUN.jsonl [MORE.jsonl ...] -o report.html``: one HTML file from gen/sink --json outputs
(``--csv FILE``: their per-stream results as CSV, alone or beside it).

Given a gen run and a sink run, it also prints each stream's loss as sent minus received (the
table the report opens with): the sink's gaps alone miss frames lost after the last arrival."""

from __future__ import annotations

import argparse
from typing import Any

from . import common


def run(args: argparse.Namespace) -> int:
    from ..traffic import _csv
    from ..traffic._join import table
    from ..traffic._report import joined, load_runs, ports_joined, render

    runs = load_runs(args.inputs)  # an `xsk run --json` file holds a gen run and a sink run
    if args.csv:
        rows = [row for got in runs for row in _csv.rows(got.summary, run=str(got.path))]
        print(f"csv: {_csv.write(args.csv, rows)}")
    for sink, streams in joined(runs):  # loss as sent minus received, per stream
        print(f"sent minus received ({sink.path.name}):")
        print(table(streams))
    ports = ports_joined(runs)  # runs over several ports (xsk run): each port's totals
    if ports:
        print("per port:")
        print(port_table(ports))
    if args.output or not args.csv:
        path = render(args.inputs, args.output or "report.html", title=args.title)
        print(f"report: {path}")
    return common.EXIT_OK


def port_table(ports: dict[str, dict[str, Any]]) -> str:
    """Per port: interface, packets and bytes sent from it and received on it."""
    head = ("port", "iface", "tx packets", "rx packets", "tx bytes", "rx bytes")
    rows = [head] + [(name, str(p["ifname"]), f"{p['tx_packets']:,}", f"{p['rx_packets']:,}", f"{p['tx_bytes']:,}",
                      f"{p['rx_bytes']:,}") for name, p in ports.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="RUN.jsonl",
                   help="what `xsk gen --json`, `xsk sink --json`, `xsk run --json` or `xsk rfc2544 --json` printed")
    p.add_argument("-o", "--output", help="the HTML file to write (default report.html, unless --csv alone)")
    p.add_argument("--csv", metavar="FILE", help="write each run's per-stream results to FILE as CSV (a row per "
                   "stream and file)")
    p.add_argument("--title", help="the report's title")
    p.set_defaults(func=run)
