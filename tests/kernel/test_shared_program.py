"""One process per queue: processes share the redirect program of an interface.

The program is attached by a bpf_link; every process using it holds the link, so it stays
while one of them lives and goes when the last one exits, SIGKILL included. Filters are per
queue. A queue another process holds is refused with that process named.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import xsk
from xsk import netns
from xsk._program import queue_owner

from .test_cli import last_json
from .traffic import Receiver, send_seq, template

CLI = [sys.executable, "-m", "xsk.cli"]


def _attached(end) -> bool:
    shown = subprocess.run(["ip", "-n", end.netns, "-o", "link", "show", "dev", end.ifname],
                           capture_output=True, text=True, check=True).stdout
    return "prog/xdp" in shown


def _sink(end, queue: int, *extra: str) -> subprocess.Popen:
    """An `xsk sink` process on one queue (UDP only: the kernels' own ARP stays out of its
    counts), returned once its socket is bound (it recorded itself
    as the queue's owner in the redirect program's configuration, after binding)."""
    proc = subprocess.Popen([*CLI, "sink", end.ifname, "--netns", end.netns, "--queue", str(queue), "--json",
                             "--filter", "udp", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with netns.entered(end.netns):
            if queue_owner(end.ifindex, queue) == proc.pid:
                return proc
        if proc.poll() is not None:
            assert proc.stderr is not None
            raise AssertionError(f"sink on queue {queue} exited: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"sink on queue {queue} never bound")


def _wait_owned(end, queues) -> None:
    """Until a process owns each of ``queues`` (its socket is bound), at most 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with netns.entered(end.netns):
            if all(queue_owner(end.ifindex, q) for q in queues):
                return
        time.sleep(0.05)
    raise AssertionError(f"queues {queues} were never bound")


def _gen(pair, count: int) -> dict:
    out = subprocess.run([*CLI, "gen", pair.a.ifname, "--netns", pair.a.netns, "--dst-mac", pair.b.mac,
                          "--queues", "0-1", "--count", str(count), "--rate", "50k", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return last_json(out.stdout)


def _summary(proc: subprocess.Popen, status: int = 0) -> dict:
    """A command's summary, once it has exited with ``status`` (130: stopped by Ctrl-C)."""
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    return last_json(out)


@pytest.fixture
def two_queues(veth_pair_factory):
    return veth_pair_factory(queues=2)


def test_a_sink_process_per_queue_each_counts_its_queue(two_queues):
    pair = two_queues
    sinks = [_sink(pair.b, q, "--count", "10000") for q in (0, 1)]
    try:
        assert _attached(pair.b)
        assert _gen(pair, 20000)["packets"] == 20000
        results = [_summary(s) for s in sinks]
    finally:
        for s in sinks:
            s.kill()
    assert [r["packets"] for r in results] == [10000, 10000]
    assert [r["lost"] for r in results] == [0, 0]
    for r in results:
        assert r["accounting"]["pool"] == r["accounting"]["total"]
    assert not _attached(pair.b)  # the last user exited: the kernel detached the program


def test_sink_queues_runs_a_worker_per_queue_and_adds_them_up(two_queues):
    pair = two_queues
    sink = subprocess.Popen([*CLI, "sink", pair.b.ifname, "--netns", pair.b.netns, "--queues", "0-1",
                             "--filter", "udp", "--count", "20000", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_owned(pair.b, (0, 1))
        assert _gen(pair, 20000)["packets"] == 20000
        result = _summary(sink)
    finally:
        sink.kill()
    assert result["packets"] == 20000 and result["queues"] == {"0": 10000, "1": 10000}
    assert (result["lost"], result["duplicates"], result["streams"]) == (0, 0, 2)
    assert result["latency_us"]["p50"] is not None
    # one stream per generator worker, each merged from the queue it arrived on
    assert set(result["per_stream"]) == {"0", "1"}
    for s in result["per_stream"].values():
        assert (s["packets"], s["lost"], s["duplicates"]) == (10000, 0, 0)
        assert s["latency_us"]["p50"] <= s["latency_us"]["p99"] <= s["latency_us"]["max"]
        assert sum(c for _, _, c in s["latency_hist_us"]) == 10000
    assert result["accounting"]["pool"] == result["accounting"]["total"]
    assert not _attached(pair.b)
    bad = subprocess.run([*CLI, "sink", pair.b.ifname, "--netns", pair.b.netns, "--queues", "0-2"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "has 2 RX queues" in bad.stderr


def test_capture_queues_writes_every_queues_frames_into_one_file(two_queues, tmp_path):
    from scapy.utils import rdpcap

    pair = two_queues
    out = tmp_path / "two.pcap"
    cap = subprocess.Popen([*CLI, "capture", pair.b.ifname, "--netns", pair.b.netns, "--queues", "0-1",
                            "--filter", "udp", "--count", "2000", "-w", str(out), "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_owned(pair.b, (0, 1))
        _gen(pair, 2000)
        result = _summary(cap)
    finally:
        cap.kill()
    frames = [bytes(p) for p in rdpcap(str(out))]
    assert result["packets"] == len(frames) == 2000 and result["queues"] == [0, 1]
    streams = [f[44] for f in frames]  # "XK", then the u64 whose top byte is the stream: gen's queue
    assert streams.count(0) == streams.count(1) == 1000
    assert not _attached(pair.b)


def test_sigkill_of_one_leaves_the_other_receiving_and_its_queue_free(two_queues, make_umem):
    pair = two_queues
    killed = _sink(pair.b, 0, "--duration", "60")
    survivor = _sink(pair.b, 1, "--duration", "60")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert _attached(pair.b)  # the survivor still holds the program
        _gen(pair, 4000)
        umem = make_umem()
        with xsk.Socket(umem, pair.b.ifname, netns=pair.b.netns, queue=0, tx=False) as rx:  # taken again
            ua = make_umem()
            with xsk.Socket(ua, pair.a.ifname, netns=pair.a.netns, queue=0, rx=False) as tx:
                tpl = template(pair)
                r = Receiver(rx, tpl)
                assert send_seq(tx, tpl, 0, 500) == 500
                tx.flush()
                assert r.drain(500) == 500 and r.perfect
        survivor.send_signal(signal.SIGINT)  # Ctrl-C: the summary, exit 130
        result = _summary(survivor, 128 + signal.SIGINT)
    finally:
        killed.kill()
        survivor.kill()
    assert result["packets"] == 2000 and result["lost"] == 0, result  # its half of the 4000
    assert not _attached(pair.b)


def test_binding_a_queue_another_process_holds_names_it(two_queues, make_umem):
    pair = two_queues
    holder = _sink(pair.b, 0, "--duration", "60")
    try:
        with pytest.raises(xsk.ResourceBusyError) as info:
            xsk.Socket(make_umem(), pair.b.ifname, netns=pair.b.netns, queue=0, tx=False)
        message = str(info.value)
        assert f"process {holder.pid} (" in message and "sink" in message
        assert "xdp-loader" not in message and "xdp off" not in message
        assert _attached(pair.b)  # the refused socket let go of the program, the holder keeps it
        with xsk.Socket(make_umem(), pair.b.ifname, netns=pair.b.netns, queue=1, tx=False) as other:
            assert other.xdp_mode == "native"
    finally:
        holder.send_signal(signal.SIGINT)
        holder.communicate(timeout=30)
    assert holder.returncode == 128 + signal.SIGINT
    assert not _attached(pair.b)


def test_filters_are_per_queue(two_queues, make_umem):
    pair = two_queues
    tpl = template(pair)  # UDP to port 9000
    # frames passed to B's kernel draw ICMP replies; a static neighbour keeps its ARP off the link
    subprocess.run(["ip", "-n", pair.b.netns, "neigh", "replace", pair.a.ip, "lladdr", pair.a.mac, "dev",
                    pair.b.ifname, "nud", "permanent"], check=True)
    u0, u1, t0, t1 = (make_umem(frame_count=512) for _ in range(4))
    with xsk.Socket(u0, pair.b.ifname, netns=pair.b.netns, queue=0, tx=False, filter="udp:1234") as rx0, \
         xsk.Socket(u1, pair.b.ifname, netns=pair.b.netns, queue=1, tx=False) as rx1, \
         xsk.Socket(t0, pair.a.ifname, netns=pair.a.netns, queue=0, rx=False) as tx0, \
         xsk.Socket(t1, pair.a.ifname, netns=pair.a.netns, queue=1, rx=False) as tx1:
        for tx in (tx0, tx1):
            assert send_seq(tx, tpl, 0, 100) == 100
            tx.flush()
        r1 = Receiver(rx1, tpl)
        assert r1.drain(100) == 100 and r1.perfect  # queue 1 has no filter: everything
        assert len(rx0.recv(256, timeout=0.3)) == 0  # queue 0 only takes udp:1234
        assert rx0.filter_hits() == [0, 100]
        rx1.set_filter("udp:1234")
        rx0.set_filter(None)
        for tx in (tx0, tx1):
            assert send_seq(tx, tpl, 100, 100) == 100
            tx.flush()
        r0 = Receiver(rx0, tpl, first=100)
        assert r0.drain(100) == 100 and r0.perfect
        assert len(rx1.recv(256, timeout=0.3)) == 0
        assert rx1.filter_hits() == [0, 100]


def test_a_program_an_older_xsk_attached_by_netlink_and_left_is_replaced(veth_pair, make_umem):
    """Before bpf_link, a SIGKILLed process left the program attached; the next bind removes it."""
    b = veth_pair.b
    obj = os.path.join(os.path.dirname(xsk.__file__), "_bpf", "xsk_redirect.o")
    subprocess.run(["ip", "-n", b.netns, "link", "set", "dev", b.ifname, "xdpgeneric", "obj", obj,
                    "sec", "xdp.frags"], check=True)
    assert _attached(b)
    with xsk.Socket(make_umem(), b.ifname, netns=b.netns, tx=False) as rx:
        assert rx.xdp_mode == "native"
    assert not _attached(b)
