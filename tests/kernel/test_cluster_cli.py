"""`xsk cluster` over veth, as a user runs it: `xsk cluster local A B C` in the background (a Dask
scheduler and a worker per host on this machine), then `xsk cluster run PLAN --scheduler FILE` over
two veth pairs (A -> B, B -> C, each end in its own namespace): exact counts in its --json summary
and in the files `xsk report` joins; SIGTERM mid-run stops it on every host, exit 143, nothing left
attached; the whole run paused and resumed at once (ClusterRun.pause()/resume() with no stream);
and `xsk cluster local` ends its workers on SIGTERM. Needs the cluster extra (Dask distributed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.traffic import ledger_whole, xdp_attached
from xsk.testing import VethPair

pytest.importorskip("distributed", reason="the cluster extra (Dask distributed) is not installed: "
                                          "pip install 'xsk[cluster]'")

pytestmark = pytest.mark.kernel

XSK = [sys.executable, "-m", "xsk.cli"]
READY = "Ctrl-C or SIGTERM stops them"


def xsk(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*XSK, *args], capture_output=True, text=True, timeout=timeout)


def read_until(proc: subprocess.Popen[str], done: str, timeout: float = 180) -> str:
    """Read ``proc``'s stdout until a line containing ``done`` (what was read); fail with what it
    said if it ends first, or kill it if that takes over ``timeout`` seconds."""
    assert proc.stdout is not None
    said = ""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            said += line
            if done in line:
                return said
    finally:
        watchdog.cancel()
    raise AssertionError(f"no {done!r} from {proc.args!r}: {said}{proc.stderr.read() if proc.stderr else ''}")


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[VethPair, VethPair]]:
    """Two veth pairs: A's end of ab to B, B's end of bc to C (each end in its own namespace)."""
    with VethPair(ip_a="10.72.1.1/24", ip_b="10.72.1.2/24") as ab, \
            VethPair(ip_a="10.72.2.1/24", ip_b="10.72.2.2/24") as bc:
        yield ab, bc


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`xsk cluster local A B C` in the background: the scheduler file it was given."""
    path = tmp_path_factory.mktemp("cluster") / "scheduler.json"
    proc = subprocess.Popen([*XSK, "cluster", "local", "A", "B", "C", "--scheduler-file", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = read_until(proc, READY)
        assert f"scheduler file {path}" in said and "scheduler tcp://127.0.0.1:" in said
        yield str(path)
    finally:
        terminate(proc)


def terminate(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    """SIGTERM, then what it printed; killed (and read) if it has not ended within ``timeout`` s."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def children_of(pid: int) -> list[str]:
    """The pids whose parent is ``pid``, read from /proc (a minimal root has no procps)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[1] == str(pid):
            out.append(stat.parent.name)
    return out


def plan_file(tmp_path: Path, lab: tuple[VethPair, VethPair], count: int | None, rate: str = "2k") -> Path:
    """The plan as a user writes it: A -> B over ab, B -> C over bc."""
    ab, bc = lab
    bound = "" if count is None else f"count = {count}\n"
    text = f"""
[hosts.A]
interfaces = {{ {ab.a.ifname} = "{ab.a.netns}" }}
[hosts.B]
interfaces = {{ {ab.b.ifname} = "{ab.b.netns}", {bc.a.ifname} = "{bc.a.netns}" }}
[hosts.C]
interfaces = {{ {bc.b.ifname} = "{bc.b.netns}" }}

[[stream]]
name = "a-b"
from = "A:{ab.a.ifname}"
to = "B:{ab.b.ifname}"
packet = "Ether()/IP(dst='{ab.b.ip}')/UDP(sport=1000, dport=9000)"
rate = "{rate}"
{bound}
[[stream]]
name = "b-c"
from = "B:{bc.a.ifname}"
to = "C:{bc.b.ifname}"
packet = "Ether()/IP(dst='{bc.b.ip}')/UDP(sport=1000, dport=9000)"
rate = "{rate}"
{bound}"""
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path



def every_host_stopped(summary: dict, lab: tuple[VethPair, VethPair]) -> None:
    """Each endpoint's Generator and Sink returned its results (it was stopped), ledgers whole."""
    ab, bc = lab
    assert set(summary["senders"]) == {f"A:{ab.a.ifname}", f"B:{bc.a.ifname}"}
    assert set(summary["receivers"]) == {f"B:{ab.b.ifname}", f"C:{bc.b.ifname}"}
    for part in [*summary["senders"].values(), *summary["receivers"].values()]:
        ledger_whole(part)
        assert part["accounting"]["pool"] == part["accounting"]["total"]


def test_cluster_run_counts_every_stream_exactly_and_its_files_make_a_report(lab, scheduler, tmp_path):
    plan = plan_file(tmp_path, lab, count=2000)
    assert xsk("cluster", "check", str(plan)).returncode == 0
    r = xsk("cluster", "run", str(plan), "--scheduler", scheduler, "--json", "--results", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    *seconds, last = [json.loads(line) for line in r.stdout.splitlines()]
    s = last
    assert s["test"] == "cluster" and s["lost_hosts"] == {} and "interrupted" not in s
    for name in ("a-b", "b-c"):
        row = s["streams"][name]
        assert (row["status"], row["sent"], row["received"], row["lost"], row["duplicates"]) == \
            ("ok", 2000, 2000, 0, 0), name
    assert s["clock"]["shared"]
    every_host_stopped(s, lab)
    assert seconds and all(set(line["streams"]) == {"a-b", "b-c"} for line in seconds)
    assert seconds[-1]["streams"]["a-b"]["from"] == f"A:{lab[0].a.ifname}"
    gen, sink = s["files"]
    report = xsk("report", gen, sink, "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    rows = {line.split()[0]: line.split() for line in report.stdout.splitlines() if line.split()[:1] in (["a-b"],
                                                                                                       ["b-c"])}
    assert {n: row[1:4] for n, row in rows.items()} == {n: ["2,000", "2,000", "0"] for n in ("a-b", "b-c")}
    # without --json, the joined table and the clock note, for a person
    r = xsk("cluster", "run", str(plan), "--scheduler", scheduler, "--count", "500")
    assert r.returncode == 0, r.stderr
    table = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.split()[:1] in (["a-b"],
                                                                                                    ["b-c"])}
    assert table["b-c"][1:7] == [f"B:{lab[1].a.ifname}", f"C:{lab[1].b.ifname}", "ok", "500", "500", "0"]
    assert "clocks: shared" in r.stdout
    assert xdp_attached(lab) == []


def test_sigterm_stops_a_cluster_run_on_every_host_exit_143(lab, scheduler, tmp_path):
    plan = plan_file(tmp_path, lab, count=None)  # endless: only the signal ends it
    proc = subprocess.Popen([*XSK, "cluster", "run", str(plan), "--scheduler", scheduler, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # until both streams have frames sent and received
            rows = json.loads(line)["streams"]
            if all(r["tx"] and r["rx"] for r in rows.values()):
                break
        out, err = terminate(proc, timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    s = json.loads(out.strip().splitlines()[-1])
    assert s["interrupted"] == "SIGTERM" and "Traceback" not in err
    for name in ("a-b", "b-c"):
        row = s["streams"][name]
        assert row["status"] == "ok" and row["sent"] > 0 and (row["received"], row["lost"]) == (row["sent"], 0)
    every_host_stopped(s, lab)
    assert xdp_attached(lab) == []


def test_the_whole_run_pauses_and_resumes_at_once(lab, scheduler, tmp_path):
    """pause() with no stream pauses every stream on every host, resume() sends them all again: each
    stream's states are running, paused (no frame sent in it), running; every frame sent arrived."""
    from xsk.cluster import ClusterRun, Plan

    def until(what, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = run.stats()["streams"]
            if all(what(name, r) for name, r in rows.items()):
                return rows
            time.sleep(0.1)
        raise AssertionError(f"not reached within {timeout} s: {run.stats()['streams']}")

    with ClusterRun(Plan.load(plan_file(tmp_path, lab, count=None)), scheduler) as run:
        run.start()
        until(lambda _, r: r["tx"])
        run.pause()
        paused = until(lambda _, r: r["state"] == "paused")
        run.resume()
        until(lambda name, r: r["state"] == "running" and r["tx"] > paused[name]["tx"])
        out = run.stop()
    for name in ("a-b", "b-c"):
        row = out["streams"][name]
        assert [st["state"] for st in row["states"]] == ["running", "paused", "running"], name
        assert row["states"][1]["packets"] == 0 and row["states"][0]["packets"] > 0 and row["states"][2]["packets"]
        assert (row["status"], row["received"], row["lost"]) == ("ok", row["sent"], 0)
    assert xdp_attached(lab) == []


def test_cluster_local_ends_its_scheduler_and_workers_on_sigterm(tmp_path):
    path = tmp_path / "s.json"
    proc = subprocess.Popen([*XSK, "cluster", "local", "A", "--scheduler-file", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        read_until(proc, READY)
        assert path.exists()
        children = children_of(proc.pid)
        assert len(children) == 2  # the scheduler and A's worker
        out, err = terminate(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    assert "interrupted: SIGTERM" in out and "Traceback" not in err
    assert not path.exists()
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []


def test_a_host_lost_mid_run_exits_1_naming_it_and_its_streams(lab, tmp_path):
    """`xsk cluster local`'s worker for C killed mid-run: `run` goes on with the others (the plan
    says "continue"), prints C with its stream, and exits 1 saying so; a-b still arrives whole."""
    path = tmp_path / "s.json"
    local = subprocess.Popen([*XSK, "cluster", "local", "A", "B", "C", "--scheduler-file", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc: subprocess.Popen[str] | None = None
    try:
        read_until(local, READY)
        plan = plan_file(tmp_path, lab, count=20_000)
        plan.write_text('on_failure = "continue"\n' + plan.read_text())
        proc = subprocess.Popen([*XSK, "cluster", "run", str(plan), "--scheduler", str(path), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:  # C has received some of b-c: it is in the middle of its part
            if json.loads(line)["streams"]["b-c"]["rx"]:
                break
        c = [pid for pid in children_of(local.pid) if "\0--name\0C\0" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(c) == 1
        os.kill(int(c[0]), signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 1, err
    finally:
        for p in (proc, local):
            if p is not None and p.poll() is None:
                terminate(p)
    assert err.splitlines()[-1] == "xsk cluster: error: host C was lost (streams b-c)"
    s = json.loads(out.strip().splitlines()[-1])
    assert set(s["lost_hosts"]) == {"C"} and s["lost_hosts"]["C"]["streams"] == ["b-c"]
    a_b, b_c = s["streams"]["a-b"], s["streams"]["b-c"]
    assert (a_b["status"], a_b["sent"], a_b["received"], a_b["lost"]) == ("ok", 20_000, 20_000, 0)
    assert (b_c["status"], b_c["received"], b_c["lost"]) == ("host lost", None, None)
    deadline = time.monotonic() + 20  # C's traffic workers find their parent gone and close on their own
    while xdp_attached(lab) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert xdp_attached(lab) == []
