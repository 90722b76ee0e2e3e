"""xsk.testing's wire tools: attaching programs to veth ends, sending frames exactly as built,
capturing what reaches a kernel stack, the a —— router —— b layout, and cleaning up after all
of them, also when a test fails."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import xsk
from xsk import netns
from xsk.testing import RoutedPair, VethPair, leftover_namespaces
from xsk.testing._xdp import XdpProgram, assert_packet_equal

ROOT = Path(__file__).resolve().parents[2]
FIREWALL = ROOT / "examples" / "xdp" / "port_firewall.c"


def _frame(pair, port: int, payload: bytes = b"x") -> Ether:
    return Ether(src=pair.a.mac, dst=pair.b.mac) / IP(src=pair.a.ip, dst=pair.b.ip) / UDP(sport=1, dport=port) \
        / Raw(payload)


def test_send_and_receive_exactly_as_built(veth_pair):
    # more than one UMEM of frames, each its own port and payload
    frames = [_frame(veth_pair, 7000 + i, bytes([i % 256]) * (i % 64 + 1)) for i in range(300)]
    assert veth_pair.a.send(frames) == 300
    got = [p for p in veth_pair.b.receive(timeout=1) if UDP in p]
    assert len(got) == 300
    for sent, arrived in zip(frames, got, strict=True):
        assert_packet_equal(arrived, sent)


def test_attach_modes_and_detach(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    native = b.attach(FIREWALL)
    assert native.mode == "native" and "prog/xdp" in subprocess.run(
        ["ip", "-n", b.netns, "link", "show", b.ifname], capture_output=True, text=True).stdout
    assert "xsk_napi_pass" in subprocess.run(["ip", "-n", a.netns, "-d", "link", "show", a.ifname],
                                             capture_output=True, text=True).stdout  # the peer keeps receiving
    with pytest.raises(xsk.ResourceBusyError, match="already has an XDP program"):
        b.attach(FIREWALL)
    native.close()
    native.close()  # idempotent
    skb = b.attach(FIREWALL, mode="skb")
    assert "xdpgeneric" in subprocess.run(["ip", "-n", b.netns, "-d", "link", "show", b.ifname],
                                          capture_output=True, text=True).stdout
    skb.close()
    with pytest.raises(xsk.ConfigError, match="must be 'native' or 'skb'"):
        b.attach(FIREWALL, mode="offload")


def test_a_program_attached_to_the_peer_replaces_its_stand_in(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    b.attach(FIREWALL)
    with XdpProgram.load(FIREWALL) as prog:
        mine = a.attach(prog)  # not refused: the pass-through stand-in made room
        assert mine.program is prog and "xsk_napi_pass" not in subprocess.run(
            ["ip", "-n", a.netns, "-d", "link", "show", a.ifname], capture_output=True, text=True).stdout
        mine.close()
        assert not prog.closed  # a program passed in stays the caller's


def test_one_loaded_program_shared_by_a_test_run_and_two_attachments(veth_pair_factory):
    one, two = veth_pair_factory(), veth_pair_factory()
    with XdpProgram.load(FIREWALL) as prog:
        prog.maps["blocked_ports"][9] = 1
        one.b.attach(prog, mode="skb")
        two.b.attach(prog, mode="skb")
        for pair in (one, two):
            pair.a.send([_frame(pair, 9), _frame(pair, 10)])
            assert [p[UDP].dport for p in pair.b.kernel_receive(timeout=0.5) if UDP in p] == [10]
        assert prog.run(_frame(one, 9)).action == "XDP_DROP"
        assert sum(prog.maps["dropped"][9]) == 3


def test_everything_attached_is_detached_when_the_pair_goes_even_after_a_failure():
    pair = VethPair()
    with pytest.raises(RuntimeError), pair:
        pair.b.attach(FIREWALL)
        pair.a.send(_frame(pair, 1))
        raise RuntimeError("the test failed here")
    assert pair.b._wire.attachments == [] and pair.a._wire.napi_pass is None
    assert pair.a._wire.sender is None and pair.b._wire.capture is None
    assert pair.a.netns not in leftover_namespaces() and pair.b.netns not in leftover_namespaces()


def test_routed_pair_forwards_only_when_asked(routed_pair):
    assert routed_pair.a.ip == "198.51.100.1" and routed_pair.b.ip == "203.0.113.1"
    ping = ["ping", "-c", "1", "-W", "1", routed_pair.b.ip]
    assert subprocess.run(["ip", "netns", "exec", routed_pair.a.netns, *ping], capture_output=True).returncode == 1
    with RoutedPair(forwarding=True) as routed:
        ping = ["ping", "-c", "1", "-W", "2", routed.b.ip]
        assert subprocess.run(["ip", "netns", "exec", routed.a.netns, *ping], capture_output=True).returncode == 0
        names = (routed.a.netns, routed.router_netns, routed.b.netns)
    assert not any(netns.exists(n) for n in names)


def test_xdp_statistics_count_per_verdict(veth_pair):
    b = veth_pair.b
    fw = b.attach(FIREWALL)
    fw.maps["blocked_ports"][9] = 1
    before = b.xdp_statistics()
    veth_pair.a.send([_frame(veth_pair, 9), _frame(veth_pair, 9), _frame(veth_pair, 10)])
    b.kernel_receive(timeout=0.3)
    after = b.xdp_statistics()
    assert after["xdp_packets"] - before["xdp_packets"] >= 3  # and any ARP the kernel answered with
    assert after["xdp_drops"] - before["xdp_drops"] == 2


def test_a_failed_attach_puts_the_stand_in_back(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    b.attach(FIREWALL)  # a gets the pass-through stand-in
    with pytest.raises(xsk.ProgramRejectedError):
        a.attach(ROOT / "tests" / "bpf" / "xdp_rejected.c")
    assert a._wire.napi_pass is not None and "xsk_napi_pass" in subprocess.run(
        ["ip", "-n", a.netns, "-d", "link", "show", a.ifname], capture_output=True, text=True).stdout


def test_sent_frames_must_fit_the_link(veth_pair):
    with pytest.raises(xsk.FrameTooLargeError, match="takes frames up to 1518 \\(MTU 1500"):
        veth_pair.a.send(_frame(veth_pair, 1, bytes(1600)))
    with pytest.raises(xsk.ConfigError, match="at least 14"):
        veth_pair.a.send(b"\0" * 5)
    assert veth_pair.a.send(_frame(veth_pair, 1, bytes(1518 - 42))) == 1  # exactly the largest


def test_a_routed_layout_captures_everywhere_from_the_first_attach(routed_pair):
    """Attaching on the router starts captures on all four interfaces, b's included."""
    routed_pair.ra.attach(FIREWALL, mode="skb")
    with netns.entered(routed_pair.a.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"to the router", (routed_pair.ra.ip, 9))
    got = [p for p in routed_pair.ra.receive(timeout=0.5) if UDP in p]
    assert [bytes(p[Raw].load) for p in got] == [b"to the router"]
    assert routed_pair.b._wire.capture is not None and routed_pair.rb._wire.capture is not None
