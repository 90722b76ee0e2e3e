"""``xsk report RUN.jsonl [MORE.jsonl ...] -o report.html``: one HTML file from gen/sink --json outputs.

Given a gen run and a sink run, it also prints each stream's loss as sent minus received (the
table the report opens with): the sink's gaps alone miss frames lost after the last arrival."""

from __future__ import annotations

import argparse

from . import common


def run(args: argparse.Namespace) -> int:
    from ..traffic._join import table
    from ..traffic._report import joined, load, render

    path = render(args.inputs, args.output, title=args.title)
    for sink, streams in joined([load(p) for p in args.inputs]):  # loss as sent minus received, per stream
        print(f"sent minus received ({sink.path.name}):")
        print(table(streams))
    print(f"report: {path}")
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="RUN.jsonl", help="what `xsk gen --json` and `xsk sink --json` printed")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    p.add_argument("--title", help="the report's title")
    p.set_defaults(func=run)
