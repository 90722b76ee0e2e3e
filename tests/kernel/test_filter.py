"""Steering: matching frames reach the socket, everything else reaches the kernel stack."""

import socket
import subprocess
import time

import pytest

import xsk
from xsk import netns

from .traffic import Receiver, send_seq, template


def _kernel_udp_socket(ns: str, ip: str, port: int) -> socket.socket:
    with netns.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
    s.settimeout(2)
    return s


def test_filter_steers_only_matching_frames(veth_pair, make_umem):
    """udp:9000 goes to AF_XDP; UDP to another port still reaches the kernel's own socket.
    A's neighbour entry for B is static, so no ARP crosses the link: the filter's counters are
    exactly the six datagrams, three matched and three passed."""
    a, b = veth_pair.a, veth_pair.b
    ub = make_umem(frame_count=512)
    subprocess.run(["ip", "-n", a.netns, "neigh", "replace", b.ip, "lladdr", b.mac, "dev", a.ifname,
                    "nud", "permanent"], check=True)
    kernel_sock = _kernel_udp_socket(b.netns, b.ip, 7777)
    with kernel_sock, xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, filter="udp:9000") as rx:
        # traffic from the kernel stack of A: three datagrams to each port
        with netns.entered(a.netns):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sender:
            for _ in range(3):
                sender.sendto(b"to-xsk", (b.ip, 9000))
                sender.sendto(b"to-kernel", (b.ip, 7777))
        assert [kernel_sock.recvfrom(100)[0] for _ in range(3)] == [b"to-kernel"] * 3
        payloads: list[bytes] = []
        deadline = time.monotonic() + 2
        while len(payloads) < 3 and time.monotonic() < deadline:
            got = rx.recv(16, timeout=0.2)
            payloads += [bytes(got.data(i))[42:] for i in range(len(got))]
            got.release()
        assert payloads == [b"to-xsk"] * 3
        assert len(rx.recv(16, timeout=0.2)) == 0
        assert rx.filter_hits() == [3, 3]


def test_filter_changes_at_run_time(veth_pair, make_umem):
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, filter="udp:1234") as rx:
        tpl = template(veth_pair)  # UDP to port 9000
        assert send_seq(tx, tpl, 0, 100) == 100
        tx.flush()
        assert len(rx.recv(256, timeout=0.3)) == 0
        rx.set_filter("udp:9000-9001, ether:0x88b5")
        r = Receiver(rx, tpl)
        assert send_seq(tx, tpl, 0, 100) == 100
        tx.flush()
        assert r.drain(100) == 100 and r.perfect
        assert rx.filter_hits()[:2] == [100, 0]


@pytest.mark.parametrize(("spec", "message"), [
    ("udp:0", "port range"), ("udp:70000", "port range"), ("tcp:9-3", "port range"),
    ("ether:zz", "EtherType"), ("dst:1.2.3", "address"), ("bogus:1", "unknown filter term"),
    (",".join(["udp"] * 17), "at most 16"),
])
def test_bad_filters(spec, message, make_umem):
    with pytest.raises(xsk.ConfigError, match=message):
        xsk.Socket(make_umem(frame_count=8), "lo", filter=spec)
