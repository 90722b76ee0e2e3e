"""Several ports in one run, as pure logic: which port each stream leaves, the queues each port's
generator and sink get (never one queue for both: the kernel would refuse the second with EBUSY),
stream ids unique over every port, a worker that sends only its port's streams, and the join
that says per stream where it left and arrived and per port what was sent and received.
tests/kernel/test_ports.py runs them over veth."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk.errors import ConfigError
from xsk.traffic import Port, Profile, Stream, loss_per_stream
from xsk.traffic._generator import merge_streams
from xsk.traffic._join import port_totals, table
from xsk.traffic._mix import Mix, resolve
from xsk.traffic._ports import as_ports, check_ids, plan_queues, stream_ports
from xsk.traffic._session import live_rows

MS = 1_000_000


def _stream(name: str, port: str | None = None, **kw) -> Stream:
    return Stream(Ether() / IP(dst="192.0.2.2") / UDP(dport=9000), name=name, port=port, **kw)


PORTS = {"a": Port("veth0", netns="ns-a"), "b": Port("veth1", netns="ns-b")}


def test_each_stream_leaves_the_port_it_names_by_name_or_interface_and_else_the_first():
    profile = Profile([_stream("x"), _stream("y", "b"), _stream("z", "veth1"), _stream("w", "a")])
    assert stream_ports(profile, PORTS) == ["a", "b", "b", "a"]


def test_a_port_nobody_has_is_refused_naming_the_stream_and_the_ports():
    profile = Profile([_stream("x"), _stream("y", "c")], source="p.toml")
    with pytest.raises(ConfigError) as e:
        stream_ports(profile, PORTS)
    assert str(e.value) == ("p.toml: stream 1 ('y'): port: 'c': no such port "
                            "(ports: a (veth0 in ns-a), b (veth1 in ns-b))")
    two = {"a": Port("veth0", netns="ns-a"), "b": Port("veth0", netns="ns-b")}
    with pytest.raises(ConfigError, match="two ports have that interface, name the port"):
        stream_ports(Profile([_stream("x", "veth0")]), two)


def test_a_toml_stream_names_its_port_and_a_bad_one_is_refused():
    profile = Profile.from_toml("""
[[stream]]
name = "back"
packet = "Ether()/IP(dst='192.0.2.1')/UDP(dport=9000)"
port = "b"
""")
    assert profile.streams[0].port == "b"
    with pytest.raises(ConfigError, match=r"stream 0 \('x'\): port: must be non-empty text, got 5"):
        Profile([_stream("x", 5)])  # type: ignore[arg-type]


def test_ports_are_checked_as_given():
    assert as_ports({"a": "veth0"}) == {"a": Port("veth0")}
    for bad, why in (({}, "a mapping of port names"), ({"": "veth0"}, "port names are non-empty text"),
                     ({"a": 5}, "a Port or an interface name"),
                     ({"a": Port("v", tx_queues=[0, 0])}, r"tx_queues: \[0, 0\] names a queue twice"),
                     ({"a": Port("v", rx_queues=[-1])}, "rx_queues: queue numbers 0..1023")):
        with pytest.raises(ConfigError, match=why):
            as_ports(bad)  # type: ignore[arg-type]


def test_one_direction_over_single_queue_pairs_sends_from_queue_0_and_receives_on_the_others():
    ports = {"a1": Port("va1"), "b1": Port("vb1"), "a2": Port("va2"), "b2": Port("vb2")}
    plan = plan_queues(ports, {"a1", "a2"}, dict.fromkeys(ports, 1))
    assert {n: (p.tx_queues, p.rx_queues) for n, p in plan.items()} == {
        "a1": ([0], []), "b1": ([], [0]), "a2": ([0], []), "b2": ([], [0])}


def test_both_directions_on_a_two_queue_pair_alternate_so_each_receives_where_its_peer_sends():
    plan = plan_queues(PORTS, {"a", "b"}, {"a": 2, "b": 2})
    assert (plan["a"].tx_queues, plan["a"].rx_queues) == ([0], [1])
    assert (plan["b"].tx_queues, plan["b"].rx_queues) == ([1], [0])
    # two pairs listed end by end: a1 b1 a2 b2
    four = {n: Port(f"v{n}") for n in ("a1", "b1", "a2", "b2")}
    plan = plan_queues(four, set(four), dict.fromkeys(four, 2))
    assert [plan[n].tx_queues for n in four] == [[0], [1], [0], [1]]
    assert [plan[n].rx_queues for n in four] == [[1], [0], [1], [0]]


def test_queues_given_are_kept_and_one_queue_for_both_sides_is_refused_before_the_kernel_says_ebusy():
    ports = {"a": Port("veth0", tx_queues=[1], rx_queues=[0]), "b": Port("veth1", tx_queues=[0], rx_queues=[1])}
    plan = plan_queues(ports, {"a", "b"}, {"a": 2, "b": 2})
    assert (plan["a"].tx_queues, plan["b"].rx_queues) == ([1], [1])
    with pytest.raises(ConfigError) as e:
        plan_queues({"a": Port("veth0", rx_queues=[0]), "b": Port("veth1")}, {"a"}, {"a": 1, "b": 1})
    assert "would send from and receive on queue 0" in str(e.value) and "make the pair with two queues" in str(e.value)
    assert "--" not in str(e.value)
    with pytest.raises(ConfigError, match=r"port 'a' \(veth0\): tx_queues \[3\]: the interface has 2 queues"):
        plan_queues({"a": Port("veth0", tx_queues=[3])}, {"a"}, {"a": 2})


def test_every_port_sending_from_its_only_queue_leaves_nobody_to_receive_and_says_so():
    with pytest.raises(ConfigError, match="no port can receive: every port sends") as e:
        plan_queues(PORTS, {"a", "b"}, {"a": 1, "b": 1})
    assert "a (veth0 in ns-a: 1 queue)" in str(e.value)


def test_stream_ids_are_counted_over_every_port():
    check_ids(128, {"a": [0, 1], "b": [0]})
    with pytest.raises(ConfigError) as e:
        check_ids(129, {"a": [0, 1], "b": [0]})
    assert str(e.value) == ("streams with ids up to 128 sent from 2 queues need 258 stream ids; at most 256 (counted "
                            "over every port: each stream has its own ids): fewer streams, lower ids or fewer queues")


def test_a_worker_sends_only_its_ports_streams_with_the_ids_of_the_whole_run():
    plans = resolve(Profile([_stream("x", rate=1000), _stream("y", rate=1000), _stream("z", rate=1000)]),
                    src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        mix = Mix(plans, umem, 16, q=1, nqueues=2, active=[1])  # port b's second queue sends "y" only
        b = umem.take(0)
        for now in range(0, 50 * MS, MS):
            n = mix.due(now)
            if n:
                b = umem.take(min(n, 16), into=b)
                mix.fill(b, now)
                assert set(mix.last_streams(len(b)).tolist()) == {1}
                b.release()
        x, y, z = mix.results()
    assert (x["active"], z["active"], x["packets"], z["packets"]) == (False, False, 0, 0)
    assert "active" not in y and y["packets"] > 0 and y["id"] == 1 + 3 * 1
    merged = merge_streams([{"streams": [x, {**y, "pps": 500.0}, z]}])  # the send loop adds the rate
    assert list(merged) == ["y"] and merged["y"]["ids"] == [4]


def _sent() -> dict:
    return {"per_stream": {"ab": {"ids": [0], "packets": 1000, "bytes": 60000, "port": "a"},
                           "ba": {"ids": [1], "packets": 1000, "bytes": 60000, "port": "b"}},
            "per_port": {"a": {"ifname": "va", "packets": 1000, "bytes": 60000},
                         "b": {"ifname": "vb", "packets": 1000, "bytes": 60000}}}


def _got() -> dict:
    def stream(name: str, n: int, port: str) -> dict:
        return {"name": name, "packets": n, "bytes": 60 * n, "duplicates": 0, "reordered": 0, "gaps": 0,
                "ports": {port: n}}

    return {"per_stream": {"0": stream("ab", 1000, "b"), "1": stream("ba", 990, "a")},
            "per_port": {"a": {"ifname": "va", "packets": 990, "bytes": 59400},
                         "b": {"ifname": "vb", "packets": 1000, "bytes": 60000}}}


def test_the_join_says_per_stream_the_port_it_left_and_those_it_arrived_on_and_per_port_both_sides():
    out = loss_per_stream(_sent(), _got())
    assert (out["ab"].tx_port, out["ab"].rx_ports, out["ab"].lost) == ("a", {"b": 1000}, 0)
    assert (out["ba"].tx_port, out["ba"].rx_ports, out["ba"].lost) == ("b", {"a": 990}, 10)
    assert port_totals(_sent(), _got()) == {
        "a": {"ifname": "va", "tx_packets": 1000, "tx_bytes": 60000, "rx_packets": 990, "rx_bytes": 59400},
        "b": {"ifname": "vb", "tx_packets": 1000, "tx_bytes": 60000, "rx_packets": 1000, "rx_bytes": 60000}}
    lines = table(out).splitlines()
    assert lines[0].split()[:5] == ["stream", "tx", "port", "rx", "port"]
    assert lines[2].split()[:6] == ["ba", "b", "a", "1,000", "990", "10"]


def test_the_live_rows_name_each_streams_port():
    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    plans = resolve(Profile([Stream(pkt, name="ab"), Stream(pkt, name="ba")]), src_mac="02:00:00:00:00:0a")
    sent = {"per_stream": {"ab": {"packets": 10}, "ba": {"packets": 20}}}
    got = {"per_stream": {"0": 10, "1": 15}}
    rows = live_rows(plans, 1, sent, got, ["a", "b"])
    assert [(r["stream"], r["port"], r["tx"], r["rx"], r["missing"]) for r in rows] == [
        ("ab", "a", 10, 10, 0), ("ba", "b", 20, 15, 5)]


def test_the_command_lines_ports_are_read_strictly():
    from xsk.cli.run import parse_port

    assert parse_port("a=veth0") == ("a", Port("veth0"))
    assert parse_port("b=veth1@ns-b,dst=02:00:00:00:00:0a,tx=1,rx=0") == (
        "b", Port("veth1", netns="ns-b", tx_queues=[1], rx_queues=[0], dst_mac="02:00:00:00:00:0a"))
    assert parse_port("c=v@n,tx=0-1,rx=none") == ("c", Port("v", netns="n", tx_queues=[0, 1], rx_queues=[]))
    for bad, why in (("veth0", "expected NAME=IFACE"), ("a=", "expected NAME=IFACE"),
                     ("a=v,foo=1", "'foo=1': expected dst=MAC"), ("a=v,tx=0,tx=1", "each once"),
                     ("a=v,rx=x", "rx=x: a queue or a range")):
        with pytest.raises(ConfigError, match=why):
            parse_port(bad)


def test_the_report_adds_each_ports_totals_over_the_gen_and_sink_runs():
    from pathlib import Path

    from xsk.traffic._report import Run, ports_joined

    sent = _sent()
    for s in sent["per_stream"].values():
        s["asked_pps"] = None  # how the report tells a gen run
    got = {**_got(), "receive_mode": "poll"}
    runs = [Run(Path("gen.jsonl"), [sent]), Run(Path("sink.jsonl"), [got])]
    assert ports_joined(runs) == port_totals(_sent(), _got())
    assert ports_joined([Run(Path("sink.jsonl"), [{"per_stream": {}, "receive_mode": "poll"}])]) == {}


def test_the_csv_rows_name_the_port_a_stream_left_and_those_it_arrived_on():
    from xsk.traffic._csv import rows

    sent = _sent()
    for s in sent["per_stream"].values():
        s["asked_pps"] = None
    assert [(r["side"], r["stream"], r["port"]) for r in rows(sent)] == [("gen", "ab", "a"), ("gen", "ba", "b")]
    got = _got()
    for s in got["per_stream"].values():
        s.update(lost=0, too_late=0, latency_us={}, jitter_us=None)
    assert [(r["side"], r["name"], r["port"]) for r in rows(got)] == [("sink", "ab", "b"), ("sink", "ba", "a")]


def test_the_live_table_has_a_port_column_in_a_run_over_several_ports():
    from rich.console import Console

    from xsk.traffic._session import render

    rows = [{"stream": "ab", "port": "a", "state": "running", "tx": 10, "rx": 9, "missing": 1, "p50_us": 5.0,
             "p99_us": 9.0}]
    console = Console(record=True, width=120)
    console.print(render(rows, "1.0 s"))
    lines = console.export_text().splitlines()
    head = next(line for line in lines if "stream" in line)
    row = next(line for line in lines if " ab " in line)
    assert head.split("┃")[2].strip() == "port" and row.split("│")[2].strip() == "a"


def test_streams_naming_ports_in_a_one_interface_run_are_said_to_all_leave_it():
    from xsk.traffic._ports import one_port_warning

    plans = resolve(Profile([_stream("x", "a"), _stream("y"), _stream("z", "b")]), src_mac="02:00:00:00:00:0a")
    assert one_port_warning(plans, "veth0") == (
        "streams 'x', 'z' name ports (a, b), but this run has one interface: they all leave veth0; a Session over "
        "several ports sends each from its own")
    assert one_port_warning(resolve(Profile([_stream("y")]), src_mac="02:00:00:00:00:0a"), "veth0") is None


def test_a_chain_stays_on_one_port():
    from xsk.traffic._generator import _check_chains_stay_on_their_port

    profile = Profile([Stream("Ether()/IP()/UDP()", name="a", count=10, next="b", port="p"),
                       Stream("Ether()/IP()/UDP()", name="b", count=10, port="q")])
    with pytest.raises(ConfigError, match="a chain runs on one port"):
        _check_chains_stay_on_their_port(profile, ["p", "q"])
    _check_chains_stay_on_their_port(profile, ["p", "p"])
