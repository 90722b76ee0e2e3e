"""The Python examples of README.md and docs/*.md compile, and those that need no kernel run.

Examples are code users copy, so each is tested as what it claims to be. The word after
``python`` in the block's fence says which it is:

``python``
    a complete program that needs neither root nor a kernel (parsing, a profile, the in-memory
    socket): run here, each block on its own, as a script (``__name__ == "__main__"``).
``python root``
    a complete program, or test functions, that need root and a kernel: compiled here, run by
    tests/kernel/test_docs_examples.py (the test functions with the pytest plugin's fixtures).
``python fragment``
    an illustrative piece: it uses names from the text around it, loops until Ctrl-C, or names
    an interface the reader has and the test machine may not. Compiled only.

Any other word is refused, so a typo can't quietly turn an example's test off. Blocks compile
with top-level ``await`` allowed (the tutorial's asyncio steps are pieces of a coroutine).
A block may be indented (inside a list item); it is dedented by its fence's indent.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KINDS = ("run", "root", "fragment")  # "run": the fence says just ``python``
FENCE = re.compile(r"^(?P<indent> *)```python(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class Example:
    page: Path
    line: int  # the fence's line, 1-based
    kind: str  # "run", "root" or "fragment"; anything else is reported by a test
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def source(self) -> str:
        """The code preceded by blank lines, so that a traceback names the page's own line numbers."""
        return "\n" * self.line + self.code

    def compiled(self):
        return compile(self.source(), str(self.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    def test_functions(self) -> list[str]:
        """The top-level ``def test_*`` of the block, in order."""
        tree = ast.parse(self.code)
        return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def examples(pages: list[Path] = PAGES) -> list[Example]:
    """Every ```python block of the pages, in page order."""
    found = []
    for page in pages:
        lines = page.read_text().split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            indent, start = m.group("indent"), i
            body = []
            i += 1
            while lines[i].rstrip() != f"{indent}```":
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            info = m.group("info").strip()
            found.append(Example(page, start + 1, info or "run", "\n".join(body) + "\n"))
            i += 1
    return found


EXAMPLES = examples()


def test_the_pages_have_examples_of_every_kind():
    assert {e.kind for e in EXAMPLES} == set(KINDS)
    assert {e.page.name for e in EXAMPLES} >= {"README.md", "generator.md", "protocols.md", "harness.md",
                                               "testing-xdp.md", "tutorial.md", "engine.md"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_every_example_says_what_it_is_and_compiles(example):
    assert example.kind in KINDS, f"{example.name}: ```python {example.kind}: the word must be root or fragment"
    example.compiled()


def test_a_page_defines_each_test_function_once():
    """tests/kernel/test_docs_examples.py runs a page's root blocks in one namespace, in page order
    (a later block may use an earlier one's imports), so a name defined twice would hide a test."""
    for page in PAGES:
        names = [n for e in EXAMPLES if e.page == page and e.kind == "root" for n in e.test_functions()]
        assert len(names) == len(set(names)), page


def test_runnable_examples_define_no_tests():
    """A test function in a block that needs no kernel would be defined and never called."""
    assert [e.name for e in EXAMPLES if e.kind == "run" and e.test_functions()] == []


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "run"], ids=lambda e: e.name)
def test_a_runnable_example_runs(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(example.compiled(), {"__name__": "__main__", "__file__": str(tmp_path / "example.py")})
