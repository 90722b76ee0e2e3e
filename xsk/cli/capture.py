"""``xsk capture IFACE -w FILE``: receive into a pcap (or pcapng) that tcpdump, Wireshark and scapy read."""

from __future__ import annotations

import argparse
import time

from .. import pcap
from . import common
from .checksums import ChecksumCount
from .sink import add_receive_options, open_receiver


def run(args: argparse.Namespace) -> int:
    umem, sock = open_receiver(args)
    packets = nbytes = 0
    sums = ChecksumCount()
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration, stream=None)
    with umem, sock, pcap.Writer(args.write, pcapng=args.pcapng, snaplen=args.frame_size) as writer:
        t0 = time.monotonic()
        deadline = t0 + args.duration if args.duration else None
        try:
            while (args.count is None or packets < args.count) and (deadline is None or time.monotonic() < deadline):
                want = args.batch if args.count is None else min(args.batch, args.count - packets)
                b = sock.recv(want, timeout=0.05)
                if len(b):
                    writer.write_batch(b.gather(), b.lens, time.time_ns())
                    sums.add(b)
                    packets += len(b)
                    nbytes += int(b.lens.sum())
                    b.release()
                if reporter.due() and args.json:
                    reporter.tick(packets, nbytes, {"kernel": sock.statistics()})
        except KeyboardInterrupt:
            pass
        kernel = sock.statistics()
    seconds = time.monotonic() - t0
    out = {"packets": packets, "bytes": nbytes, "seconds": round(seconds, 6), "file": args.write,
           "format": "pcapng" if args.pcapng else "pcap", "kernel": kernel, **sums.summary()}
    if sums.warnings():
        out["warnings"] = sums.warnings()
    sums.warn("xsk capture")
    common.summary(out, args.json)
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    p.add_argument("-w", "--write", required=True, metavar="FILE", help="output file")
    p.add_argument("--pcapng", action="store_true", help="write pcapng instead of pcap")
    common.add_socket_options(p, ring_size=4096)
    add_receive_options(p)
    p.set_defaults(func=run)
