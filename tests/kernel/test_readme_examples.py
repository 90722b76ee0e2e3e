"""The README's Python examples run as written (the profile test and the Python profile)."""

from __future__ import annotations

import re
from pathlib import Path

from xsk.traffic import Profile

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(marker: str) -> str:
    """The README's python block holding ``marker``, preceded by blank lines so that a traceback
    names the README's own line numbers."""
    text = README.read_text()
    blocks = [(m.group(1), m.start(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]
    (found,) = [(code, at) for code, at in blocks if marker in code]
    code, at = found
    return "\n" * text.count("\n", 0, at) + code


def test_the_readme_profile_test_passes(veth_pair):
    namespace: dict = {}
    exec(compile(_block("def test_my_router_keeps_both_streams"), "README.md", "exec"), namespace)
    namespace["test_my_router_keeps_both_streams"](veth_pair)


def test_the_readme_python_profile_loads(tmp_path):
    path = tmp_path / "profile.py"
    path.write_text(_block("rate=\"1Gbit\")"))
    p = Profile.load(path)
    assert [s.name for s in p.streams] == ["small", "big"]
    assert p.streams[1].pps(1400, p.rate) == 1e9 * 0.2 / (1400 * 8)
