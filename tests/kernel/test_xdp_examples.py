"""examples/xdp on the wire: each example program attached to a veth end and driven by the
real Linux stack (kernel UDP sockets, the real ping) or by frames sent exactly as built, with
what reached each kernel stack and veth's own XDP counters observed."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from xsk import netns
from xsk.testing._xdp import XdpProgram, assert_packet_equal

from .test_examples import ping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "xdp"


def _udp(ns: str, ip: str | None = None, port: int = 0) -> socket.socket:
    with netns.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if ip:
            s.bind((ip, port))
    s.settimeout(0.5)
    return s


def _arrived(server: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(server.recv(100))
        except TimeoutError:
            return got


# --- port_firewall -------------------------------------------------------------------------
def test_port_firewall_filters_the_kernels_traffic_and_follows_its_map(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    blocked, open_port, client = _udp(b.netns, b.ip, 9000), _udp(b.netns, b.ip, 9001), _udp(a.netns)
    with blocked, open_port, client:
        fw = b.attach(EXAMPLES / "port_firewall.c")
        assert fw.mode == "native"
        fw.maps["blocked_ports"][9000] = 1
        for i in range(3):
            client.sendto(b"x%d" % i, (b.ip, 9000))
            client.sendto(b"y%d" % i, (b.ip, 9001))
        assert _arrived(open_port) == [b"y0", b"y1", b"y2"]
        assert _arrived(blocked) == []
        assert sum(fw.maps["dropped"][9000]) == 3
        assert b.xdp_statistics()["xdp_drops"] == 3  # veth's own count agrees
        del fw.maps["blocked_ports"][9000]  # changed while attached: the next datagram passes
        client.sendto(b"z", (b.ip, 9000))
        assert _arrived(blocked) == [b"z"]


def test_port_firewall_on_frames_sent_exactly_as_built(veth_pair):
    """No kernel on the sending side (AF_XDP): exactly the frames to open ports reach b's stack."""
    a, b = veth_pair.a, veth_pair.b
    fw = b.attach(EXAMPLES / "port_firewall.c", mode="skb")
    fw.maps["blocked_ports"][53] = 1
    frames = [Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip) / UDP(sport=1000 + i, dport=port) / Raw(b"p")
              for i, port in enumerate([53, 80, 53, 443])]
    assert a.send(frames) == 4
    # b's kernel answers the datagrams with port-unreachable, and ARPs for a to do so: a's ARP
    # reply reaches b's stack too. Of the datagrams, exactly the two to open ports arrived.
    got = [p for p in b.kernel_receive(timeout=0.5) if UDP in p]
    assert [p[UDP].dport for p in got] == [80, 443]
    assert_packet_equal(got[0], frames[1])
    assert_packet_equal(got[1], frames[3])
    assert sum(fw.maps["dropped"][53]) == 2


# --- icmp_echo ---------------------------------------------------------------------------------
def test_icmp_echo_answers_the_real_ping_for_an_address_no_kernel_owns(veth_pair):
    """192.0.2.99 belongs to nobody: every reply ping gets was made by the program (XDP_TX)."""
    a, b = veth_pair.a, veth_pair.b
    subprocess.run(["ip", "-n", a.netns, "neigh", "replace", "192.0.2.99", "lladdr", b.mac, "dev", a.ifname,
                    "nud", "permanent"], check=True)
    address = int.from_bytes(socket.inet_aton("192.0.2.99"), "little")  # __be32 as it sits in memory
    assert "100% packet loss" in ping(a.netns, "192.0.2.99", count=1).stdout  # nobody answers yet
    echo = b.attach(EXAMPLES / "icmp_echo.c", constants={"address": address})
    result = ping(a.netns, "192.0.2.99", count=3)
    assert result.returncode == 0 and "3 received" in result.stdout, result.stdout
    assert echo.globals["answered"] == 3
    assert b.xdp_statistics()["xdp_tx"] == 3
    assert ping(a.netns, b.ip, count=1).returncode == 0  # b's own address: still b's kernel (address is set)


# --- forwarder ---------------------------------------------------------------------------------
def _forwarder(pair) -> XdpProgram:
    """The forwarder, loaded once and routed both ways across the router."""
    prog = XdpProgram.load(EXAMPLES / "forwarder.c")
    ra, rb = pair.ra.ifindex, pair.rb.ifindex
    with netns.entered(pair.router_netns):  # a devmap resolves interface indexes where it is written
        prog.maps["egress"].update({ra: rb, rb: ra})
    prog.maps["next_hops"][ra] = {"src": bytes.fromhex(pair.rb.mac.replace(":", "")),
                                  "dst": bytes.fromhex(pair.b.mac.replace(":", ""))}
    prog.maps["next_hops"][rb] = {"src": bytes.fromhex(pair.ra.mac.replace(":", "")),
                                  "dst": bytes.fromhex(pair.a.mac.replace(":", ""))}
    return prog


def test_forwarder_rewrites_and_redirects_in_a_test_run(routed_pair):
    with _forwarder(routed_pair) as prog:
        packet = Ether(src=routed_pair.a.mac, dst=routed_pair.ra.mac) / IP(src=routed_pair.a.ip, dst=routed_pair.b.ip,
                                                                           ttl=64) / UDP(dport=9) / Raw(b"fwd")
        result = prog.run(packet, ingress_ifindex=routed_pair.ra.ifname, netns=routed_pair.router_netns)
        assert result.action == "XDP_REDIRECT"
        assert_packet_equal(result.packet, Ether(src=routed_pair.rb.mac, dst=routed_pair.b.mac)
                            / IP(src=routed_pair.a.ip, dst=routed_pair.b.ip, ttl=63) / UDP(dport=9) / Raw(b"fwd"))
        packet[IP].ttl = 1  # would run out: the kernel's to answer with time-exceeded
        assert prog.run(packet, ingress_ifindex=routed_pair.ra.ifname, netns=routed_pair.router_netns).action \
            == "XDP_PASS"
        assert prog.globals["forwarded"] == 1


def test_forwarder_carries_the_kernels_udp_both_ways_across_a_router_that_does_not_forward(routed_pair):
    a, b = routed_pair.a, routed_pair.b
    server, client = _udp(b.netns, b.ip, 9000), _udp(a.netns, a.ip, 0)
    with server, client, _forwarder(routed_pair) as prog:
        client.sendto(b"before", (b.ip, 9000))
        assert _arrived(server) == []  # the router's kernel does not forward
        routed_pair.ra.attach(prog)
        routed_pair.rb.attach(prog)  # one program, both interfaces: its maps are shared
        client.sendto(b"hello", (b.ip, 9000))
        data, peer = server.recvfrom(100)
        assert data == b"hello" and peer[0] == a.ip
        server.sendto(b"back", peer)
        assert client.recv(100) == b"back"
        assert prog.globals["forwarded"] == 2
        (seen,) = [p for p in b.receive(timeout=0.3) if UDP in p]
        assert seen[IP].ttl == 63 and seen[Ether].src == routed_pair.rb.mac  # routed: TTL lowered, MACs rewritten
        assert routed_pair.ra.xdp_statistics()["xdp_redirect"] == 1
        assert routed_pair.rb.xdp_statistics()["xdp_xmit"] == 1  # and sent out of the other interface
