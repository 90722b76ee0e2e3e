"""The reference renders: one page per public module, each with its docstring."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reference_pages_render(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "gendocs.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pages = {p.stem for p in tmp_path.glob("*.html")}
    assert {"xsk.umem", "xsk.socket", "xsk.runner", "xsk.headers", "index"} <= pages
    page = (tmp_path / "xsk.umem.html").read_text().replace("&nbsp;", " ")
    assert "exactly one owner at all times" in page
