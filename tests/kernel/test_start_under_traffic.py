"""A socket opened while traffic already flows to its queue drops nothing as it starts: the
program steers frames to it only once its fill ring holds frames (before, ~50 frames per start
at 300k pps were counted in rx_fill_ring_empty_descs)."""

from __future__ import annotations

import time

import xsk

from .test_cli import drain, first_sending, start


def test_opening_under_traffic_drops_nothing(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    gen = start("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "200k", "--json")
    collect = None
    try:
        # flowing (to b's kernel stack, until a socket takes them): once gen counts packets, not
        # after a fixed sleep, which a busy machine can outlast while gen still starts up
        first_sending(gen)
        collect = drain(gen)  # its per-second lines, read so that it never blocks on the pipe
        for _ in range(4):
            with xsk.Umem(frame_count=16384) as umem, \
                    xsk.Socket(umem, b.ifname, netns=b.netns, ring_size=8192) as sock:
                got = 0
                until = time.monotonic() + 0.5
                while (time.monotonic() < until or not got) and time.monotonic() < until + 10:
                    batch = sock.recv(256, timeout=0.05)
                    got += len(batch)
                    batch.release()
                stats = sock.statistics()
                assert got > 0, got  # traffic really was there
                assert stats["rx_fill_ring_empty_descs"] == 0 and stats["rx_dropped"] == 0, stats
    finally:
        gen.terminate()
        gen.wait(timeout=30)
        if collect is not None:
            collect()
