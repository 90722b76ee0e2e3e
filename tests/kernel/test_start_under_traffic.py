"""A socket opened while traffic already flows to its queue drops nothing as it starts: the
program steers frames to it only once its fill ring holds frames (before, ~50 frames per start
at 300k pps were counted in rx_fill_ring_empty_descs)."""

from __future__ import annotations

import time

import xsk

from .test_cli import start


def test_opening_under_traffic_drops_nothing(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    gen = start("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "200k", "--duration", "8")
    try:
        time.sleep(2)  # flowing (to b's kernel stack, until a socket takes them)
        for _ in range(4):
            with xsk.Umem(frame_count=16384) as umem, \
                    xsk.Socket(umem, b.ifname, netns=b.netns, ring_size=8192) as sock:
                got = 0
                until = time.monotonic() + 0.3
                while time.monotonic() < until:
                    batch = sock.recv(256, timeout=0.05)
                    got += len(batch)
                    batch.release()
                stats = sock.statistics()
                assert got > 10_000, got  # traffic really was there
                assert stats["rx_fill_ring_empty_descs"] == 0 and stats["rx_dropped"] == 0, stats
    finally:
        gen.terminate()
        gen.communicate(timeout=30)
