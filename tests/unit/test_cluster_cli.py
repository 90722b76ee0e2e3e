"""`xsk cluster`'s parsing and printing, with no engine and no kernel: what `check` says of a plan,
bad input as one line and exit status 2 before any scheduler is reached, the results and live
tables, what makes a run not clean (its exit status), and a host's pause of every stream. (The
runs themselves, over veth, are in tests/kernel/test_cluster_cli.py.)"""

from __future__ import annotations

import io
import textwrap

import pytest
from rich.console import Console

from xsk.cli import main
from xsk.cluster._agent import HostAgent
from xsk.cluster._text import clock_line, live_rows, lost_lines, problems, results_table
from xsk.traffic._session import render

RING = textwrap.dedent("""
    [hosts.A]
    interfaces = { a0 = "ns-a0" }
    [hosts.B]
    interfaces = { b0 = "ns-b0", b1 = "ns-b1" }
    [hosts.C]
    interfaces = { c0 = "ns-c0" }

    [[stream]]
    name = "a-b"
    from = "A:a0"
    to = "B:b0"
    packet = "Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)"
    rate = "1k"
    count = 100

    [[stream]]
    name = "b-c"
    from = "B:b1"
    to = "C:c0"
    packet = "Ether()/IP(dst='10.0.0.3')/UDP(dport=9000)"
    duration = 5
    seq = false
    """)


def write(tmp_path, text: str, name: str = "plan.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_says_what_each_host_sends_receives_and_what_its_loss_takes(tmp_path, capsys):
    path = write(tmp_path, RING)
    assert main(["cluster", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (f"{path}: 2 stream(s) across 3 host(s); a host lost stops the whole run "
                                   "(on_failure = 'stop')")
    host_b = out.split("host B:\n")[1].split("host C:")[0]
    assert host_b == ("  sends from b1 in namespace ns-b1 (queues 0):\n"
                      "    b-c -> C:c0: as fast as it goes, 5 s, counted by its flow\n"
                      "  receives on b0 in namespace ns-b0 (queues 0):\n"
                      "    a-b <- A:a0\n"
                      "  if B is lost: a-b, b-c; the run stops on every host\n")
    assert "    a-b -> B:b0: rate 1k, 100 frames\n" in out
    assert out.endswith("  if C is lost: b-c; the run stops on every host\n")


def test_check_of_a_plan_going_on_after_a_loss_says_so(tmp_path, capsys):
    assert main(["cluster", "check", str(write(tmp_path, 'on_failure = "continue"\n' + RING))]) == 0
    out = capsys.readouterr().out
    assert "a host lost leaves the others going on" in out and "the run stops" not in out


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_plan_is_one_line_exit_2_before_any_scheduler(tmp_path, capsys, command):
    path = write(tmp_path, RING.replace('to = "C:c0"\n', ""))
    extra = ["--scheduler", "tcp://127.0.0.1:1"] if command == "run" else []  # nothing listens there
    assert main(["cluster", command, str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert err == (f"xsk cluster: error: {path}: stream 1 ('b-c'): to: every stream of a plan needs one, as "
                   "\"HOST:IFACE\"\n")


def test_run_refuses_bad_numbers_naming_their_option(tmp_path, capsys):
    path = write(tmp_path, RING)
    for flag in ("--count", "--duration", "--timeout"):
        assert main(["cluster", "run", str(path), "--scheduler", "tcp://127.0.0.1:1", flag, "0"]) == 2
        assert capsys.readouterr().err.startswith(f"xsk cluster: error: {flag}: must be positive, got 0")
    with pytest.raises(SystemExit) as info:
        main(["cluster", "run", str(path)])
    assert info.value.code == 2 and "--scheduler" in capsys.readouterr().err


def test_run_with_a_scheduler_file_that_is_not_there_says_so_instead_of_waiting_for_it(tmp_path, capsys):
    """The engine's client would wait for the file for ever: a typo is one line, exit 2."""
    missing = tmp_path / "sched.json"
    assert main(["cluster", "run", str(write(tmp_path, RING)), "--scheduler", str(missing)]) == 2
    assert capsys.readouterr().err == (f"xsk cluster: error: scheduler file {missing}: no such file; give the file "
                                       "the scheduler writes its address to, or the address itself "
                                       "(tcp://HOST:PORT)\n")


def test_local_refuses_twice_the_same_host_and_a_scheduler_file_in_use(tmp_path, capsys):
    assert main(["cluster", "local", "A", "A"]) == 2
    assert capsys.readouterr().err == "xsk cluster: error: hosts ['A', 'A']: one or more distinct names\n"
    taken = write(tmp_path, "{}", "sched.json")
    assert main(["cluster", "local", "A", "B", "--scheduler-file", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xsk cluster: error: scheduler file {taken}: exists already") and err.count("\n") == 1
    assert taken.exists()


def results(a_b_received: int = 100, lost_c: bool = True) -> dict:
    """A run's results as ClusterRun gives them: a-b whole (or short), b-c carried by host C."""
    a_b = {"from": "A:a0", "to": "B:b0", "status": "ok", "sent": 100, "received": a_b_received,
           "lost": 100 - a_b_received, "loss_pct": 100 - a_b_received, "duplicates": 0, "reordered": 0,
           "latency_us": {"p50": 12.5, "p99": 40.0, "max": 51.0}}
    if not lost_c:
        b_c = {"from": "B:b1", "to": "C:c0", "status": "ok", "sent": 50, "received": 50, "lost": 0, "loss_pct": 0.0}
        return {"streams": {"a-b": a_b, "b-c": b_c}, "lost_hosts": {},
                "clock": {"shared": True, "basis": "shared: one kernel"}}
    b_c = {"from": "B:b1", "to": "C:c0", "status": "host lost", "sent": 50, "received": None, "lost": None,
           "loss_pct": None, "lost_hosts": ["C"]}
    return {"streams": {"a-b": a_b, "b-c": b_c},
            "lost_hosts": {"C": {"error": "its engine worker tcp://127.0.0.1:4 left the cluster", "at_s": 1.25,
                                 "during": "watching", "streams": ["b-c"]}},
            "clock": {"shared": True, "basis": "shared: one kernel"}}


def test_the_results_table_has_a_row_per_stream_unknown_counts_as_dashes():
    lines = results_table(results()["streams"]).splitlines()
    assert lines[0].split() == ["stream", "from", "to", "status", "sent", "received", "lost", "loss", "%", "dup",
                                "reord", "p50", "us", "p99", "us", "max", "us"]
    assert lines[1].split() == ["a-b", "A:a0", "B:b0", "ok", "100", "100", "0", "0.000", "0", "0", "12.5", "40.0",
                                "51.0"]
    assert lines[2].split()[:8] == ["b-c", "B:b1", "C:c0", "host", "lost", "50", "-", "-"]
    assert lost_lines(results()) == ["host C lost at 1.25 s (watching): its engine worker tcp://127.0.0.1:4 left the "
                                     "cluster; its streams: b-c"]


def test_a_run_is_clean_only_when_every_stream_arrived_whole_and_no_host_was_lost():
    assert problems(results(lost_c=False)) == []
    assert problems(results()) == ["host C was lost (streams b-c)"]
    assert problems(results(a_b_received=97, lost_c=False)) == ["stream 'a-b' lost 3 of 100 frames"]


def test_the_clock_lines_give_each_host_s_offset_with_its_bound_and_the_start_skew():
    hosts = {"A": {"start": {"offset_us": 56.2, "bound_us": 1100.2}, "synced": False},
             "B": {"start": {"offset_us": -1520.0, "bound_us": 12.5}, "synced": True},
             "C": {"synced": False}}  # lost before it was measured: left out
    out = clock_line({"clock": {"basis": "per host: ...", "hosts": hosts}, "start_skew_us": 1158.2})
    assert out.splitlines() == [
        "clocks: per host: ...",
        "offsets to the controller (through the engine): A +0.06 ± 1.10 ms (kernel clock unsynchronised), "
        "B -1.52 ± 0.01 ms",
        "start: the senders' first frames 1.16 ms apart"]
    assert clock_line({"clock": {"basis": "shared: ..."}}) == "clocks: shared: ..."


def test_the_live_table_shows_where_each_stream_goes_and_the_hosts_lost():
    """The table `xsk run` draws, given a run across hosts' rows: from, to and hosts lost as
    columns, no latency columns (the rows have none); a Session's rows keep theirs."""
    stats = {"streams": {
        "a-b": {"from": "A:a0", "to": "B:b0", "state": "paused", "tx": 1200, "rx": 1190, "missing": 10,
                "lost_hosts": []},
        "b-c": {"from": "B:b1", "to": "C:c0", "state": "host lost", "tx": 800, "rx": None, "missing": None,
                "lost_hosts": ["C"]}}, "lost_hosts": {"C": {}}, "seconds": 2.0}
    out = io.StringIO()
    Console(file=out, width=120).print(render(live_rows(stats), "2.0 s"))
    text = out.getvalue()
    header = next(line for line in text.splitlines() if "stream" in line)
    assert [c.strip() for c in header.strip("┃│ ").split("┃")] == ["stream", "from", "to", "state", "tx", "rx",
                                                                 "tx - rx", "hosts lost"]
    row = next(line for line in text.splitlines() if "b-c" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["b-c", "B:b1", "C:c0", "host lost", "800", "-", "-",
                                                              "C"]
    session = [{"stream": "s", "state": "running", "tx": 5, "rx": 5, "missing": 0, "p50_us": 3.0, "p99_us": 9.0}]
    out = io.StringIO()
    Console(file=out, width=120).print(render(session, "1.0 s"))
    assert "p99 us" in out.getvalue() and "from" not in out.getvalue()


class FakeGenerator:
    """What HostAgent.control_all uses of a Generator: its streams, whether it finished, pause/resume."""

    def __init__(self, names: list[str], finished: bool = False) -> None:
        self.plans = [type("Plan", (), {"name": n})() for n in names]
        self.done = finished
        self.calls: list[tuple[str, str]] = []

    def finished(self) -> bool:
        return self.done

    def pause(self, name: str) -> None:
        self.calls.append(("pause", name))

    def resume(self, name: str) -> None:
        self.calls.append(("resume", name))


def test_a_host_pauses_and_resumes_every_stream_of_its_running_generators():
    agent = HostAgent("A", lease=60)
    try:
        running, done = FakeGenerator(["x", "y"]), FakeGenerator(["z"], finished=True)
        agent.generators.update({"A:a0": running, "A:a1": done})  # type: ignore[dict-item]
        agent.control_all("pause")
        agent.control_all("resume")
        assert running.calls == [("pause", "x"), ("pause", "y"), ("resume", "x"), ("resume", "y")]
        assert done.calls == []
        with pytest.raises(ValueError, match="unknown action 'stop'"):
            agent.control_all("stop")
    finally:
        agent.generators.clear()
        agent.close()


def test_the_example_plan_checks_as_docs_cluster_md_shows_it(capsys, monkeypatch):
    """docs/cluster.md's walk-through prints `xsk cluster check examples/plans/two_hops.toml`: the
    lines it shows are what the command says of the example (run from the checkout's root)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    assert main(["cluster", "check", "examples/plans/two_hops.toml"]) == 0
    out = capsys.readouterr().out
    shown = (root / "docs" / "cluster.md").read_text().split("# xsk cluster check examples/plans/two_hops.toml\n")[1]
    shown = shown.split("...\n")[0]
    assert shown and out.startswith(shown)
