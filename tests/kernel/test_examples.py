"""The examples in examples/, each against the real Linux stack (or a second AF_XDP endpoint)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from xsk import netns

from .test_cli import wait_attached

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def start(name: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(EXAMPLES / name), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> list[dict]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def udp_socket(ns: str, ip: str | None = None, port: int = 0) -> socket.socket:
    with netns.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if ip:
            s.bind((ip, port))
    s.settimeout(3)
    return s


# Each example with its batch handler in Python, and with its frame handler compiled by numba (xsk.jit)
HANDLERS = pytest.mark.parametrize("flags", [[], ["--compiled"]], ids=["python", "compiled"])


def ping(ns: str, ip: str, count: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", ip],
                          capture_output=True, text=True, timeout=30)


@HANDLERS
def test_udp_echo_answers_while_the_kernel_keeps_everything_else(veth_pair, flags):
    a, b = veth_pair.a, veth_pair.b
    server = start("udp_echo.py", b.ifname, "--netns", b.netns, "--port", "7777", *flags)
    try:
        wait_attached(b)
        kernel_srv = udp_socket(b.netns, b.ip, 5353)  # another port: the kernel's own socket
        client = udp_socket(a.netns)
        with client, kernel_srv:
            for i in range(300):
                msg = b"echo %d " % i + bytes(i % 50)
                client.sendto(msg, (b.ip, 7777))
                data, addr = client.recvfrom(2048)
                assert data == msg and addr == (b.ip, 7777)
            client.sendto(b"to the kernel", (b.ip, 5353))
            assert kernel_srv.recvfrom(100)[0] == b"to the kernel"
        assert ping(a.netns, b.ip).returncode == 0  # ICMP still reaches (and is answered by) the kernel
    finally:
        lines = stop(server)
    final = lines[-1]
    assert final["echoed"] == 300 and final["received"] == 300
    acc = final["accounting"]
    assert acc["pool"] == acc["total"]  # every frame back after a clean stop on SIGTERM


@HANDLERS
def test_arp_and_icmp_answered_for_an_address_the_kernel_does_not_own(veth_pair, flags):
    a, b = veth_pair.a, veth_pair.b
    responder = start("arp_icmp_responder.py", b.ifname, "--netns", b.netns, "--ip", "192.0.2.99", *flags)
    try:
        wait_attached(b)
        result = ping(a.netns, "192.0.2.99", count=5)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "5 received" in result.stdout
        for seq in range(1, 6):
            assert f"icmp_seq={seq} " in result.stdout
        neigh = subprocess.run(["ip", "-n", a.netns, "neigh", "show", "192.0.2.99"], capture_output=True,
                               text=True).stdout
        assert "02:00:00:00:99:99" in neigh
        assert ping(a.netns, b.ip).returncode == 0  # the kernel's own address still answers
    finally:
        lines = stop(responder)
    assert lines[-1]["answered"] >= 6  # 5 echo replies and at least one ARP reply
    assert lines[-1]["accounting"]["pool"] == lines[-1]["accounting"]["total"]


def test_custom_ethertype_with_retransmission(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    server = start("custom_ethertype.py", "server", b.ifname, "--netns", b.netns, "--drop-every", "7")
    try:
        wait_attached(b)
        result = subprocess.run([sys.executable, str(EXAMPLES / "custom_ethertype.py"), "client", a.ifname,
                                 "--netns", a.netns, "--peer", b.mac, "--count", "2000"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr + result.stdout
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["answered"] == 2000
        assert out["resent"] > 0  # the server dropped some on purpose
        assert out["accounting"]["pool"] == out["accounting"]["total"]
    finally:
        lines = stop(server)
    served = lines[-1]
    assert served["requests"] == out["sent"] == 2000 + out["resent"]  # every request crossed the link
    assert served["answered"] == served["requests"] - served["requests"] // 7  # all but every 7th


@HANDLERS
def test_signal_mid_stream_leaves_every_frame_accounted(veth_pair, flags):
    a, b = veth_pair.a, veth_pair.b
    server = start("udp_echo.py", b.ifname, "--netns", b.netns, "--port", "7777", *flags)
    wait_attached(b)
    client = udp_socket(a.netns)
    stop_sending = threading.Event()

    def flood() -> None:
        while not stop_sending.is_set():
            try:
                client.sendto(b"x" * 100, (b.ip, 7777))
            except OSError:
                return

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        import time

        time.sleep(1.0)
    finally:
        lines = stop(server)
        stop_sending.set()
        t.join(2)
        client.close()
    acc = lines[-1]["accounting"]
    assert lines[-1]["received"] > 0
    assert acc["pool"] == acc["total"], acc


@HANDLERS
def test_udp_kv_replies_of_another_length_to_a_client_with_checksum_offload(veth_pair_factory, flags):
    """`ip link`-style veth (offload on): requests come with partial checksums; every reply,
    longer or shorter than its request, reaches the client's kernel socket intact."""
    pair = veth_pair_factory(tx_checksum_offload=True)
    a, b = pair.a, pair.b
    server = start("udp_kv.py", b.ifname, "--netns", b.netns, "--port", "7400", *flags)
    try:
        wait_attached(b)
        with udp_socket(a.netns) as client:
            def ask(request: bytes) -> bytes:
                client.sendto(request, (b.ip, 7400))
                data, addr = client.recvfrom(2048)
                assert addr == (b.ip, 7400)
                return data

            assert ask(b"GET missing") == b"NOT_FOUND"
            assert ask(b"SET k1 " + b"v" * 900) == b"OK"
            assert ask(b"GET k1") == b"VALUE " + b"v" * 900  # much longer than the request
            for i in range(50):
                assert ask(b"SET key%d %d" % (i, i * i)) == b"OK"
            for i in range(50):
                assert ask(b"GET key%d" % i) == b"VALUE %d" % (i * i)
            assert ask(b"HELLO").startswith(b"ERROR")
    finally:
        final = stop(server)[-1]
    assert final["received"] == final["answered"] == 104 and final["keys"] == 51
    assert final["accounting"]["pool"] == final["accounting"]["total"]
