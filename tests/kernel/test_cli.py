"""The `xsk` command line over veth, with the other side played by the Linux stack where possible."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from xsk import netns

from .traffic import ledger_whole

XSK = [sys.executable, "-m", "xsk.cli"]


def xsk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*XSK, *args], capture_output=True, text=True, timeout=timeout)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*XSK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def last_json(out: str) -> dict:
    """The last JSON line of a command's output; a summary (it has ``accounting``) must also say
    that the process verified its ledger and the kernel returned no stray descriptor."""
    line = json.loads(out.strip().splitlines()[-1])
    if isinstance(line, dict) and "accounting" in line:
        ledger_whole(line)
    return line


def wait_attached(end, timeout: float = 60) -> None:
    """Until an XDP program is on ``end``'s interface (the receiver is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["ip", "-n", end.netns, "-o", "link", "show", "dev", end.ifname],
                             capture_output=True, text=True).stdout
        if "prog/xdp" in out:
            time.sleep(0.3)
            return
        time.sleep(0.05)
    raise AssertionError(f"no XDP program appeared on {end.ifname}")


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out, err


def _irq_and_steal_seconds() -> float:
    """Seconds every CPU spent so far in interrupts, softirqs and stolen by the hypervisor (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()  # cpu user nice system idle iowait irq softirq steal ...
    return sum(int(v) for v in fields[6:9]) / os.sysconf("SC_CLK_TCK")


def held_off(proc: subprocess.Popen, since: float, timeout: float = 60) -> float:
    """Wait for ``proc`` to exit and say how long the machine kept it from running: its main
    thread's wait on a run queue (/proc/PID/schedstat, read after the exit, before the reaping)
    plus the interrupt, softirq and steal time of every CPU from ``since``
    (``_irq_and_steal_seconds()`` when it started) on. Near 0 on an idle machine; on a busy one,
    what a rate may fall short by or an event be noticed late by. (gen sends from its main
    thread when it has one queue, as fwd and sink receive.) Its pipes must not fill meanwhile."""
    deadline = time.monotonic() + timeout
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:  # exited, not reaped
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.01)
    with open(f"/proc/{proc.pid}/schedstat") as f:
        run_delay_s = int(f.read().split()[1]) / 1e9
    return run_delay_s + _irq_and_steal_seconds() - since


def start_timed(*args: str) -> tuple[subprocess.Popen, float]:
    """``start(*args)`` and the ``since`` that ``held_off`` wants."""
    since = _irq_and_steal_seconds()
    return start(*args), since


def drain(proc: subprocess.Popen) -> Callable[[], tuple[str, str]]:
    """Read the rest of ``proc``'s stdout and stderr in two threads, so it never stops on a full
    pipe, through its own file objects (communicate() reads the pipes underneath them and would
    lose what a readline has buffered). Returns ``collect()``: (out, err) once it has exited."""
    texts: dict[str, str] = {}

    def read(name: str, pipe: Any) -> None:
        texts[name] = pipe.read()

    readers = [threading.Thread(target=read, args=(name, pipe), daemon=True)
               for name, pipe in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()

    def collect(timeout: float = 60) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        for r in readers:
            r.join(max(0.0, deadline - time.monotonic()))
        if any(r.is_alive() for r in readers):
            proc.kill()
            for r in readers:
                r.join()
        proc.wait()
        return texts["out"], texts["err"]

    return collect


def xsk_timed(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """``xsk(*args)``, and how long the machine kept the command from running (``held_off``)."""
    proc, since = start_timed(*args)
    collect = drain(proc)
    held = held_off(proc, since, timeout)
    out, err = collect()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), held


def first_sending(proc: subprocess.Popen, timeout: float = 60) -> int:
    """Read a running ``--json`` command's line a second until one counts packets; that count.
    (Waiting for a fixed time instead fails on a busy machine, where starting up can take longer.)"""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        packets = json.loads(line)["packets"]
        if packets > 0:
            return packets
        if time.monotonic() > deadline:
            break
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no packets counted in {timeout} s: {proc.args!r}") from None
    err = proc.stderr.read()[-2000:] if proc.stderr is not None else ""
    raise AssertionError(f"it ended (exit {code}) before counting a packet: {proc.args!r}\n{err}")


def assert_paced(g: dict[str, Any], held_off: float, rates: dict[int, float] | None = None) -> None:
    """gen's pacer against its own clock: ``g["seconds"]`` runs from the schedule's start, where
    packet k of a stream falls due k / rate later, to the end of the run.

    Never ahead: a stream's n packets take at least (n - 1) / rate. Behind only by as long as the
    machine kept gen off the CPU (``held_off``, from ``xsk_timed``), with 25% + 0.1 s to spare for
    its own work; so a pacer that fell short with the CPU to itself still fails, a busy machine
    cannot fail it. ``rates``: packets per stream and the rate asked for it (default: the run's
    per_stream as reported)."""
    if rates is None:
        rates = {s["packets"]: s["asked_pps"] for s in g["per_stream"].values()}
    seconds = g["seconds"]
    schedule = max((n - 1) / rate for n, rate in rates.items())
    for n, rate in rates.items():
        assert seconds >= (n - 1) / rate - 1e-6, (
            f"{n} packets at {rate:,.0f} pps are due over {(n - 1) / rate:.4f} s of the schedule, but gen sent "
            f"them in {seconds:.4f} s: the pacer ran ahead of its schedule", g)
    assert seconds <= 1.25 * schedule + held_off + 0.1, (
        f"gen took {seconds:.3f} s for a {schedule:.3f} s schedule, though the machine kept it off the CPU for "
        f"only {held_off:.3f} s: the pacer fell behind by itself", g)


def assert_arrived_as_sent(sent: dict[str, Any], got: dict[str, Any], held_off: float) -> None:
    """One stream's rate at the sink against the rate gen achieved (both per_stream entries).

    Each frame arrives its latency after the timestamp gen wrote into it, so the sink's span from
    first to last frame differs from gen's by at most the spread of the latencies the sink
    measured, plus the moments gen was held off the CPU between its clock reading and the
    timestamp (``held_off``), 5 ms of its own work and 0.1% for the two clocks' drift."""
    assert got["packets"] == sent["packets"], (sent, got)
    span_sent = (sent["packets"] - 1) / sent["pps"] if sent["pps"] else 0.0  # None: all at one instant
    span_got = (got["packets"] - 1) / got["pps"] if got["pps"] else 0.0
    lat = got["latency_us"]
    slack = (lat["max"] - lat["min"]) / 1e6 + held_off + 0.005 + 0.001 * span_sent
    assert abs(span_got - span_sent) <= slack, (
        f"the sink saw the frames arrive over {span_got:.4f} s, gen sent them over {span_sent:.4f} s: more "
        f"apart than latency and gen's time off the CPU explain ({slack:.4f} s)", sent, got)


def line_after(proc: subprocess.Popen, wall: float, timeout: float = 60) -> dict[str, Any]:
    """Read a running ``--json`` command's line a second until one written after ``wall``
    (time.time()); that line. It is written by the running loop, so the command is past
    whatever held it before (a wait for its link: it writes none meanwhile)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        record = json.loads(line)
        if record["time"] > wall:
            return record
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no line written after {wall} within {timeout} s: {proc.args!r}")


def stop_when_received(sink: subprocess.Popen, packets: int, timeout: float = 60) -> str:
    """Read a running ``sink --json``'s line a second until it counts ``packets`` (or ``timeout``
    passes, or it ends), then Ctrl-C it, which ends the run with its summary as --count would.
    Its whole output (the summary last)."""
    assert sink.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in sink.stdout:
        seen.append(line)
        if json.loads(line)["packets"] >= packets or time.monotonic() > deadline:
            break
    sink.send_signal(signal.SIGINT)
    out, err = drain(sink)()
    assert sink.returncode in (0, 128 + signal.SIGINT), err  # ended by its count, or by the Ctrl-C
    return "".join(seen) + out


def nothing_attached(*ends) -> bool:
    for end in ends:
        out = subprocess.run(["ip", "-n", end.netns, "-o", "link", "show", "dev", end.ifname],
                             capture_output=True, text=True).stdout
        if "prog/xdp" in out:
            return False
    return True


def test_gen_to_sink_exact_count_no_loss(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "20000", "--json")
    wait_attached(b)
    gen, held_off = xsk_timed("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "20000",
                              "--rate", "50k", "--src-port", "1000-1999", "--dst-ip", "192.0.2.2-192.0.2.20",
                              "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    assert g["packets"] == 20000 and g["mode"] == "copy"
    assert {"packets", "bytes", "seconds", "pps", "bps", "mode", "kernel"} <= set(g)
    # the options make a one-stream profile, sent as --profile's streams are
    (name, stream), = g["per_stream"].items()
    assert (name, stream["ids"], stream["packets"], stream["bytes"], stream["asked_pps"]) == (
        "stream0", [0], 20000, g["bytes"], 50000.0)
    assert_paced(g, held_off)  # the pacer test's bounds
    s = last_json(finish(sink)[0])
    assert s["packets"] == 20000 and s["lost"] == 0 and s["duplicates"] == 0 and s["reordered"] == 0
    assert s["latency_us"]["min"] is not None and s["latency_us"]["p50"] <= s["latency_us"]["max"]
    (only,) = s["per_stream"].values()
    assert (only["packets"], only["bytes"], only["lost"]) == (20000, s["bytes"], 0)
    assert_arrived_as_sent(stream, only, held_off)
    assert only["latency_us"]["p99.9"] <= only["latency_us"]["max"] and only["jitter_us"] is not None
    assert nothing_attached(a, b)


def test_gen_ipv6_over_vlan_needs_no_size(veth_pair):
    """The default frame grows to what the headers and the sequence header need (IPv6 + 802.1Q:
    84 bytes), where 60 used to be refused with an error about a --size nobody gave."""
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "5000", "--json")
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "5000", "--vlan", "5",
              "--src-ip", "fd00::1-fd00::10", "--dst-ip", "fd00::2", "--json")
    assert gen.returncode == 0, gen.stderr
    assert last_json(gen.stdout)["bytes"] == 5000 * 84
    s = last_json(finish(sink)[0])
    assert (s["packets"], s["lost"], s["bytes"]) == (5000, 0, 5000 * 84)


def test_sink_counts_loss_and_duplicates(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "2100", "--json")
    wait_attached(b)
    # 0..999, then 1100..2099 (a gap of 100), then 0..99 again (100 duplicates)
    for first, count in (("0", "1000"), ("1100", "1000"), ("0", "100")):
        r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "50k",
                "--seq-start", first, "--count", count)
        assert r.returncode == 0, r.stderr
    s = last_json(finish(sink)[0])
    assert s["packets"] == 2100
    assert s["lost"] == 100 and s["duplicates"] == 100


def _udp_server(ns: str, ip: str, port: int, expect: int, got: list[bytes]) -> threading.Thread:
    """A thread receiving ``expect`` datagrams into ``got``; it gives up 5 s after the last one
    (or 60 s before the first: the sender may take long to start on a busy machine)."""
    with netns.entered(ns):
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        srv.bind((ip, port))
    srv.settimeout(60)

    def serve() -> None:
        with srv:
            while len(got) < expect:
                try:
                    got.append(srv.recvfrom(2048)[0])
                except OSError:
                    return
                srv.settimeout(5)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def start_tcpdump(end, count: int, path, expression: str) -> subprocess.Popen:
    """tcpdump on ``end`` writing ``count`` frames to ``path``; returns once it is capturing (it
    says "listening on" then), where a fixed wait is too short on a busy machine."""
    proc = subprocess.Popen(["ip", "netns", "exec", end.netns, "tcpdump", "-i", end.ifname, "-U", "-c", str(count),
                             "-w", str(path), expression], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    said = proc.stderr.readline()
    assert "listening on" in said, f"tcpdump did not start: {said}{proc.stderr.read() if proc.poll() else ''}"
    return proc


def test_gen_to_the_kernel_udp_stack_with_ranges(veth_pair, tmp_path):
    """The kernel drops bad checksums, so every datagram arriving proves them; tcpdump's copy dissects."""
    a, b = veth_pair.a, veth_pair.b
    got: list[bytes] = []
    server = _udp_server(b.netns, b.ip, 9000, 500, got)
    dump = tmp_path / "dump.pcap"
    tcpdump = start_tcpdump(b, 500, dump, "udp port 9000")
    r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--src-ip", a.ip, "--dst-ip", b.ip,
            "--src-port", "1000-1099", "--dst-port", "9000", "--size", "100", "--count", "500", "--rate", "5k")
    assert r.returncode == 0, r.stderr
    server.join(70)
    tcpdump.wait(10)
    assert len(got) == 500
    assert all(len(d) == 100 - 42 for d in got)
    frames = rdpcap(str(dump))
    assert len(frames) == 500
    sports = set()
    for f in frames:
        assert f[IP].src == a.ip and f[IP].dst == b.ip and f[UDP].dport == 9000
        sports.add(f[UDP].sport)
        again = Ether(bytes(f))
        del again[IP].chksum
        del again[UDP].chksum
        again = Ether(bytes(again))
        assert (again[IP].chksum, again[UDP].chksum) == (f[IP].chksum, f[UDP].chksum)
    assert sports == set(range(1000, 1100))


def test_kernel_traffic_to_capture_byte_for_byte(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    out = tmp_path / "cap.pcap"
    theirs = tmp_path / "tcpdump.pcap"
    cap = start("capture", b.ifname, "--netns", b.netns, "-w", str(out), "--filter", "udp:7000, proto:1",
                "--count", "23")
    wait_attached(b)
    tcpdump = start_tcpdump(a, 23, theirs, "udp port 7000 or icmp")
    with netns.entered(a.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        for i in range(20):
            s.sendto(b"datagram %d" % i, (b.ip, 7000))
            time.sleep(0.005)
    subprocess.run(["ip", "netns", "exec", a.netns, "ping", "-c", "3", "-i", "0.2", "-W", "1", b.ip],
                   capture_output=True)
    finish(cap)
    tcpdump.wait(10)
    ours = [bytes(p) for p in rdpcap(str(out))]
    reference = [bytes(p) for p in rdpcap(str(theirs))]
    assert len(ours) == 23 and ours == reference
    assert sum(1 for p in rdpcap(str(out)) if ICMP in p) == 3


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_replay_then_capture_gives_the_same_frames(veth_pair, tmp_path, fmt):
    a, b = veth_pair.a, veth_pair.b
    frames = [Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / UDP(sport=5000 + i, dport=7100)
              / Raw(bytes([i]) * (10 + 37 * i)) for i in range(30)]
    for i, f in enumerate(frames):
        f.time = 1_700_000_000 + i * 0.01
    source = tmp_path / "in.pcap"
    wrpcap(str(source), frames)
    out = tmp_path / f"out.{fmt}"
    cap = start("capture", b.ifname, "--netns", b.netns, "-w", str(out), "--filter", "udp:7100", "--count", "60",
                *(["--pcapng"] if fmt == "pcapng" else []))
    wait_attached(b)
    r = xsk("replay", str(source), a.ifname, "--netns", a.netns, "--loop", "2", "--speed", "4", "--json")
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)["packets"] == 60
    finish(cap)
    got = [bytes(p) for p in rdpcap(str(out))]
    assert got == [bytes(f) for f in frames] * 2


def test_fwd_returns_every_frame_to_the_kernel(veth_pair):
    """The kernel of A sends datagrams; fwd in B swaps MACs, IPs and ports; A's socket gets them all back."""
    a, b = veth_pair.a, veth_pair.b
    fwd = start("fwd", b.ifname, "--netns", b.netns, "--filter", "udp:9000", "--swap-ip", "--swap-ports",
                "--count", "200", "--json")
    wait_attached(b)
    with netns.entered(a.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.ip, 4321))
    s.settimeout(3)
    back = []
    with s:
        for i in range(200):
            s.sendto(b"ping %d" % i, (b.ip, 9000))
            try:
                back.append(s.recvfrom(100))
            except OSError:
                break
    out, _ = finish(fwd)
    assert [d for d, _ in back] == [b"ping %d" % i for i in range(200)]
    assert all(addr == (b.ip, 9000) for _, addr in back)
    assert last_json(out)["forwarded"] == 200


@pytest.mark.parametrize("rate", [10_000, 50_000, 100_000])
def test_pacer_holds_the_rate(veth_pair, rate):
    """A --duration run paced at ``rate``: every frame arrives; by gen's own clock the pacer never
    runs ahead of its schedule and falls behind only while the machine keeps it off the CPU; the
    sink sees the frames arrive at the rate gen achieved (``assert_paced``, ``assert_arrived_as_sent``:
    nothing here depends on how busy the machine is)."""
    a, b = veth_pair.a, veth_pair.b
    # stopped once it has counted what gen sent, however long gen took to start on a busy machine
    sink = start("sink", b.ifname, "--netns", b.netns, "--duration", "120", "--json")
    wait_attached(b)
    r, held_off = xsk_timed("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", str(rate),
                            "--duration", "1.5", "--json")
    assert r.returncode == 0, r.stderr
    g = last_json(r.stdout)
    s = last_json(stop_when_received(sink, g["packets"]))
    assert s["packets"] == g["packets"] and s["lost"] == 0 and s["duplicates"] == 0, (g, s)
    assert g["seconds"] >= 1.5, g  # --duration: it sent for as long as it was asked
    assert_paced(g, held_off, {g["packets"]: rate})
    (sent,), (got,) = g["per_stream"].values(), s["per_stream"].values()
    assert_arrived_as_sent(sent, got, held_off)


def _arrived_per_queue(prog, queues: int) -> list[int]:
    import struct

    from xsk._binding import lib

    cpus = int(lib.libbpf_num_possible_cpus())
    return [sum(struct.unpack(f"<{cpus}Q", prog.lookup("arrived", q, 8 * cpus))) for q in range(queues)]


def test_two_queues_one_worker_each(veth_pair_factory, test_program):
    """Each worker's queue carried its half: counted by the queue the frames arrived on."""
    from xsk import CustomProgram

    pair = veth_pair_factory(queues=2)
    with CustomProgram(test_program("xdp_count_queues"), pair.b.ifname, netns=pair.b.netns, xskmap=None) as prog:
        r = xsk("gen", pair.a.ifname, "--netns", pair.a.netns, "--dst-mac", pair.b.mac, "--queues", "0-1",
                "--count", "4000", "--json")
        assert r.returncode == 0, r.stderr
        g = last_json(r.stdout)
        assert g["packets"] == 4000
        assert _arrived_per_queue(prog, 2) == [2000, 2000]
        # each queue's worker sends its own stream id, the queue number (as the XDP engine does)
        assert g["per_stream"]["stream0"]["ids"] == [0, 1] or g["per_stream"]["stream0"]["ids"] == [1, 0]
        r = xsk("gen", pair.a.ifname, "--netns", pair.a.netns, "--dst-mac", pair.b.mac, "--queue", "1",
                "--count", "10", "--json")
        assert r.returncode == 0, r.stderr
        assert last_json(r.stdout)["per_stream"]["stream0"]["ids"] == [1]


def _bad(args, match, *ends):
    r = xsk(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert match in lines[0], lines[0]
    assert nothing_attached(*ends)


def test_bad_input_is_one_line_and_exit_2(veth_pair, tmp_path):
    a = veth_pair.a
    base = ["--netns", a.netns]
    _bad(["gen", "nope0", *base], "no interface 'nope0'", a)
    _bad(["gen", a.ifname, "--netns", "xskt-nosuchns"], "no network namespace named 'xskt-nosuchns'", a)
    _bad(["gen", a.ifname, *base, "--size", "3000"], "larger than the 2048-byte UMEM frame", a)
    _bad(["gen", a.ifname, *base, "--template", "__import__('os').system('true')"], "bad template", a)
    _bad(["gen", a.ifname, *base, "--template", "Ether()/IP(dst=open('x'))"], "literals", a)
    _bad(["gen", a.ifname, *base, "--src-port", "2000-1000"], "is empty", a)
    _bad(["gen", a.ifname, *base, "--dst-ip", "10.0.0.300"], "bad address range", a)
    _bad(["gen", a.ifname, *base, "--rate", "fast"], "bad rate", a)
    _bad(["gen", a.ifname, *base, "--seq-start", "-1"], "sequence numbers are 0..2^56-1", a)
    _bad(["sink", a.ifname, *base, "--filter", "udp:99999"], "port range", a)
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture")
    _bad(["replay", str(garbage), a.ifname, *base], "not a pcap or pcapng file", a)
    good = tmp_path / "good.pcap"
    wrpcap(str(good), [Ether() / IP(dst="192.0.2.2") / UDP() / Raw(bytes(100))] * 3)
    truncated = tmp_path / "truncated.pcap"
    truncated.write_bytes(good.read_bytes()[:-20])
    _bad(["replay", str(truncated), a.ifname, *base], "truncated", a)
    big = tmp_path / "big.pcap"
    wrpcap(str(big), [Ether() / IP(dst="192.0.2.2") / UDP() / Raw(bytes(3000))])
    _bad(["replay", str(big), a.ifname, *base], "larger than the 2048-byte UMEM frame", a)
    _bad(["gen", a.ifname, *base, "--bogus"], "unrecognized arguments", a)


def test_veth_up_list_down():
    name = f"xt{os.getpid() % 100000}"
    r = xsk("veth", "up", name, "--json")
    try:
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["a"]["netns"] == f"{name}-a" and info["b"]["ip"] == "192.0.2.2/24"
        listed = xsk("veth", "list")
        assert name in listed.stdout
        again = xsk("veth", "up", name)
        assert again.returncode == 2 and "already exists" in again.stderr
    finally:
        r = xsk("veth", "down", name)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(f"/run/netns/{name}-a")
    assert xsk("veth", "down", name).returncode == 2


def test_gen_xdp_engine_to_sink(veth_pair):
    """BPF_PROG_RUN live frames: the kernel transmits the copies; sequence numbers still count."""
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "5000", "--json")
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp", "--count", "5000",
              "--rate", "50k", "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    assert g["packets"] == 5000 and g["mode"] == "xdp"
    s = last_json(finish(sink)[0])
    assert s["packets"] == 5000 and s["lost"] == 0 and s["duplicates"] == 0
    bad = xsk("gen", a.ifname, "--netns", a.netns, "--engine", "xdp", "--src-port", "1-9")
    assert bad.returncode == 2 and "--engine xdp can't do field ranges" in bad.stderr


def test_gen_xdp_engine_unpaced_sends_exactly_count_then_for_a_duration(veth_pair, test_program):
    """Unpaced, the XDP engine overlaps two BPF_PROG_RUN calls: still exactly --count frames
    (counted by an XDP_DROP program on the peer), and --duration ends the run on time."""
    import struct

    from xsk import CustomProgram
    from xsk._binding import lib

    a, b = veth_pair.a, veth_pair.b
    ncpu = int(lib.libbpf_num_possible_cpus())
    with CustomProgram(test_program("xdp_drop", "tools"), b.ifname, netns=b.netns, xskmap=None) as prog:
        def arrived() -> int:
            return sum(struct.unpack(f"<{ncpu}Q", prog.lookup("arrived", 0, 8 * ncpu)))

        gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp", "--count", "300000",
                  "--json")
        assert gen.returncode == 0, gen.stderr
        assert last_json(gen.stdout)["packets"] == 300000 == arrived()
        gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp", "--duration", "1",
                  "--json")
        assert gen.returncode == 0, gen.stderr
        g = last_json(gen.stdout)
        assert g["packets"] == arrived() - 300000 and g["packets"] > 0
        assert 0.9 <= g["seconds"] < 5  # the calls are sized to end near the deadline, not minutes later


def test_fwd_out_of_a_second_interface_on_a_shared_umem(veth_pair_factory):
    """fwd IFACE IFACE2: received on one veth pair, sent out of another (one UMEM, two sockets)."""
    p1, p2 = veth_pair_factory(), veth_pair_factory()
    fwd = start("fwd", p1.b.ifname, p2.b.ifname, "--netns", p1.b.netns, "--netns2", p2.b.netns,
                "--filter", "udp:9000", "--swap-ip", "--swap-ports", "--count", "100", "--json")
    wait_attached(p1.b)
    # both pairs use the same default addresses, so the reflected datagram is for p2's A side
    with netns.entered(p2.a.netns):
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.bind((p2.a.ip, 4321))
    with netns.entered(p1.a.netns):
        inp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        inp.bind((p1.a.ip, 4321))
    out.settimeout(3)
    got = []
    with out, inp:
        for i in range(100):
            inp.sendto(b"via two interfaces %d" % i, (p1.b.ip, 9000))
            try:
                got.append(out.recvfrom(100)[0])
            except OSError:
                break
    assert got == [b"via two interfaces %d" % i for i in range(100)]
    assert last_json(finish(fwd)[0])["forwarded"] == 100
