"""``xsk replay FILE IFACE``: send a capture's frames at recorded timing (or faster, or at top speed).

The capture is read and checked by ``xsk.traffic._run_plan.recording`` and sent by
``xsk.traffic._generator.send_recording`` (the one send loop, over a ``Recording``); this module
parses and prints.
"""

from __future__ import annotations

import argparse

from .. import link, netns
from ..traffic._generator import SendConfig, send_recording
from ..traffic._limits import check_mtu
from ..traffic._run_plan import recording
from ..traffic._sender import Source
from . import common


def run(args: argparse.Namespace) -> int:
    capture = recording(args.file, args.frame_size)
    with netns.entered(args.netns):
        link.ifindex(args.ifname, args.netns)
        mtu = link.mtu(args.ifname)
    longest = max(capture.frames, key=len)
    check_mtu(args.ifname, mtu, [(None, len(longest), longest)], sized=False)
    cfg = SendConfig(args.ifname, netns=args.netns, mode=args.mode, batch=args.batch, frames=args.frames,
                     frame_size=args.frame_size, ring_size=args.ring_size)
    reporter = common.Reporter(args.json, total=len(capture) * args.loop)

    def tick(source: Source, packets: int, kernel: dict[str, int] | None) -> None:
        if kernel is not None:
            reporter.tick(packets, source.sent_bytes(), {"kernel": kernel})

    with common.ctrl_c_stops() as stop:
        out = send_recording(cfg, capture, args.queue, speed=args.speed, pps=args.rate, topspeed=args.topspeed,
                             loops=args.loop, stop=stop.is_set, tick=tick)
    reporter.finish()
    seconds = out["seconds"]
    summary = {"packets": out["packets"], "bytes": out["bytes"], "seconds": round(seconds, 6),
               "pps": round(out["packets"] / seconds, 1) if seconds else 0.0,
               "bps": round(out["bytes"] * 8 / seconds, 1) if seconds else 0.0, "mode": out["mode"],
               "kernel": out["kernel"]}
    status = common.interrupted(summary, stop)
    common.summary(summary, args.json)
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="pcap or pcapng")
    p.add_argument("ifname", metavar="IFACE")
    common.add_socket_options(p)
    timing = p.add_mutually_exclusive_group()
    timing.add_argument("--speed", type=float, default=1.0, help="multiple of the recorded timing (default 1)")
    timing.add_argument("--rate", type=float, help="packets per second, evenly spaced")
    timing.add_argument("--topspeed", action="store_true", help="as fast as possible")
    p.add_argument("--loop", type=int, default=1, help="send the capture N times (default 1)")
    p.set_defaults(func=run)
