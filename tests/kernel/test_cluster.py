"""One run across three hosts on this machine: a Dask worker per host (xsk.cluster.LocalHosts), each
host's interfaces in its own namespaces, veth pairs between them in a ring A -> B -> C -> A.

Exact per-stream counts joined across hosts, the clock the results say they share, the JSON-lines
files xsk report joins; and a host killed mid-run: reported with the streams it carried, the others
finish (on_failure="continue"), every surviving host's ledgers verified, nothing left attached on
any interface. Needs the cluster extra (Dask distributed); skipped without it, saying so.
"""

from __future__ import annotations

import secrets
import subprocess
import time

import pytest

from tests.kernel.traffic import ledger_whole, xdp_attached
from xsk.testing import VethPair
from xsk.traffic import Stream

pytest.importorskip("distributed", reason="the cluster extra (Dask distributed) is not installed: "
                                          "pip install 'xsk[cluster]'")

from xsk.cluster import ClusterRun, Endpoint, LocalHosts, Plan, Route

pytestmark = pytest.mark.kernel


@pytest.fixture
def ring():
    """Three veth pairs: A's a-b end to B, B's b-c end to C, C's c-a end to A (each end its own namespace)."""
    with VethPair(ip_a="10.71.1.1/24", ip_b="10.71.1.2/24") as ab, \
            VethPair(ip_a="10.71.2.1/24", ip_b="10.71.2.2/24") as bc, \
            VethPair(ip_a="10.71.3.1/24", ip_b="10.71.3.2/24") as ca:
        yield ab, bc, ca


def ring_plan(ring, count: int, rate: str, on_failure: str) -> Plan:
    routes = []
    for name, pair, (src, dst) in zip(("a-b", "b-c", "c-a"), ring, (("A", "B"), ("B", "C"), ("C", "A")),
                                      strict=True):
        packet = f"Ether()/IP(dst='{pair.b.ip}')/UDP(sport=1000, dport=9000)"
        routes.append(Route(Stream(packet, name=name, rate=rate, count=count),
                            Endpoint(src, pair.a.ifname, pair.a.netns), Endpoint(dst, pair.b.ifname, pair.b.netns)))
    return Plan(routes, on_failure=on_failure)



def test_a_run_across_three_hosts_counts_every_stream_exactly(ring, tmp_path):
    from xsk.traffic._report import joined, load

    plan = ring_plan(ring, count=3000, rate="3k", on_failure="stop")
    with LocalHosts(["A", "B", "C"]) as hosts, ClusterRun(plan, hosts.address) as run:
        run.start()
        live = run.stats()
        assert set(live["streams"]) == {"a-b", "b-c", "c-a"} and live["lost_hosts"] == {}
        out = run.wait(timeout=120)
        gen_path, sink_path = run.write_jsonl(tmp_path)
    assert out["lost_hosts"] == {}
    for name, s in out["streams"].items():
        assert (s["status"], s["sent"], s["received"], s["lost"], s["duplicates"]) == ("ok", 3000, 3000, 0, 0), name
        assert s["latency_us"]["p50"] is not None  # one machine, one clock: one-way latency is given
    assert out["streams"]["b-c"]["from"] == f"B:{ring[1].a.ifname}"
    assert out["clock"]["shared"] and set(out["clock"]["hosts"]) == {"A", "B", "C"}
    for summary in [*out["senders"].values(), *out["receivers"].values()]:
        ledger_whole(summary)
        assert summary["accounting"]["pool"] == summary["accounting"]["total"]
    ((_, loss),) = joined([load(gen_path), load(sink_path)])
    assert {n: (s.sent, s.received, s.lost) for n, s in loss.items()} == {
        n: (3000, 3000, 0) for n in ("a-b", "b-c", "c-a")}
    assert xdp_attached(ring) == []


def test_the_workers_are_read_from_the_scheduler_not_from_the_clients_cache():
    """``Client.scheduler_info()`` returns the client's cache, which its periodic refresh rewrites
    without the workers: with a 1 ms refresh, 1,152 of 3,000 reads saw no worker here, and a
    ClusterRun that read it reported every live host lost (a CI run on Debian 13).
    ``worker_addresses`` asks the scheduler, so every read finds the two workers."""
    import dask
    from distributed import Client

    from xsk.cluster._engine import worker_addresses

    with dask.config.set({"distributed.client.scheduler-info-interval": "1ms"}), LocalHosts(["A", "B"]) as hosts, \
            Client(scheduler_file=hosts.address, set_as_default=False) as client:
        seen = [len(worker_addresses(client)) for _ in range(3000)]
    assert seen.count(2) == len(seen), f"{len(seen) - seen.count(2)} of {len(seen)} reads missed a worker"


def test_a_host_killed_mid_run_is_reported_with_its_streams_and_the_rest_finishes(ring):
    plan = ring_plan(ring, count=30_000, rate="2k", on_failure="continue")
    with LocalHosts(["A", "B", "C"]) as hosts, ClusterRun(plan, hosts.address) as run:
        run.start()
        hosts.kill("C")
        out = run.wait(timeout=120)
    assert set(out["lost_hosts"]) == {"C"}, out["lost_hosts"]
    assert out["lost_hosts"]["C"]["streams"] == ["b-c", "c-a"]
    assert "left the cluster" in out["lost_hosts"]["C"]["error"] or "lost" in out["lost_hosts"]["C"]["error"]
    a_b = out["streams"]["a-b"]
    assert (a_b["status"], a_b["sent"], a_b["received"], a_b["lost"]) == ("ok", 30_000, 30_000, 0)
    for name in ("b-c", "c-a"):
        s = out["streams"][name]
        assert (s["status"], s["lost_hosts"], s["lost"]) == ("host lost", ["C"], None)  # unknown, not lost
    b_c, c_a = out["streams"]["b-c"], out["streams"]["c-a"]
    assert (b_c["sent"], b_c["received"]) == (30_000, None)  # B survived and sent all of it; C's count died with C
    assert c_a["sent"] is None and 0 < c_a["received"] < 30_000  # A counted what C sent before it died
    assert set(out["senders"]) == {f"A:{ring[0].a.ifname}", f"B:{ring[1].a.ifname}"}
    for summary in [*out["senders"].values(), *out["receivers"].values()]:
        ledger_whole(summary)
    # C's traffic workers find their parent gone and close their sockets on their own
    deadline = time.monotonic() + 20
    while xdp_attached(ring) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert xdp_attached(ring) == []


def test_a_host_killed_with_on_failure_stop_stops_the_others_cleanly(ring):
    """The run stops on every host as soon as C is seen gone: A's stream a-b ends early, and what
    it sent all arrived (the frames in flight are let in before B's sink stops)."""
    plan = ring_plan(ring, count=60_000, rate="2k", on_failure="stop")
    with LocalHosts(["A", "B", "C"]) as hosts, ClusterRun(plan, hosts.address) as run:
        run.start()
        hosts.kill("C")
        out = run.wait(timeout=120)
    assert set(out["lost_hosts"]) == {"C"} and out["on_failure"] == "stop"
    a_b = out["streams"]["a-b"]
    assert a_b["status"] == "ok" and 0 < a_b["sent"] < 60_000
    assert (a_b["received"], a_b["lost"]) == (a_b["sent"], 0)
    for summary in [*out["senders"].values(), *out["receivers"].values()]:
        ledger_whole(summary)
    deadline = time.monotonic() + 20
    while xdp_attached(ring) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert xdp_attached(ring) == []


_CONTROLLER = """
import os, sys
from xsk.cluster import ClusterRun, Endpoint, Plan, Route
from xsk.traffic import Stream
sched, ns_a, if_a, ns_b, if_b, dst = sys.argv[1:]
plan = Plan([Route(Stream(f"Ether()/IP(dst='{dst}')/UDP(dport=9000)", name="a-b", rate="1k"),
                   Endpoint("A", if_a, ns_a), Endpoint("B", if_b, ns_b))])
run = ClusterRun(plan, sched, lease=5).start()
print("started", flush=True)
os._exit(0)  # gone without stop() or close(): the hosts must clean up by themselves
"""


def test_a_controller_that_vanishes_leaves_nothing_attached_on_the_hosts(ring):
    """A vanished controller's hosts end its traffic (an unbounded stream, a sink without a count):
    the engine drops its actors, or their lease (5 s here) runs out, whichever comes first, and
    nothing stays attached on any interface. (On Debian 13 the engine once kept one for over 60 s.)"""
    import sys

    ab = ring[0]
    with LocalHosts(["A", "B"]) as hosts:
        done = subprocess.run([sys.executable, "-c", _CONTROLLER, hosts.address, ab.a.netns, ab.a.ifname,
                               ab.b.netns, ab.b.ifname, ab.b.ip], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "started" in done.stdout, done.stderr
        began = time.monotonic()
        while xdp_attached(ring) and time.monotonic() < began + 180:
            time.sleep(0.5)
        print(f"detached after {time.monotonic() - began:.1f} s")
        assert xdp_attached(ring) == [], f"still attached after {time.monotonic() - began:.0f} s"


def test_a_run_through_a_router_namespace_between_two_hosts():
    """A fabric between the hosts: A's frames go to the router's MAC (written in the stream's packet,
    so the generator does not put the receiver's there), the router's kernel forwards them to B,
    whose sink takes UDP port 9000 only (ARP and the rest stay with B's kernel)."""
    from xsk.testing import RoutedPair

    with RoutedPair(forwarding=True) as net:
        net.b.close_tools()  # B's sink attaches its own program in place of the harness's pass one
        subprocess.run(["ip", "-n", net.router_netns, "neigh", "replace", str(net.b.ip), "lladdr", net.b.mac, "dev",
                        net.rb.ifname], check=True)
        src, dst = Endpoint("A", net.a.ifname, net.a.netns), Endpoint("B", net.b.ifname, net.b.netns)
        plan = Plan([Route(Stream(f"Ether(dst='{net.ra.mac}')/IP(dst='{net.b.ip}')/UDP(sport={sport}, dport=9000)",
                                  name=name, rate="2k", count=4000), src, dst)
                     for sport, name in ((1000, "voice"), (1001, "bulk"))])
        with LocalHosts(["A", "B"]) as hosts, ClusterRun(plan, hosts.address, sink={"filter": "udp:9000"}) as run:
            run.start()
            out = run.wait(timeout=120)
    for name in ("voice", "bulk"):
        s = out["streams"][name]
        assert (s["status"], s["sent"], s["received"], s["lost"]) == ("ok", 4000, 4000, 0), name


def test_a_host_that_cannot_start_its_part_fails_the_run_with_its_own_error(ring):
    """B has no such interface: the run's start raises B's error as it is (not a lost host, not an
    error of the clean-up after it), and A's sink, started already, is stopped again."""
    from xsk.errors import XskError

    ab = ring[0]
    plan = Plan([Route(Stream(f"Ether()/IP(dst='{ab.a.ip}')/UDP(dport=9000)", name="b-a", rate="1k", count=100),
                       Endpoint("B", "xsknosuch0", ab.b.netns), Endpoint("A", ab.a.ifname, ab.a.netns))])
    with LocalHosts(["A", "B"]) as hosts:
        with pytest.raises(XskError, match="xsknosuch0") as caught, ClusterRun(plan, hosts.address) as run:
            run.start()
        assert "lost" not in str(caught.value) and not run.lost
    assert xdp_attached(ring) == []


@pytest.fixture
def star():
    """A's and B's interfaces and C's one interface, each a veth end in its own namespace, whose
    peers are ports of one bridge in a namespace of its own (C's MAC pinned to C's port, so
    nothing is flooded back to the senders); the bridge namespace is removed whatever happens,
    and with it every peer (and so every pair)."""
    from xsk import netns
    from xsk.testing._veth import NS_PREFIX, sysctl

    with VethPair(ip_a="10.72.0.1/24", ip_b=None, mac_a="02:00:00:00:72:0a", mac_b="02:00:00:00:72:1a") as a, \
            VethPair(ip_a="10.72.0.2/24", ip_b=None, mac_a="02:00:00:00:72:0b", mac_b="02:00:00:00:72:1b") as b, \
            VethPair(ip_a="10.72.0.3/24", ip_b=None, mac_a="02:00:00:00:72:0c", mac_b="02:00:00:00:72:1c") as c:
        bridge = f"{NS_PREFIX}{secrets.token_hex(4)}-br"
        subprocess.run(["ip", "netns", "add", bridge], check=True)
        try:
            with netns.entered(bridge):
                sysctl("net/ipv6/conf/all/disable_ipv6", "1")
                sysctl("net/ipv6/conf/default/disable_ipv6", "1")
            subprocess.run(["ip", "-n", bridge, "link", "add", "br0", "type", "bridge"], check=True)
            subprocess.run(["ip", "-n", bridge, "link", "set", "br0", "up"], check=True)
            for pair in (a, b, c):
                subprocess.run(["ip", "-n", pair.b.netns, "link", "set", pair.b.ifname, "netns", bridge], check=True)
                subprocess.run(["ip", "-n", bridge, "link", "set", pair.b.ifname, "master", "br0", "up"], check=True)
            subprocess.run(["bridge", "-n", bridge, "fdb", "replace", c.a.mac, "dev", c.b.ifname, "master", "static"],
                           check=True)
            yield a, b, c
        finally:
            subprocess.run(["ip", "netns", "del", bridge], check=False)


def test_two_hosts_send_sequence_streams_into_one_interface_each_counted_exactly(star):
    """A and B each send C's one interface a sequence stream (the plan gives them ids 0 and 1):
    each stream's count is exact, nothing lost, duplicated or reordered, and C's sink names
    each id after its stream."""
    a, b, c = star
    rx = Endpoint("C", c.a.ifname, c.a.netns)
    plan = Plan([Route(Stream(f"Ether()/IP(dst='{c.a.ip}')/UDP(sport={sport}, dport=9000)", name=name, rate="2k",
                              count=3000), Endpoint(host, pair.a.ifname, pair.a.netns), rx)
                 for name, host, pair, sport in (("from-a", "A", a, 1000), ("from-b", "B", b, 1001))])
    assert [plan.stream_id(n) for n in ("from-a", "from-b")] == [0, 1]
    with LocalHosts(["A", "B", "C"]) as hosts, ClusterRun(plan, hosts.address, sink={"filter": "udp:9000"}) as run:
        run.start()
        out = run.wait(timeout=120)
    assert out["lost_hosts"] == {}
    for name in ("from-a", "from-b"):
        s = out["streams"][name]
        assert (s["status"], s["sent"], s["received"], s["lost"], s["duplicates"], s["reordered"], s["extra"]) == (
            "ok", 3000, 3000, 0, 0, 0, 0), name
    sink = out["receivers"][str(rx)]
    assert {k: (v["name"], v["packets"]) for k, v in sink["per_stream"].items()} == {
        "0": ("from-a", 3000), "1": ("from-b", 3000)}
    for summary in [*out["senders"].values(), sink]:
        ledger_whole(summary)
    assert xdp_attached(star) == []


def test_every_host_clock_is_measured_and_every_sender_starts_at_one_instant(ring):
    """Each host's offset to the controller is measured through the engine (at start and end) with
    a bound: on one machine the true offset is 0, and it lies within that bound. The kernel's
    clock discipline is read (adjtimex). Every sender's first frame is at or after start_at, the
    spread of the three first frames is reported, and the latency is exact (one kernel)."""
    plan = ring_plan(ring, count=2000, rate="2k", on_failure="stop")
    with LocalHosts(["A", "B", "C"]) as hosts, ClusterRun(plan, hosts.address) as run:
        run.start()
        out = run.wait(timeout=120)
    assert out["lost_hosts"] == {}
    for h, c in out["clock"]["hosts"].items():
        for when in ("start", "end"):
            m = c[when]
            assert m["samples"] >= 8 and m["bound_us"] > 0, (h, when, m)
            assert abs(m["offset_us"]) <= m["bound_us"] + 0.1, (h, when, m)  # one clock: 0 is within the bound
        assert isinstance(c["synced"], bool) and c["esterror_us"] >= 0 and c["maxerror_us"] >= 0
    start = out["start"]
    assert start["margin_s"] > 0
    assert set(start["senders"]) == {f"{s}:{p.a.ifname}" for s, p in zip("ABC", ring, strict=True)}
    for key, s in start["senders"].items():
        assert s["first_frame_ns"] >= start["at_ns"], key  # no frame left before the instant
        assert s["after_start_us"] >= 0 and s["bound_us"] == 0, key  # our kernel: exact
    afters = [s["after_start_us"] for s in start["senders"].values()]
    assert out["start_skew_us"] == start["skew_us"] == round(max(afters) - min(afters), 1)
    for name, s in out["streams"].items():
        assert (s["sent"], s["received"], s["lost"]) == (2000, 2000, 0), name
        assert s["latency_us"]["p50"] is not None
    print("offsets (µs):", {h: (c["start"]["offset_us"], c["start"]["bound_us"], c["end"]["offset_us"],
                                c["end"]["bound_us"]) for h, c in out["clock"]["hosts"].items()},
          "start:", {k: s["after_start_us"] for k, s in start["senders"].items()}, "skew µs:", out["start_skew_us"],
          "margin s:", start["margin_s"], "slack s:", start["slack_s"])
