"""The traffic workers' spawn context: children never import the parent's main module."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from xsk.traffic._workers import context, preparation_data


def test_preparation_data_leaves_the_main_module_out():
    data = preparation_data("x")
    assert "init_main_from_path" not in data and "init_main_from_name" not in data
    assert data["name"] == "x" and "sys_path" in data


_CHILD = textwrap.dedent("""\
    from xsk.traffic._workers import context
    ctx = context()
    q = ctx.Queue()
    p = ctx.Process(target=print, args=("child ran",))
    p.start()
    p.join(30)
    print("exit", p.exitcode)
""")


def test_a_child_starts_from_stdin_and_from_an_unguarded_script(tmp_path):
    path = tmp_path / "unguarded.py"
    path.write_text(_CHILD)
    for argv, stdin in (([sys.executable, "-"], _CHILD), ([sys.executable, str(path)], None),
                        ([sys.executable, "-c", _CHILD], None)):
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["child ran", "exit 0"], (argv, done.stdout, done.stderr)
    assert context().get_start_method() == "spawn"
