"""``xsk capture IFACE -w FILE``: receive into a pcap (or pcapng) that tcpdump, Wireshark and scapy read.

With ``--queues 0-3`` one process captures from a socket per queue, all on one UMEM, into the
one file, in the order the batches were read (each queue's frames in their order). The loop is
``xsk.traffic._receiver.record``; this module parses and prints.
"""

from __future__ import annotations

import argparse

from ..traffic._receiver import ReceiveConfig, record
from . import common


def run(args: argparse.Namespace) -> int:
    cfg = ReceiveConfig(args.ifname, netns=args.netns, queue=args.queue, filter=args.filter, mode=args.mode,
                        xdp_mode=args.xdp_mode, batch=args.batch, frames=args.frames, frame_size=args.frame_size,
                        ring_size=args.ring_size, count=args.count, duration=args.duration,
                        verify_ledger=args.verify_ledger, pin=args.pin)
    queues = common.parse_queues(args.queues, args.queue)
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration, stream=None)
    with common.ctrl_c_stops() as stop:
        got = record(cfg, args.write, queues=queues, pcapng=args.pcapng, stop=stop.is_set,
                     tick=reporter.tick if args.json else None)
    lines = common.cause_lines(got.pop("causes")) + got.pop("checksum_warnings")
    out = {"packets": got.pop("packets"), "bytes": got.pop("bytes"), "seconds": round(got.pop("seconds"), 6),
           "file": args.write, "format": "pcapng" if args.pcapng else "pcap", **got}
    if len(queues) > 1:
        out["queues"] = queues
    status = common.interrupted(out, stop)
    common.warn("xsk capture", out, lines)
    common.summary(out, args.json)
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    p.add_argument("-w", "--write", required=True, metavar="FILE", help="output file")
    p.add_argument("--pcapng", action="store_true", help="write pcapng instead of pcap")
    common.add_socket_options(p, ring_size=4096)
    p.add_argument("--queues", metavar="Q1-Q2", help="several queues, one socket each on one UMEM, e.g. 0-3")
    common.add_receive_options(p)
    common.add_health_options(p)
    p.set_defaults(func=run)
