"""xsk.cluster's pure logic: a plan's checks and groupings, its TOML form, and the join of results
across hosts (with plain dicts shaped as Generator and Sink results). No engine, no kernel."""

from __future__ import annotations

import dataclasses

import pytest

from xsk.cluster import Endpoint, Plan, Route, host_resource
from xsk.cluster._results import NOT_SHARED, clock, join, merged_received, merged_sent, stream_ids
from xsk.errors import ConfigError
from xsk.traffic import Stream
from xsk.traffic._report import Run, joined

A_TX, B_RX = Endpoint("A", "a0", "ns-a0"), Endpoint("B", "b0", "ns-b0")
B_TX, C_RX = Endpoint("B", "b1", "ns-b1"), Endpoint("C", "c0", "ns-c0")


def stream(name, seq=True, count=100):
    return Stream("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)", name=name, rate="1k", count=count, seq=seq)


def ring_plan(on_failure="stop"):
    return Plan([Route(stream("a-b"), A_TX, B_RX), Route(stream("a-b2"), A_TX, B_RX),
                 Route(stream("b-c"), B_TX, C_RX)], on_failure=on_failure)


def test_the_plan_says_what_runs_on_each_host():
    plan = ring_plan()
    assert plan.hosts() == ["A", "B", "C"]
    assert [r.name for r in plan.senders()[A_TX]] == ["a-b", "a-b2"]
    assert [r.name for r in plan.receivers()[C_RX]] == ["b-c"]
    assert plan.carried_by("C") == ["b-c"]
    assert plan.carried_by("B") == ["a-b", "a-b2", "b-c"]
    assert [s.name for s in plan.sender_profile(A_TX).streams] == ["a-b", "a-b2"]
    assert stream_ids(plan, "a-b2") == ["1"]
    assert host_resource("A") == "xsk-host-A"


def test_a_sink_is_given_the_sequence_streams_routed_to_it_under_their_plan_ids():
    """The sink on C gets B's stream into C under the id the plan gave it, then the unsequenced
    stream that A sends it (counted by its flow, under an id free there)."""
    b_to_elsewhere = Endpoint("A", "a9")
    plan = Plan([Route(stream("b-a"), B_TX, b_to_elsewhere), Route(stream("b-c"), B_TX, C_RX),
                 Route(stream("a-c", seq=False), A_TX, C_RX)])
    sink = plan.sink_profile(C_RX)
    assert [(s.name, s.id) for s in sink.streams] == [("b-c", 1), ("a-c", 0)]
    assert stream_ids(plan, "b-c") == ["1"]
    assert [(s.name, s.id) for s in plan.sender_profile(B_TX).streams] == [("b-a", 0), ("b-c", 1)]
    assert plan.routes[1].stream.id is None, "the plan's own streams are left as given"


def test_sequence_streams_from_several_senders_into_one_interface_get_ids_of_their_own():
    """A and B each send C two sequence streams: every id into C differs; each sender numbers
    its own streams with no gap it needn't have; a stream elsewhere reuses an id freely."""
    c_tx = Endpoint("C", "c1")
    plan = Plan([Route(stream("a1"), A_TX, C_RX), Route(stream("a2"), A_TX, C_RX),
                 Route(stream("b1"), B_TX, C_RX), Route(stream("b2"), B_TX, C_RX),
                 Route(stream("c-a"), c_tx, Endpoint("A", "a1"))])
    assert {n: plan.stream_id(n) for n in ("a1", "a2", "b1", "b2", "c-a")} == {
        "a1": 0, "a2": 1, "b1": 2, "b2": 3, "c-a": 0}
    assert [(s.name, s.id) for s in plan.sink_profile(C_RX).streams] == [("a1", 0), ("a2", 1), ("b1", 2), ("b2", 3)]
    assert [s.id for s in plan.sender_profile(B_TX).streams] == [2, 3]
    assert stream_ids(plan, "b2") == ["3"]


def test_a_users_ids_are_kept_and_the_others_fill_in_around_them():
    plan = Plan([Route(stream("a1"), A_TX, C_RX), Route(dataclasses.replace(stream("b1"), id=0), B_TX, C_RX),
                 Route(dataclasses.replace(stream("b2"), id=9), B_TX, C_RX),
                 Route(dataclasses.replace(stream("a-b", seq=False), id=9), A_TX, B_RX)])
    # b1 keeps 0, so a1 (no id) takes 1; an unsequenced stream shares C's ids, not its sender's
    assert {n: plan.stream_id(n) for n in ("a1", "b1", "b2", "a-b")} == {"a1": 1, "b1": 0, "b2": 9, "a-b": 9}
    assert stream_ids(plan, "b2") == ["9"]


@pytest.mark.parametrize(("routes", "message"), [
    ([("x", 4, A_TX, C_RX), ("y", 4, B_TX, C_RX)],
     r"stream 1 \('y'\): id: id 4 is also stream 'x''s \(from A:a0\), and both arrive at C:c0 with a sequence "
     r"header: give them different ids, or leave the ids out and the plan gives them"),
    ([("x", 4, A_TX, C_RX), ("y", 4, A_TX, B_RX)],
     r"stream 1 \('y'\): id: id 4 is also stream 'x''s, which leaves A:a0 too; give each stream of one sender its "
     r"own id"),
    ([("x", 256, A_TX, C_RX)], r"stream 0 \('x'\): id: a stream id 0..255, got 256"),
    ([("x", 200, Endpoint("A", "a0", queues=(0, 1)), Endpoint("C", "c0", queues=(0, 1)))],
     r"A:a0 sends streams with ids up to 200 from 2 queues, which needs 402 stream ids; at most 256"),
])
def test_ids_that_clash_at_a_sender_or_a_receiver_are_refused_naming_both_streams(routes, message):
    with pytest.raises(ConfigError, match=message):
        Plan([Route(dataclasses.replace(stream(n), id=i), a, b) for n, i, a, b in routes])


def test_more_than_256_sequence_streams_into_one_interface_are_refused_saying_so():
    routes = [Route(stream(f"s{i}"), Endpoint(f"H{i % 2}", "tx0"), C_RX) for i in range(257)]
    with pytest.raises(ConfigError, match=r"257 sequence streams arrive at C:c0; at most 256 \(the sequence header "
                                          r"has one byte for the stream id\)"):
        Plan(routes)


def test_a_receiver_on_several_queues_still_takes_sequence_streams_from_one_sender():
    """On queue index q a stream carries id + W*q, W its sender's own width: two senders' could meet."""
    c2 = Endpoint("C", "c0", queues=(0, 1))
    with pytest.raises(ConfigError, match=r"C:c0 receives on 2 queues sequence streams from A:a0, B:b1; .*seq=False"):
        Plan([Route(stream("a"), Endpoint("A", "a0", queues=(0, 1)), c2),
              Route(stream("b"), Endpoint("B", "b1", queues=(2, 3)), c2)])
    plan = Plan([Route(stream("a"), Endpoint("A", "a0", queues=(0, 1)), c2),
                 Route(stream("a2"), Endpoint("A", "a0", queues=(0, 1)), Endpoint("B", "b0", queues=(0, 1))),
                 Route(stream("b", seq=False), B_TX, c2)])
    assert stream_ids(plan, "a") == ["0", "2"] and stream_ids(plan, "a2") == ["1", "3"]
    assert [(s.name, s.id) for s in plan.sink_profile(c2).streams] == [("a", 0), ("a2", 1), ("b", 2)]


@pytest.mark.parametrize(("routes", "message"), [
    ([("s", A_TX, Endpoint("A", "a0", "ns-a0"))], "leaves and arrives at A:a0"),
    ([("s", A_TX, B_RX), ("t", Endpoint("A", "a0", "other"), C_RX)], "A:a0 is in two namespaces"),
    ([("s", A_TX, B_RX), ("t", B_RX, C_RX)], r"B:b0 both sends and receives on queue\(s\) \[0\]"),
    ([("s", A_TX, B_RX), ("s", B_TX, C_RX)], "'s' names two streams"),
    ([("s", Endpoint("A", "a0", queues=(0, 1)), B_RX)], "on 2 queue\\(s\\) and arrives at B:b0 on 1"),
])
def test_a_plan_that_cannot_run_is_refused_saying_why(routes, message):
    with pytest.raises(ConfigError, match=message):
        Plan([Route(stream(n), a, b) for n, a, b in routes])


def test_bad_endpoints_and_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="host 'A:B'"):
        Endpoint("A:B", "eth0")
    with pytest.raises(ConfigError, match="interface 'x/y'"):
        Endpoint("A", "x/y")
    with pytest.raises(ConfigError, match="on_failure 'retry': one of stop, continue"):
        ring_plan("retry")
    with pytest.raises(ConfigError, match="at least one route"):
        Plan([])
    with pytest.raises(ConfigError, match=r"stream 0 is a str, not an xsk.traffic.Stream"):
        Plan([Route("Ether()", A_TX, B_RX)])  # type: ignore[arg-type]


PLAN_TOML = """
on_failure = "continue"
[hosts.A]
interfaces = { a0 = "ns-a0" }
[hosts.B]
interfaces = { b0 = "ns-b0", b1 = "" }
[hosts.C]

[[stream]]
name = "a-b"
from = "A:a0"
to = "B:b0"
packet = "Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)"
rate = "1k"
count = 50

[[stream]]
name = "b-c"
from = "B:b1"
to = "C:c0"
packet = "Ether()/IP(dst='10.0.1.2')/UDP(dport=9000)"
"""


def test_a_plan_reads_from_toml_as_a_profile_with_from_and_to():
    plan = Plan.from_toml(PLAN_TOML, source="lab.toml")
    assert plan.on_failure == "continue"
    assert [(str(r.src), r.src.netns, str(r.dst), r.dst.netns) for r in plan.routes] == [
        ("A:a0", "ns-a0", "B:b0", "ns-b0"), ("B:b1", None, "C:c0", None)]
    assert plan.routes[0].stream.count == 50


def test_a_toml_plan_takes_ids_that_need_only_differ_per_sender_and_per_receiver():
    """a-b says id = 1, the index b-c has in the file: no clash, they meet nowhere; b-c, given
    none, gets 0. A bad id is one line naming the file and the stream."""
    plan = Plan.from_toml(PLAN_TOML.replace('name = "a-b"', 'name = "a-b"\nid = 1'), source="lab.toml")
    assert (plan.stream_id("a-b"), plan.stream_id("b-c")) == (1, 0)
    with pytest.raises(ConfigError, match=r"lab.toml: stream 0 \('a-b'\): id: a stream id 0..255, got 300"):
        Plan.from_toml(PLAN_TOML.replace('name = "a-b"', 'name = "a-b"\nid = 300'), source="lab.toml")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('from = "A:a0"\n', ""), r"lab.toml: stream 0 \('a-b'\): from: every stream of a plan"),
    (lambda t: t.replace('to = "C:c0"', 'to = "D:d0"'), r"stream 1 \('b-c'\): to: no host 'D' in \[hosts\]"),
    (lambda t: t.replace('to = "C:c0"', 'to = "C-c0"'), r"to: 'C-c0': give \"HOST:IFACE\""),
    (lambda t: t.replace('count = 50', 'count = 50\nspeed = 3'), r"stream 0 \('a-b'\): unknown key 'speed'"),
    (lambda t: t.replace("[hosts.C]", "[hosts.C]\nnics = 1"), r"hosts.C: unknown key 'nics'"),
    (lambda t: t + "\n[[stream]\n", "not a TOML plan"),
])
def test_a_toml_plan_mistake_names_the_file_the_stream_and_the_key(edit, message):
    with pytest.raises(ConfigError, match=message):
        Plan.from_toml(edit(PLAN_TOML), source="lab.toml")


def gen_results(streams):
    return {"per_stream": {n: {"ids": [i], "seq": True, "packets": p, "bytes": p * 60, "pps": 1000.0,
                               "asked_pps": 1000.0} for i, (n, p) in enumerate(streams)}}


def sink_results(streams):
    lat = {"min": 5.0, "mean": 9.0, "p50": 8.0, "p90": 10.0, "p99": 12.0, "p99.9": 13.0, "max": 14.0}
    return {"receive_mode": "poll", "flows": {},
            "per_stream": {str(i): {"name": n, "packets": p, "bytes": p * 60, "gaps": 0, "duplicates": 0,
                                    "reordered": 0, "latency_us": lat, "jitter_us": 1.0}
                           for i, (n, p) in enumerate(streams)}}


ONE_CLOCK = clock({h: {"boot_id": "b00t", "hostname": "vm"} for h in "ABC"})


def test_results_join_sent_on_one_host_with_received_on_another():
    plan = ring_plan()
    sent = {"A:a0": gen_results([("a-b", 100), ("a-b2", 100)]), "B:b1": gen_results([("b-c", 100)])}
    got = {"B:b0": sink_results([("a-b", 100), ("a-b2", 97)]), "C:c0": sink_results([("b-c", 100)])}
    out = join(plan, sent, got, {}, ONE_CLOCK)
    assert {n: (r["from"], r["to"], r["status"], r["sent"], r["received"], r["lost"]) for n, r in out.items()} == {
        "a-b": ("A:a0", "B:b0", "ok", 100, 100, 0), "a-b2": ("A:a0", "B:b0", "ok", 100, 97, 3),
        "b-c": ("B:b1", "C:c0", "ok", 100, 100, 0)}
    assert out["a-b"]["latency_us"]["p99"] == 12.0
    assert ONE_CLOCK["shared"] and "one CLOCK_REALTIME" in ONE_CLOCK["basis"]


def test_the_join_of_two_senders_into_one_interface_goes_by_the_plans_ids():
    """A's stream got id 0 and B's id 1 at C; the sink's own labels are not trusted (here: none,
    and a wrong one), and another sender's stream never counts as this one's."""
    plan = Plan([Route(stream("a1"), A_TX, C_RX), Route(stream("b1"), B_TX, C_RX)])
    sent = {"A:a0": {"per_stream": {"a1": {"ids": [0], "seq": True, "packets": 100, "bytes": 6000}}},
            "B:b1": {"per_stream": {"b1": {"ids": [1], "seq": True, "packets": 80, "bytes": 4800}}}}
    got = sink_results([("a1", 99), ("b1", 80)])
    got["per_stream"]["0"]["name"] = "b1"  # a label from elsewhere: the plan's ids decide
    out = join(plan, sent, {"C:c0": got}, {}, ONE_CLOCK)
    assert {n: (r["sent"], r["received"], r["lost"], r["duplicates"], r["reordered"]) for n, r in out.items()} == {
        "a1": (100, 99, 1, 0, 0), "b1": (80, 80, 0, 0, 0)}
    merged = merged_received(plan, {"C:c0": got})
    assert {k: v["name"] for k, v in merged["per_stream"].items()} == {"C:c0/0": "a1", "C:c0/1": "b1"}


def test_a_lost_host_leaves_its_streams_unknown_not_counted_as_lost():
    plan = ring_plan()
    sent = {"A:a0": gen_results([("a-b", 100), ("a-b2", 100)]), "B:b1": gen_results([("b-c", 100)])}
    got = {"B:b0": sink_results([("a-b", 100), ("a-b2", 100)])}
    lost = {"C": {"error": "gone", "streams": plan.carried_by("C")}}
    partial = join(plan, {"A:a0": sent["A:a0"]}, {**got, "C:c0": sink_results([("b-c", 40)])},
                   {"B": {"error": "gone"}}, ONE_CLOCK)
    assert (partial["b-c"]["sent"], partial["b-c"]["received"], partial["b-c"]["lost"]) == (None, 40, None)
    out = join(plan, sent, got, lost, ONE_CLOCK)
    assert out["b-c"] == {"from": "B:b1", "to": "C:c0", "name": "b-c", "status": "host lost", "sent": 100,
                          "received": None, "lost": None, "loss_pct": None, "lost_hosts": ["C"]}
    assert out["a-b"]["status"] == "ok" and out["a-b"]["lost"] == 0


def test_without_one_clock_no_one_way_latency_is_given():
    two = clock({"A": {"boot_id": "one", "hostname": "x"}, "B": {"boot_id": "two", "hostname": "y"}})
    assert not two["shared"] and two["basis"] == NOT_SHARED
    plan = Plan([Route(stream("a-b"), A_TX, B_RX)])
    out = join(plan, {"A:a0": gen_results([("a-b", 10)])}, {"B:b0": sink_results([("a-b", 10)])}, {}, two)
    assert out["a-b"]["latency_us"] is None and out["a-b"]["jitter_us"] is None
    assert "no offset measured" in out["a-b"]["latency_note"] and "no one-way latency" in out["a-b"]["latency_note"]


def test_the_merged_summaries_join_in_xsk_report_by_name(tmp_path):
    """One gen summary and one sink summary for the whole run: xsk report's join finds each stream
    once, exactly, though two sinks both used stream id 0."""
    plan = ring_plan()
    sent = {"A:a0": gen_results([("a-b", 100), ("a-b2", 100)]), "B:b1": gen_results([("b-c", 100)])}
    got = {"B:b0": sink_results([("a-b", 100), ("a-b2", 97)]), "C:c0": sink_results([("b-c", 99)])}
    gen, sink = merged_sent(plan, sent), merged_received(plan, got)
    assert sorted(sink["per_stream"]) == ["B:b0/0", "B:b0/1", "C:c0/0"]
    runs = [Run(tmp_path / "gen.jsonl", [gen]), Run(tmp_path / "sink.jsonl", [sink])]
    assert [r.kind for r in runs] == ["gen", "sink"]
    ((_, loss),) = joined(runs)
    assert {n: (s.sent, s.received, s.lost) for n, s in loss.items()} == {
        "a-b": (100, 100, 0), "a-b2": (100, 97, 3), "b-c": (100, 99, 1)}


def test_the_guides_toml_plan_reads():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "cluster.md").read_text()
    (block,) = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    plan = Plan.from_toml(block, source="docs/cluster.md")
    assert [(str(r.src), str(r.dst), r.src.netns) for r in plan.routes] == [("A:eth1", "B:eth1", None)]


def test_without_the_extra_a_run_says_how_to_install_it(monkeypatch):
    import sys

    from xsk.cluster import ClusterRun, LocalHosts
    from xsk.errors import UnsupportedError

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed: import fails
    for make in (lambda: ClusterRun(ring_plan(), "tcp://127.0.0.1:8786"), lambda: LocalHosts(["A"])):
        with pytest.raises(UnsupportedError, match=r"Dask distributed, which is not installed: .*xsk\[cluster\]"):
            make()


def test_a_python_plan_file_defines_plan(tmp_path):
    good = tmp_path / "lab.py"
    good.write_text("from xsk.cluster import Endpoint, Route\nfrom xsk.traffic import Stream\n"
                    "plan = [Route(Stream(\"Ether()/IP(dst='10.0.0.2')/UDP()\", name='s', count=5), "
                    "Endpoint('A', 'a0'), Endpoint('B', 'b0'))]\n")
    plan = Plan.load(good)
    assert [(r.name, str(r.src), str(r.dst)) for r in plan.routes] == [("s", "A:a0", "B:b0")]
    assert plan.source == str(good)
    toml = tmp_path / "lab.toml"
    toml.write_text(PLAN_TOML)
    assert [r.name for r in Plan.load(toml).routes] == ["a-b", "b-c"]
    for text, message in (("x = 1\n", "defines no `plan`"), ("plan = 3\n", "`plan` is a int"),
                          ("1 / 0\n", "the plan file raised ZeroDivisionError")):
        bad = tmp_path / "bad.py"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            Plan.load(bad)
    with pytest.raises(ConfigError, match="can't read the plan"):
        Plan.load(tmp_path / "missing.toml")


def test_an_agent_that_hears_nothing_for_its_lease_closes_its_traffic_by_itself():
    import time

    from xsk.cluster._agent import HostAgent

    class Traffic:
        closed = 0

        def __exit__(self, *exc: object) -> None:
            Traffic.closed += 1

    agent = HostAgent("A", lease=0.4)
    agent.generators["g"] = Traffic()  # type: ignore[assignment]
    agent.sinks["s"] = Traffic()  # type: ignore[assignment]
    for _ in range(4):  # renewed: kept
        time.sleep(0.2)
        assert agent.renew()
    assert Traffic.closed == 0 and agent.generators
    deadline = time.monotonic() + 5
    while agent.generators and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Traffic.closed == 2 and not agent.generators and not agent.sinks
    assert agent.expired and not agent.renew()  # the controller learns it came too late
    agent.close()
