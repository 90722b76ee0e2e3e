"""``xsk fwd IFACE [IFACE2]``: reflect frames back (or out of IFACE2) from the same UMEM frames.

The loop is ``xsk.traffic._forwarder.forward`` (see there: no copies, nothing dropped here, a
shared UMEM with IFACE2, waiting out a link that goes down); this module parses and prints.
``--verify-ledger`` checks the whole frame ledger once a second, as gen and sink do, and the
summary carries the memory footprint and where every frame ended.
"""

from __future__ import annotations

import argparse

from ..traffic._forwarder import ForwardConfig, forward
from . import common


def run(args: argparse.Namespace) -> int:
    cfg = ForwardConfig(args.ifname, args.ifname2, netns=args.netns, netns2=args.netns2, queue=args.queue,
                        mode=args.mode, xdp_mode=args.xdp_mode, batch=args.batch, frames=args.frames,
                        frame_size=args.frame_size, ring_size=args.ring_size, filter=args.filter, pin=args.pin,
                        swap_ips=args.swap_ip, swap_ports=args.swap_ports, count=args.count,
                        duration=args.duration, verify_ledger=args.verify_ledger)
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
    with common.ctrl_c_stops() as stop:
        got = forward(cfg, stop=stop.is_set, tick=reporter.tick)
    lines = common.cause_lines(got.pop("causes"))
    link_down = got.pop("link_down_seconds")
    seconds = got.pop("seconds")
    out = {"forwarded": got.pop("forwarded"), "seconds": round(seconds, 6), "pps": 0.0, **got}
    out["pps"] = round(out["forwarded"] / seconds, 1) if seconds else 0.0
    if link_down:
        out["link_down_seconds"] = link_down
        lines.append(common.down_line("xsk fwd", args.ifname2 or args.ifname, link_down))
    status = common.interrupted(out, stop)
    common.warn("xsk fwd", out, lines)
    common.summary(out, args.json)
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    p.add_argument("ifname2", metavar="IFACE2", nargs="?", help="send out of this interface instead")
    common.add_socket_options(p)
    common.add_health_options(p)
    p.add_argument("--netns2", metavar="NS", help="namespace of IFACE2 (default: --netns)")
    p.add_argument("--filter", help="forward only these frames (the rest go to the kernel stack)")
    p.add_argument("--swap-ip", action="store_true", help="also swap source and destination IP")
    p.add_argument("--swap-ports", action="store_true", help="also swap UDP/TCP ports")
    p.add_argument("--count", type=int, help="stop after forwarding N packets")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.add_argument("--pin", metavar="DIR", help="use xsk's program pinned by `xsk prog attach --pin DIR` "
                                               "(no root: CAP_NET_RAW is enough)")
    p.set_defaults(func=run)
