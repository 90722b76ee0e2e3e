"""The README's and the docs' ```python root examples run as written, as root over veth.

tests/unit/test_docs_examples.py says the convention and finds the blocks. Here a root block is
either a complete program, run on its own as a script, or test functions, which are called with
the pytest plugin's fixtures (``veth_pair``, ``xdp_program``...). A page's test-function blocks
run in one namespace in page order, as one test file would (a later block uses an earlier one's
imports and constants), with ``__file__`` in examples/xdp/, beside the C programs they name.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ..unit.test_docs_examples import EXAMPLES, ROOT, Example

XDP_EXAMPLES = ROOT / "examples" / "xdp"
RUN_ELSEWHERE = {"test_my_router_keeps_both_streams"}  # tests/kernel/test_readme_examples.py runs it

ROOT_EXAMPLES = [e for e in EXAMPLES if e.kind == "root"]
PROGRAMS = [e for e in ROOT_EXAMPLES if not e.test_functions()]
TESTS = [(e, name) for e in ROOT_EXAMPLES for name in e.test_functions() if name not in RUN_ELSEWHERE]


@pytest.mark.parametrize("example", PROGRAMS, ids=lambda e: e.name)
def test_the_program_runs(example: Example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(example.compiled(), {"__name__": "__main__", "__file__": str(tmp_path / "example.py")})


@pytest.mark.parametrize(("example", "name"), TESTS, ids=[f"{e.name}:{name}" for e, name in TESTS])
def test_the_test_function_passes(example: Example, name: str, request):
    stem = example.page.stem
    namespace: dict[str, Any] = {"__name__": f"docs_{stem}", "__file__": str(XDP_EXAMPLES / f"test_{stem}.py")}
    for block in ROOT_EXAMPLES:
        if block.page == example.page and block.test_functions():
            exec(block.compiled(), namespace)
    test = namespace[name]
    test(**{arg: request.getfixturevalue(arg) for arg in inspect.signature(test).parameters})


def test_every_root_example_is_run():
    assert PROGRAMS and TESTS
    defined = {name for e in ROOT_EXAMPLES for name in e.test_functions()}
    assert defined >= RUN_ELSEWHERE  # still in the docs, so the other file still runs it
