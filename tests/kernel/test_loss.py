"""Loss as sent minus received, and streams controlled while they run, over veth.

Each test plants a fault whose true loss is known (a sink stopped early, frames the sink's XDP
filter leaves to the kernel's stack) and checks the joined figure against it, where the sink's
own gap count misses it; and pauses, resumes, re-rates and stops streams of a running Generator,
checking that every frame is counted once, in the state it was sent in, and arrived."""

from __future__ import annotations

import json
import time

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from xsk.traffic import Generator, Session, Sink, Stream, loss_per_stream

from .test_cli import finish, last_json, nothing_attached, start, wait_attached, xsk


def _until(predicate, timeout: float = 30.0, what: str = "") -> None:
    """Poll until ``predicate()`` (a deadline only against hanging, never a measurement)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.01)


def test_a_sink_stopped_early_shows_the_true_loss_where_its_gaps_show_none(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    voice = Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="voice", rate="4k", count=8_000)
    with Sink(b.ifname, netns=b.netns) as sink, Generator(a.ifname, netns=a.netns) as gen:
        gen.start(voice)
        _until(lambda: sink.stats()["packets"] >= 1_000, what="the sink to receive 1,000 frames")
        got = sink.stop()  # the fault: the sink stops while the generator goes on
        sent = gen.wait(timeout=60)
    v = loss_per_stream(sent, got)["voice"]
    assert v.received is not None and v.lost is not None
    assert sent["per_stream"]["voice"]["packets"] == 8_000
    assert v.received == got["per_stream"]["0"]["packets"] and 1_000 <= v.received < 8_000
    assert v.lost == 8_000 - v.received and v.loss_pct == round(100 * v.lost / 8_000, 4)
    # what the sink alone can say: no numbers missing between those that arrived
    assert v.gaps == got["per_stream"]["0"]["gaps"] == got["per_stream"]["0"]["lost"] == 0
    assert nothing_attached(a, b)


def test_unsequenced_frames_left_to_the_kernel_are_lost_by_their_flow_count(veth_pair):
    """Stream "raw" (no sequence header) alternates UDP ports 9000 and 9001; the sink's XDP
    filter takes port 9000 only, so exactly half of "raw" never reaches it. "whole" loses none."""
    a, b = veth_pair.a, veth_pair.b
    streams = [Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="whole", rate="10k", count=2_000),
               Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(sport=4000, dport=9000), name="raw", rate="10k",
                      count=2_000, seq=False, fields={"dst_port": "9000-9001"})]
    with Session(a.ifname, b.ifname, streams, tx_netns=a.netns, rx_netns=b.netns,
                 sink={"filter": "udp:9000"}) as run:
        run.start()
        out = run.wait(timeout=60)
    whole, raw = out["whole"], out["raw"]
    assert (whole.sent, whole.received, whole.lost, whole.counted_by) == (2_000, 2_000, 0, "sequence")
    assert (raw.sent, raw.received, raw.lost, raw.loss_pct, raw.counted_by) == (2_000, 1_000, 1_000, 50.0, "flow")
    assert run.sink.results is not None and run.sink.results["flows"]["raw"]["matched"] == \
        f"udp *:4000 > {b.ip}:9000-9001"
    assert nothing_attached(a, b)


def test_streams_paused_resumed_rerated_and_stopped_while_they_run_count_every_frame_in_its_state(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    streams = [Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="a", rate="5k"),
               Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9001), name="b", rate="5k")]
    with Session(a.ifname, b.ifname, streams, tx_netns=a.netns, rx_netns=b.netns) as run:
        run.start()
        gen = run.generator

        def sent(name: str) -> int:
            return int(gen.stats()["per_stream"][name]["packets"])

        _until(lambda: sent("a") >= 1_000, what="stream a to send 1,000")
        run.pause("a")
        mark = sent("b")
        _until(lambda: sent("b") >= mark + 1_000, what="stream b to go on while a is paused")
        run.set_rate("a", 10_000)  # taken at the resume
        run.resume("a")
        mark = sent("a")
        _until(lambda: sent("a") >= mark + 1_000, what="stream a to send again")
        run.stop_stream("b")
        mark = sent("a")
        _until(lambda: sent("a") >= mark + 1_000, what="stream a to go on after b stopped")
        live = run.stats()
        out = run.stop()
    assert [r["stream"] for r in live] == ["a", "b"] and live[1]["state"] == "stopped"
    assert gen.results is not None
    sa, sb = gen.results["per_stream"]["a"]["states"], gen.results["per_stream"]["b"]["states"]
    assert [(s["state"], s["pps"]) for s in sa] == [("running", 5_000.0), ("paused", None), ("paused", None),
                                                    ("running", 10_000.0)]
    assert [s["state"] for s in sb] == ["running", "stopped"]
    # paused and stopped: not one frame; every frame counted once, in its state, and arrived
    assert sa[1]["packets"] == 0 and sa[2]["packets"] == 0 and sb[1]["packets"] == 0
    assert sa[0]["packets"] >= 1_000 and sa[3]["packets"] >= 2_000
    for name, st in (("a", sa), ("b", sb)):
        assert sum(s["packets"] for s in st) == out[name].sent
        assert (out[name].received, out[name].lost, out[name].duplicates, out[name].gaps) == (out[name].sent, 0, 0, 0)
    assert nothing_attached(a, b)


def test_the_report_joins_a_gen_run_and_a_sink_run_that_stopped_early(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text("""
[[stream]]
name = "voice"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9000)"
rate = "10k"
count = 3000
""")
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "1000", "--json", "--profile", str(profile))
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile), "--json")
    assert gen.returncode == 0, gen.stderr
    out = finish(sink)[0]
    assert last_json(out)["per_stream"]["0"]["gaps"] == 0
    (tmp_path / "gen.jsonl").write_text(gen.stdout)
    (tmp_path / "sink.jsonl").write_text(out)
    r = xsk("report", str(tmp_path / "gen.jsonl"), str(tmp_path / "sink.jsonl"), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "Sent minus received" in page
    assert "<td>voice</td><td>3,000</td><td>1,000</td><td>2,000</td><td>66.67</td>" in page, page[:3000]
    assert json.loads(gen.stdout.strip().splitlines()[-1])["per_stream"]["voice"]["seq"] is True


def test_two_queues_apply_every_command_and_join_each_stream_over_both(veth_pair_factory):
    """A worker per queue: each applies the commands on its own, and the states and the join add
    the two queues' shares (ids i and i + 2) up exactly."""
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    streams = [Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="s", rate="4k"),
               Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9001), name="clock", rate="4k")]
    with Session(a.ifname, b.ifname, streams, tx_netns=a.netns, rx_netns=b.netns, tx_queues=[0, 1],
                 rx_queues=[0, 1]) as run:
        run.start()
        gen = run.generator

        def sent(name: str) -> int:
            return int(gen.stats()["per_stream"][name]["packets"])

        _until(lambda: sent("s") >= 1_000, what="stream s to send 1,000")
        run.pause("s")
        mark = sent("clock")
        _until(lambda: sent("clock") >= mark + 1_000, what="the clock stream to go on")
        run.resume("s")
        mark = sent("s")
        _until(lambda: sent("s") >= mark + 1_000, what="stream s to send again")
        out = run.stop()
    assert gen.results is not None
    states = gen.results["per_stream"]["s"]["states"]
    assert [s["state"] for s in states] == ["running", "paused", "running"] and states[1]["packets"] == 0
    assert sorted(gen.results["per_stream"]["s"]["ids"]) == [0, 2]
    for name in ("s", "clock"):
        assert out[name].sent == sum(st["packets"] for st in gen.results["per_stream"][name]["states"])
        assert (out[name].received, out[name].lost, out[name].gaps) == (out[name].sent, 0, 0)
    assert nothing_attached(a, b)


def test_one_live_view_of_both_sides_then_the_joined_results(veth_pair):
    import io

    from rich.console import Console

    a, b = veth_pair.a, veth_pair.b
    streams = [Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="voice", rate="2k", count=3_000),
               Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(sport=7, dport=9001), name="bulk", rate="10k",
                      count=15_000, seq=False)]
    screen = io.StringIO()
    with Session(a.ifname, b.ifname, streams, tx_netns=a.netns, rx_netns=b.netns) as run:
        run.start()
        out = run.live(refresh=0.2, timeout=60, console=Console(file=screen, force_terminal=True, width=120))
    shown = screen.getvalue()
    assert "voice" in shown and "bulk" in shown and "tx - rx" in shown and "done" in shown
    assert (out["voice"].sent, out["voice"].received, out["voice"].lost) == (3_000, 3_000, 0)
    assert (out["bulk"].sent, out["bulk"].received, out["bulk"].lost, out["bulk"].counted_by) == (
        15_000, 15_000, 0, "flow")
    assert nothing_attached(a, b)


def test_through_a_router_that_drops_one_port_the_flow_count_shows_exactly_that_loss(test_program):
    """The kernel forwards a -> b in a router namespace (new MACs, TTL and IP checksum on every
    frame); an XDP program on the router's ingress from a drops UDP port 9001: the planted
    fault. "raw" (no sequence header) alternates ports 9000 and 9001, so exactly half of it is
    lost; "seq" (port 9000, sequence-numbered) loses none. The sink has no filter: it takes all."""
    import subprocess

    from xsk import CustomProgram
    from xsk.testing import RoutedPair

    with RoutedPair(forwarding=True) as net:
        a, b = net.a, net.b
        # the router knows b at once (no frame queued behind an ARP request b's socket would take)
        for end, via in ((b, net.rb), (a, net.ra)):
            subprocess.run(["ip", "-n", net.router_netns, "neigh", "replace", str(end.ip), "lladdr", end.mac, "dev",
                            via.ifname], check=True)
        # the fault's program and the sink's in place of the pass-through ones the routed ends carry
        for ns, ifname in ((net.router_netns, net.ra.ifname), (b.netns, b.ifname)):
            subprocess.run(["ip", "-n", ns, "link", "set", "dev", ifname, "xdp", "off"], check=True)
        streams = [Stream(Ether(dst=net.ra.mac) / IP(src=a.ip, dst=b.ip) / UDP(dport=9000), name="seq", rate="5k",
                          count=2_000),
                   Stream(Ether(dst=net.ra.mac) / IP(src=a.ip, dst=b.ip) / UDP(sport=4000, dport=9000), name="raw",
                          rate="5k", count=2_000, seq=False, fields={"dst_port": "9000-9001"})]
        with CustomProgram(test_program("xdp_drop_port"), net.ra.ifname, netns=net.router_netns, xskmap=None), \
                Session(a.ifname, b.ifname, streams, tx_netns=a.netns, rx_netns=b.netns) as run:
            run.start()
            out = run.wait(timeout=60)
        seq, raw = out["seq"], out["raw"]
        assert (seq.sent, seq.received, seq.lost, seq.gaps) == (2_000, 2_000, 0, 0)
        assert (raw.sent, raw.received, raw.lost, raw.counted_by) == (2_000, 1_000, 1_000, "flow")
        assert nothing_attached(b, net.ra), "the sink's and the fault's programs are gone (a keeps the pair's own)"
