"""tools/latency --paired, short: the issue's latency targets measured interleaved, three servers
up at once on three veth pairs, each woken for its block and stopped after it (the figures are
the README's; what this test proves is that every request is counted, every server answers, and
no server runs while another is measured)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "latency"

pytest.importorskip("numba")  # the compiled server


def test_paired_run_counts_every_request_of_every_server_and_leaves_nothing_behind():
    before = _test_namespaces()
    run = subprocess.run([sys.executable, str(TOOL), "--paired", "--rounds", "1", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    r = json.loads(run.stdout.strip().splitlines()[-1])
    assert r["servers"] == ["compiled", "fwd", "kernel-spin"] and (r["rounds"], r["block"]) == (8, 100)
    for client in ("blocking", "spinning"):
        c = r[client]
        assert c["not_stopped"] == 0  # each server was stopped before the next one's block
        for name, v in c["latency_us"].items():
            assert v["lost"] <= 2, (client, name, v)  # a lost request is counted, not timed
            assert v["answered"] >= 8 * 100 - v["lost"], (client, name, v)
            assert 0 < v["p50"] <= v["p99"], (client, name, v)
        ratio = c["ratios"]["compiled_over_fwd_p50"]
        assert ratio["pooled"] == pytest.approx(c["latency_us"]["compiled"]["p50"] / c["latency_us"]["fwd"]["p50"],
                                                abs=0.01)
        assert ratio["iqr"][0] <= ratio["per_round"] <= ratio["iqr"][1]
    assert not _test_namespaces() - before  # the three pairs' namespaces are gone
    assert not _servers_running()  # every server was stopped and ended


def test_sigterm_mid_run_removes_the_pairs_and_ends_every_server_even_a_stopped_one():
    """SIGTERM while the client is between servers (one may be SIGSTOPped): the tool unwinds
    as on Ctrl-C, exit 143, nothing of it left."""
    before = _test_namespaces()
    tool = subprocess.Popen([sys.executable, str(TOOL), "--paired", "--rounds", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_servers_running()) < 3 and time.monotonic() < deadline:  # all three up
            time.sleep(0.1)
        assert len(_servers_running()) == 3, tool.communicate(timeout=5)
        time.sleep(2)  # the client is interleaving
        assert tool.poll() is None
        tool.send_signal(signal.SIGTERM)
        _, err = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == 143, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert not _test_namespaces() - before
    assert not _servers_running()


def _test_namespaces() -> set[str]:
    """The namespaces VethPair makes (xskt-...), of this run or anyone's."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith("xskt-")}


def _servers_running() -> list[str]:
    """Command lines of the tool's servers still running (read from /proc: no procps needed)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        text = " ".join(a.decode(errors="replace") for a in argv)
        if "udp_echo.py" in text or "xsk.cli fwd" in text or "--udp-echo" in text:
            found.append(text)
    return found
