"""Frames the kernel lost or refused are reported in words, with the cause and the fix.

Each cause is made to happen over veth, then read back from the tool's stderr and its --json
"warnings", or from Socket.diagnose().
"""

from __future__ import annotations

import socket
import subprocess
import sys

import xsk
from xsk import netns

from .test_cli import finish, last_json, start, wait_attached

CLI = [sys.executable, "-m", "xsk.cli"]


def test_datagrams_larger_than_a_frame_are_reported_with_the_mtu_and_the_fix(veth_pair_factory):
    pair = veth_pair_factory(mtu=9000)
    a, b = pair.a, pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--filter", "udp:9100", "--duration", "2", "--json")
    wait_attached(b)
    with netns.entered(a.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        for _ in range(100):
            client.sendto(bytes(8000), (b.ip, 9100))
    out, err = finish(sink)
    s = last_json(out)
    assert s["packets"] == 0 and s["kernel"]["rx_dropped"] == 100
    (line,) = [w for w in s["warnings"] if "rx_dropped" in w]
    assert line.startswith("100 frames counted in rx_dropped: the link's MTU (9000)")
    assert "--frame-size 4096" in line and "multi_buffer=True" in line
    assert err.count("xsk sink: warning:") == 1


def test_a_socket_that_is_not_read_diagnoses_its_full_rings(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=1024), make_umem(frame_count=256)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False, ring_size=64,
                    fill_frames=64) as rx:
        assert rx.diagnose() == []
        batch = ua.take(500, 60)
        batch.write_template(bytes.fromhex(veth_pair.b.mac.replace(":", "")) + bytes(54))
        assert tx.send_all(batch) == 500
        tx.flush()
        stats = rx.statistics()
        causes = rx.diagnose()
        moved = {k for k in ("rx_dropped", "rx_ring_full", "rx_fill_ring_empty_descs") if stats[k]}
        assert moved and {c.counter for c in causes} == moved  # one cause per counter that moved
        for c in causes:
            assert c.count == stats[c.counter] and c.fix
        # all but what fit: the 64 fill-ring frames are taken by the first 64 (which fill the RX
        # ring too); for each later frame the kernel finds no buffer before it looks for a ring
        # slot (__xsk_rcv: xsk_buff_alloc fails), so it is counted as dropped, not as ring-full
        assert (stats["rx_dropped"], stats["rx_ring_full"]) == (500 - 64, 0), stats
        assert stats["rx_fill_ring_empty_descs"] == 500 - 64, stats
        b = rx.recv(64, timeout=1)
        assert len(b) == 64
        b.release()


def test_gen_xdp_engine_into_a_peer_without_xdp_says_nothing_left_and_fails(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    before = veth_pair.counters()
    r = subprocess.run([*CLI, "gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp",
                        "--count", "5000", "--json"], capture_output=True, text=True, timeout=60)
    after = veth_pair.counters()
    assert after["b"]["rx_packets"] == before["b"]["rx_packets"]  # indeed nothing arrived
    assert r.returncode == 1
    s = last_json(r.stdout)
    assert s["packets"] == 0 and s["refused"] == 5000
    assert "the veth peer has no XDP program" in s["warnings"][0]
    assert "no frame left the interface" in r.stderr


def test_gen_xdp_engine_counts_what_left_when_the_peer_takes_it(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    b.accept_xdp_frames()
    r = subprocess.run([*CLI, "gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp",
                        "--count", "5000", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    s = last_json(r.stdout)
    assert s["packets"] == 5000 and "refused" not in s and "warnings" not in s
