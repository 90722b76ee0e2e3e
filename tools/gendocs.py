#!/usr/bin/env python3
"""Render the public API's docstrings to HTML, one page per module: ``python tools/gendocs.py [OUTDIR]``."""

from __future__ import annotations

import importlib
import pydoc
import sys
from pathlib import Path

MODULES = [
    "xsk", "xsk.umem", "xsk.batch", "xsk.ledger", "xsk.socket", "xsk.program", "xsk.filter", "xsk.headers",
    "xsk.replies", "xsk.checksum", "xsk.runner", "xsk.packet", "xsk.ranges", "xsk.template", "xsk.pcap",
    "xsk.pacer", "xsk.seqstats", "xsk.errors", "xsk.testing", "xsk.testing.veth", "xsk.testing.plugin",
]


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        module = importlib.import_module(name)
        page = pydoc.html.page(pydoc.describe(module), pydoc.html.document(module, name))
        (out / f"{name}.html").write_text(page)
    index = "".join(f'<li><a href="{n}.html">{n}</a></li>' for n in MODULES)
    (out / "index.html").write_text(f"<html><body><h1>xsk API</h1><ul>{index}</ul></body></html>")
    print(f"{len(MODULES)} pages in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/docs")))
