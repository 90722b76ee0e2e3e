"""``xsk capture IFACE -w FILE``: receive into a pcap (or pcapng) that tcpdump, Wireshark and scapy read.

With ``--queues 0-3`` one process captures from a socket per queue, all on one UMEM, into the
one file, in the order the batches were read (each queue's frames in their order).
"""

from __future__ import annotations

import argparse
import select
import time
from typing import TYPE_CHECKING

from .. import pcap
from ..traffic.checksums import ChecksumCount
from . import common
from .sink import add_receive_options, open_receiver, pinned_program

if TYPE_CHECKING:
    from ..socket import Socket
    from ..umem import Umem


def _open(args: argparse.Namespace, queues: list[int]) -> tuple[Umem, list[Socket]]:
    """One UMEM and a socket per queue on it, each keeping its share of the frames on its fill ring."""
    if len(queues) == 1:
        umem, sock = open_receiver(args, queues[0])
        return umem, [sock]
    import xsk

    pinned = pinned_program(args)
    umem = xsk.Umem(frame_count=args.frames, frame_size=args.frame_size)
    socks: list[Socket] = []
    try:
        for q in queues:
            socks.append(xsk.Socket(umem, args.ifname, queue=q, mode=args.mode, tx=False, netns=args.netns,
                                    xdp_mode=args.xdp_mode, filter=args.filter, program=pinned,
                                    fill_frames=args.frames // len(queues), ring_size=args.ring_size))
    except BaseException:
        for s in reversed(socks):
            s.close()
        umem.close()
        raise
    return umem, socks


def run(args: argparse.Namespace) -> int:
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    queues = common.parse_queues(args.queues, args.queue)
    umem, socks = _open(args, queues)
    packets = nbytes = 0
    sums = ChecksumCount()
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration, stream=None)
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
    kernel: dict[str, int] = {}
    causes: list[dict[str, object]] = []
    footprint: dict[str, object] = {}
    health = common.Health(umem, args.verify_ledger)
    try:
        with pcap.Writer(args.write, pcapng=args.pcapng, snaplen=args.frame_size) as writer:
            common.quiet_gc()
            t0 = time.monotonic()
            deadline = t0 + args.duration if args.duration else None
            try:
                while (args.count is None or packets < args.count) and (
                        deadline is None or time.monotonic() < deadline):
                    got = 0
                    for sock in socks:
                        want = args.batch if args.count is None else min(args.batch, args.count - packets)
                        if want <= 0:
                            break
                        b = sock.recv(want, timeout=0 if len(socks) > 1 else 0.05)
                        if len(b):
                            writer.write_batch(b.gather(), b.lens, time.time_ns())
                            sums.add(b)
                            packets += len(b)
                            nbytes += int(b.lens.sum())
                            got += len(b)
                            b.release()
                            health.traffic_started()
                    if not got and len(socks) > 1:
                        poller.poll(50)
                    if health.due():
                        health.check()
                    if reporter.due() and args.json:
                        reporter.tick(packets, nbytes, {"kernel": common.add_counters([s.statistics() for s in socks])})
            except KeyboardInterrupt:
                pass
            kernel = common.add_counters([s.statistics() for s in socks])
            causes = common.merge_causes([common.cause_dicts(s.diagnose()) for s in socks])
        footprint = health.summary()
    finally:
        for s in reversed(socks):
            s.close()
        umem.close()
    seconds = time.monotonic() - t0
    out = {"packets": packets, "bytes": nbytes, "seconds": round(seconds, 6), "file": args.write,
           "format": "pcapng" if args.pcapng else "pcap", "kernel": kernel, **sums.summary(), **footprint}
    if len(queues) > 1:
        out["queues"] = queues
    common.warn("xsk capture", out, common.cause_lines(causes) + sums.warnings())
    common.summary(out, args.json)
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    p.add_argument("-w", "--write", required=True, metavar="FILE", help="output file")
    p.add_argument("--pcapng", action="store_true", help="write pcapng instead of pcap")
    common.add_socket_options(p, ring_size=4096)
    p.add_argument("--queues", metavar="Q1-Q2", help="several queues, one socket each on one UMEM, e.g. 0-3")
    add_receive_options(p)
    common.add_health_options(p)
    p.set_defaults(func=run)
