"""The generator guide's Python examples run as written (the profile test and the Python profile).

They were the README's; they now live in docs/generator.md, which the README links to. Every
other example of the README and the docs runs in tests/unit/test_docs_examples.py (no kernel)
or tests/kernel/test_docs_examples.py (root).
"""

from __future__ import annotations

import re
from pathlib import Path

from xsk.traffic import Profile

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "docs" / "generator.md"


def _block(page: Path, marker: str) -> str:
    """The page's python block holding ``marker``, preceded by blank lines so that a traceback
    names the page's own line numbers."""
    text = page.read_text()
    blocks = [(m.group(1), m.start(1)) for m in re.finditer(r"```python[^\n]*\n(.*?)```", text, re.S)]
    (found,) = [(code, at) for code, at in blocks if marker in code]
    code, at = found
    return "\n" * text.count("\n", 0, at) + code


def test_the_readme_profile_test_passes(veth_pair):
    namespace: dict = {}
    exec(compile(_block(GENERATOR, "def test_my_router_keeps_both_streams"), str(GENERATOR), "exec"), namespace)
    namespace["test_my_router_keeps_both_streams"](veth_pair)


def test_the_readme_python_profile_loads(tmp_path):
    path = tmp_path / "profile.py"
    path.write_text(_block(GENERATOR, "rate=\"1Gbit\")"))
    p = Profile.load(path)
    assert [s.name for s in p.streams] == ["small", "big"]
    assert p.streams[1].pps(1400, p.rate) == 1e9 * 0.2 / (1400 * 8)
