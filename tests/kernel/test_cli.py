"""The `xsk` command line over veth, with the other side played by the Linux stack where possible."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from xsk import netns

XSK = [sys.executable, "-m", "xsk.cli"]


def xsk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*XSK, *args], capture_output=True, text=True, timeout=timeout)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*XSK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def wait_attached(end, timeout: float = 15) -> None:
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
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "20000", "--rate", "50k",
              "--src-port", "1000-1999", "--dst-ip", "192.0.2.2-192.0.2.20", "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    assert g["packets"] == 20000 and g["mode"] == "copy"
    assert {"packets", "bytes", "seconds", "pps", "bps", "mode", "kernel"} <= set(g)
    # the options make a one-stream profile, sent as --profile's streams are
    (name, stream), = g["per_stream"].items()
    assert (name, stream["ids"], stream["packets"], stream["bytes"], stream["asked_pps"]) == (
        "stream0", [0], 20000, g["bytes"], 50000.0)
    assert 0.8 * 50000 <= stream["pps"] <= 1.2 * 50000, stream  # the pacer test's bound
    s = last_json(finish(sink)[0])
    assert s["packets"] == 20000 and s["lost"] == 0 and s["duplicates"] == 0 and s["reordered"] == 0
    assert s["latency_us"]["min"] is not None and s["latency_us"]["p50"] <= s["latency_us"]["max"]
    (only,) = s["per_stream"].values()
    assert (only["packets"], only["bytes"], only["lost"]) == (20000, s["bytes"], 0)
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
    with netns.entered(ns):
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        srv.bind((ip, port))
    srv.settimeout(5)

    def serve() -> None:
        with srv:
            while len(got) < expect:
                try:
                    got.append(srv.recvfrom(2048)[0])
                except OSError:
                    return

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_gen_to_the_kernel_udp_stack_with_ranges(veth_pair, tmp_path):
    """The kernel drops bad checksums, so every datagram arriving proves them; tcpdump's copy dissects."""
    a, b = veth_pair.a, veth_pair.b
    got: list[bytes] = []
    server = _udp_server(b.netns, b.ip, 9000, 500, got)
    dump = tmp_path / "dump.pcap"
    tcpdump = subprocess.Popen(["ip", "netns", "exec", b.netns, "tcpdump", "-i", b.ifname, "-U", "-c", "500",
                                "-w", str(dump), "udp port 9000"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    time.sleep(1.0)
    r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--src-ip", a.ip, "--dst-ip", b.ip,
            "--src-port", "1000-1099", "--dst-port", "9000", "--size", "100", "--count", "500", "--rate", "5k")
    assert r.returncode == 0, r.stderr
    server.join(10)
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
    tcpdump = subprocess.Popen(["ip", "netns", "exec", a.netns, "tcpdump", "-i", a.ifname, "-U", "-c", "23",
                                "-w", str(theirs), "udp port 7000 or icmp"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    time.sleep(1.0)
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
    """The rate as the receiver sees it: every frame arrives, at the asked pace (within 20%: the
    benchmark measures precisely; this says the pacer paces)."""
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--duration", "4", "--json")
    wait_attached(b)
    r = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", str(rate), "--duration", "1.5",
            "--json")
    assert r.returncode == 0, r.stderr
    g, s = last_json(r.stdout), last_json(finish(sink)[0])
    assert s["packets"] == g["packets"] and s["lost"] == 0, (g, s)
    assert 0.8 * rate <= s["pps"] <= 1.2 * rate, s


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
