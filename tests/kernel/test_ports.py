"""Several ports in one run, over veth: streams leaving two veth pairs at once, and both
directions on one pair (each end's generator on one queue, its sink on the other), counted
exactly per stream and per port; and what the kernel would refuse (one queue for a port's
generator and sink) refused up front with what to do."""

from __future__ import annotations

import json
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from xsk.errors import ConfigError
from xsk.traffic import Port, Session, Stream

from .test_cli import last_json, nothing_attached, start, xsk


def _until(predicate, timeout: float = 30.0, what: str = "") -> None:
    """Poll until ``predicate()`` (a deadline only against hanging, never a measurement)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.01)


def test_streams_leave_two_veth_pairs_in_one_run_counted_per_stream_and_per_port(veth_pair_factory):
    one, two = veth_pair_factory(), veth_pair_factory(ip_a="198.51.100.1/24", ip_b="198.51.100.2/24")
    ports = {"a1": Port(one.a.ifname, netns=one.a.netns, dst_mac=one.b.mac),
             "b1": Port(one.b.ifname, netns=one.b.netns),
             "a2": Port(two.a.ifname, netns=two.a.netns, dst_mac=two.b.mac),
             "b2": Port(two.b.ifname, netns=two.b.netns)}
    streams = [Stream(Ether() / IP(dst=one.b.ip) / UDP(dport=9000), name="one-small", rate="10k", count=1_500),
               Stream(Ether() / IP(dst=one.b.ip) / UDP(dport=9001), name="one-big", rate="5k", count=700, size=1000,
                      port="a1"),
               Stream(Ether() / IP(dst=two.b.ip) / UDP(dport=9000), name="two", rate="10k", count=1_200,
                      port=two.a.ifname),  # by its interface's name
               Stream(Ether() / IP(dst=two.b.ip) / UDP(dport=9002), name="two-raw", rate="5k", count=500, port="a2",
                      seq=False)]
    with Session(ports=ports, profile=streams) as run:
        assert run.plan is not None
        assert {n: (p.tx_queues, p.rx_queues) for n, p in run.plan.items()} == {
            "a1": ([0], []), "b1": ([], [0]), "a2": ([0], []), "b2": ([], [0])}
        run.start()
        live = run.stats()
        out = run.wait(timeout=60)
    assert {r["stream"]: r["port"] for r in live} == {"one-small": "a1", "one-big": "a1", "two": "a2",
                                                      "two-raw": "a2"}
    want = {"one-small": ("a1", 1_500, {"b1": 1_500}), "one-big": ("a1", 700, {"b1": 700}),
            "two": ("a2", 1_200, {"b2": 1_200}), "two-raw": ("a2", 500, None)}
    for name, (port, n, rx_ports) in want.items():
        s = out[name]
        assert (s.tx_port, s.sent, s.received, s.lost, s.rx_ports) == (port, n, n, 0, rx_ports), name
        assert s.duplicates in (0, None) and s.reordered in (0, None)
    assert out["two-raw"].counted_by == "flow"
    gen, sink = run.generator.results, run.sink.results
    assert gen is not None and sink is not None
    # ids unique over both ports: stream i of 4 on each port's only queue
    assert {n: s["ids"] for n, s in gen["per_stream"].items()} == {"one-small": [0], "one-big": [1], "two": [2],
                                                                   "two-raw": [3]}
    assert set(sink["per_port"]["b1"]["streams"]) == {"0", "1"} and set(sink["per_port"]["b2"]["streams"]) == {"2"}
    assert run.per_port is not None
    sent_bytes = {n: gen["per_stream"][n]["bytes"] for n in want}
    assert sent_bytes["one-small"] == 1_500 * 60 and sent_bytes["one-big"] == 700 * 1000
    one_bytes, two_bytes = sent_bytes["one-small"] + sent_bytes["one-big"], sent_bytes["two"] + sent_bytes["two-raw"]
    assert run.per_port == {
        "a1": {"ifname": one.a.ifname, "tx_packets": 2_200, "tx_bytes": one_bytes, "rx_packets": 0, "rx_bytes": 0},
        "a2": {"ifname": two.a.ifname, "tx_packets": 1_700, "tx_bytes": two_bytes, "rx_packets": 0, "rx_bytes": 0},
        "b1": {"ifname": one.b.ifname, "tx_packets": 0, "tx_bytes": 0, "rx_packets": 2_200, "rx_bytes": one_bytes},
        "b2": {"ifname": two.b.ifname, "tx_packets": 0, "tx_bytes": 0, "rx_packets": 1_700, "rx_bytes": two_bytes}}
    for pair in (one, two):
        assert nothing_attached(pair.a, pair.b)


def test_both_directions_on_one_pair_each_end_sending_1000_to_the_other_counted_exactly(veth_pair_factory):
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    ports = {"a": Port(a.ifname, netns=a.netns, dst_mac=b.mac), "b": Port(b.ifname, netns=b.netns, dst_mac=a.mac)}
    streams = [Stream(Ether() / IP(dst=b.ip) / UDP(dport=9000), name="a-to-b", rate="5k", count=1_000, port="a"),
               Stream(Ether() / IP(dst=a.ip) / UDP(dport=9000), name="b-to-a", rate="5k", count=1_000, port="b")]
    with Session(ports=ports, profile=streams) as run:
        assert run.plan is not None
        # a frame sent from queue q arrives on the peer's queue q: each end receives where the other sends
        assert (run.plan["a"].tx_queues, run.plan["a"].rx_queues) == ([0], [1])
        assert (run.plan["b"].tx_queues, run.plan["b"].rx_queues) == ([1], [0])
        run.start()
        run.pause("b-to-a")  # controlled by name, whichever port it leaves
        _until(lambda: run.generator.stats()["per_stream"]["a-to-b"]["packets"] >= 200, what="a to send 200")
        run.resume("b-to-a")
        out = run.wait(timeout=60)
    ab, ba = out["a-to-b"], out["b-to-a"]
    assert (ab.tx_port, ab.rx_ports, ab.sent, ab.received, ab.lost, ab.duplicates, ab.reordered) == (
        "a", {"b": 1_000}, 1_000, 1_000, 0, 0, 0)
    assert (ba.tx_port, ba.rx_ports, ba.sent, ba.received, ba.lost, ba.duplicates, ba.reordered) == (
        "b", {"a": 1_000}, 1_000, 1_000, 0, 0, 0)
    assert [s["state"] for s in ba.states] == ["running", "paused", "running"]
    assert sum(s["packets"] for s in ba.states) == 1_000 and ba.states[1]["packets"] == 0
    assert run.per_port is not None
    for name in ("a", "b"):
        assert (run.per_port[name]["tx_packets"], run.per_port[name]["rx_packets"]) == (1_000, 1_000)
    assert nothing_attached(a, b)


def test_what_the_kernel_would_refuse_with_ebusy_is_refused_before_any_worker_starts(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    streams = [Stream(Ether() / IP(dst=b.ip) / UDP(dport=9000), name="ab", count=10, port="a"),
               Stream(Ether() / IP(dst=a.ip) / UDP(dport=9000), name="ba", count=10, port="b")]
    ports = {"a": Port(a.ifname, netns=a.netns), "b": Port(b.ifname, netns=b.netns)}
    with pytest.raises(ConfigError, match="no port can receive: every port sends"):
        Session(ports=ports, profile=streams)
    same = {"a": Port(a.ifname, netns=a.netns, rx_queues=[0]), "b": Port(b.ifname, netns=b.netns)}
    with pytest.raises(ConfigError, match="would send from and receive on queue 0: the kernel binds one AF_XDP UMEM"):
        Session(ports=same, profile=streams[:1])
    assert nothing_attached(a, b)


def test_xsk_run_drives_both_directions_from_one_command_and_its_json_feeds_xsk_report(veth_pair_factory, tmp_path):
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    profile = tmp_path / "both.toml"
    profile.write_text(f"""
[[stream]]
name = "a-to-b"
packet = "Ether()/IP(dst='{b.ip}')/UDP(dport=9000)"
rate = "5k"
count = 1000
port = "a"

[[stream]]
name = "b-to-a"
packet = "Ether()/IP(dst='{a.ip}')/UDP(dport=9000)"
rate = "5k"
count = 1000
port = "b"
""")
    done = xsk("run", "--profile", str(profile), "--port", f"a={a.ifname}@{a.netns},dst={b.mac}",
               "--port", f"b={b.ifname}@{b.netns},dst={a.mac}", "--json")
    assert done.returncode == 0, done.stderr
    out = last_json(done.stdout)
    seconds = [json.loads(line) for line in done.stdout.strip().splitlines()[:-1]]
    assert seconds and {(r["stream"], r["port"]) for r in seconds[-1]["streams"]} == {("a-to-b", "a"), ("b-to-a", "b")}
    for name, (tx, rx) in {"a-to-b": ("a", "b"), "b-to-a": ("b", "a")}.items():
        s = out["per_stream"][name]
        assert (s["tx_port"], s["rx_ports"], s["sent"], s["received"], s["lost"]) == (tx, {rx: 1000}, 1000, 1000, 0)
    assert out["plan"]["a"]["tx_queues"] == [0] and out["plan"]["b"]["rx_queues"] == [0]
    assert {n: (p["tx_packets"], p["rx_packets"]) for n, p in out["per_port"].items()} == {
        "a": (1000, 1000), "b": (1000, 1000)}
    saved = tmp_path / "run.jsonl"  # the one file holds both halves, ports and all
    saved.write_text(done.stdout)
    report = xsk("report", str(saved), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[1].split()[:5] == ["stream", "tx", "port", "rx", "port"]
    page = (tmp_path / "r.html").read_text()
    assert "<td>a-to-b</td><td>a</td><td>b</td><td>1,000</td><td>1,000</td><td>0</td>" in page
    assert "<h2>Per port</h2>" in page and "<th>port</th><th>interface</th>" in page
    assert f"<td>a</td><td>{a.ifname}</td><td>1,000</td><td>1,000</td>" in page
    lines = report.stdout.splitlines()
    at = lines.index("per port:")
    assert [line.split() for line in lines[at + 2: at + 4]] == [
        ["a", a.ifname, "1,000", "1,000", "60,000", "60,000"], ["b", b.ifname, "1,000", "1,000", "60,000", "60,000"]]
    assert nothing_attached(a, b)
    # one queue each and both sending: refused before anything is bound, saying what to do
    single = veth_pair_factory()
    refused = xsk("run", "--profile", str(profile), "--port", f"a={single.a.ifname}@{single.a.netns}",
                  "--port", f"b={single.b.ifname}@{single.b.netns}")
    assert refused.returncode == 2 and refused.stderr.startswith("xsk run: error: --port: no port can receive")
    assert "Make the interfaces with two queues" in refused.stderr and "Traceback" not in refused.stderr


def test_sigterm_ends_xsk_run_with_its_joined_summary_and_exit_143(veth_pair_factory, tmp_path):
    import signal

    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    profile = tmp_path / "endless.toml"
    profile.write_text(f"""
[[stream]]
name = "a-to-b"
packet = "Ether()/IP(dst='{b.ip}')/UDP(dport=9000)"
rate = "2k"
port = "a"

[[stream]]
name = "b-to-a"
packet = "Ether()/IP(dst='{a.ip}')/UDP(dport=9000)"
rate = "2k"
port = "b"
""")
    proc = start("run", "--profile", str(profile), "--port", f"a={a.ifname}@{a.netns},dst={b.mac}",
                 "--port", f"b={b.ifname}@{b.netns},dst={a.mac}", "--json")
    def both_ways() -> bool:
        c = pair.counters()
        return proc.poll() is not None or (c["a"]["tx_packets"] >= 100 and c["b"]["tx_packets"] >= 100)

    _until(both_ways, timeout=60, what="traffic both ways")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    summary = last_json(out)
    assert summary["interrupted"] == "SIGTERM"
    for name in ("a-to-b", "b-to-a"):
        s = summary["per_stream"][name]
        assert s["sent"] > 0 and s["received"] == s["sent"] and s["lost"] == 0, (name, s)
    assert nothing_attached(a, b)
