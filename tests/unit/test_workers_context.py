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


_ORPHAN = textwrap.dedent("""\
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", '''
    import sys, threading, time
    from xsk.traffic._workers import WorkerStop
    stop = WorkerStop(threading.Event())
    print("looping", flush=True)
    end = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < end:
        time.sleep(0.01)
    print("stopped: parent gone" if stop.is_set() else "still looping after 60 s", flush=True)
    '''], stdout=open(sys.argv[1], "w"))
    print(child.pid, flush=True)
    time.sleep(120)
""")


def test_a_worker_whose_parent_was_killed_stops_its_loop_itself(tmp_path):
    """A killed parent never sets the stop Event: the worker finds itself reparented and stops,
    so it closes its socket (and XDP program) instead of holding them for good."""
    import contextlib
    import os
    import signal
    import time

    out = tmp_path / "child.out"
    out.write_text("")
    child_pid = 0
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 60
        while "looping" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        while "stopped" not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.read_text().splitlines() == ["looping", "stopped: parent gone"]
    finally:
        parent.kill()
        parent.wait()
        if child_pid and "stopped" not in out.read_text():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
