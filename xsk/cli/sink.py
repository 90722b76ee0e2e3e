"""``xsk sink IFACE``: receive, count, and check `xsk gen` sequence payloads."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from ..traffic.seqstats import SeqStats
from . import common
from .checksums import ChecksumCount

if TYPE_CHECKING:
    from ..socket import Socket
    from ..umem import Umem


def add_receive_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", help="steer only these frames here, e.g. udp:9000 or ether:0x88b5; "
                                    "the rest goes to the kernel stack")
    p.add_argument("--count", type=int, help="stop after N packets")
    p.add_argument("--duration", type=float, help="stop after S seconds")


def open_receiver(args: argparse.Namespace) -> tuple[Umem, Socket]:
    """The UMEM and receiving socket the options describe (closing the UMEM if the socket fails)."""
    import xsk

    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    umem = xsk.Umem(frame_count=args.frames, frame_size=args.frame_size)
    try:
        # the UMEM is ours alone: every frame can wait on the fill ring, the deepest buffer for bursts
        sock = xsk.Socket(umem, args.ifname, queue=args.queue, mode=args.mode, tx=False, netns=args.netns,
                          xdp_mode=args.xdp_mode, filter=args.filter, fill_frames=args.frames,
                          ring_size=args.ring_size)
    except BaseException:
        umem.close()
        raise
    return umem, sock


def run(args: argparse.Namespace) -> int:
    umem, sock = open_receiver(args)
    stats = SeqStats()
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
    packets = nbytes = 0
    first = last = None
    health = common.Health(umem, args.verify_ledger)
    sums = ChecksumCount()
    footprint: dict[str, int] = {}
    b = None  # one batch, refilled in place every round (into=)
    try:
        with umem, sock:
            t0 = time.monotonic()
            deadline = t0 + args.duration if args.duration else None
            while (args.count is None or packets < args.count) and (deadline is None or time.monotonic() < deadline):
                want = args.batch if args.count is None else min(args.batch, args.count - packets)
                b = sock.recv(want, timeout=0.05, into=b)
                if len(b):
                    now = time.time_ns()
                    first = first or time.monotonic()
                    last = time.monotonic()
                    stats.add_frames(b, now)
                    sums.add(b)
                    packets += len(b)
                    nbytes += int(b.lens.sum())
                    b.release()
                if health.due():
                    health.check()
                if reporter.due():
                    reporter.tick(packets, nbytes, {"kernel": sock.statistics()})
            kernel = sock.statistics()
            footprint = health.summary()
    except KeyboardInterrupt:
        kernel = {}
    reporter.finish()
    seconds = (last - first) if first and last and last > first else (time.monotonic() - t0)
    out = {"packets": packets, "bytes": nbytes, "seconds": round(seconds, 6),
           "pps": round(packets / seconds, 1) if seconds else 0.0, **stats.summary(), "kernel": kernel,
           **sums.summary(), **footprint, "accounting": umem.accounting()._asdict()}  # after close: all in the pool
    if sums.warnings():
        out["warnings"] = sums.warnings()
    sums.warn("xsk sink")
    common.summary(out, args.json)
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    # veth has no backpressure: a deep RX ring absorbs a sender's bursts while the receiver is descheduled
    common.add_socket_options(p, ring_size=4096)
    common.add_health_options(p)
    add_receive_options(p)
    p.set_defaults(func=run)
