"""``xsk fwd IFACE [IFACE2]``: reflect frames back (or out of IFACE2) from the same UMEM frames.

Received frames are never copied: their MACs (and optionally IPs and ports) are swapped
in place and the same frames are put on the TX ring, a batch in one C call
(``Socket.forward``); after their TX completes they go back to the fill ring. Nothing is
dropped here: a full TX ring leaves frames on the RX ring (the kernel counts what that
ring had no room for in ``rx_dropped``). With IFACE2 both sockets share one UMEM
(XDP_SHARED_UMEM). ``--verify-ledger`` checks the whole frame ledger once a second, as gen
and sink do, and the summary carries the memory footprint and where every frame ended.
"""

from __future__ import annotations

import argparse
import time

from ..errors import HostError
from ..traffic import linkdown
from . import common
from .sink import pinned_program


def run(args: argparse.Namespace) -> int:
    import xsk

    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    umem = xsk.Umem(frame_count=args.frames, frame_size=args.frame_size)
    forwarded = 0
    with umem:
        rx = xsk.Socket(umem, args.ifname, queue=args.queue, mode=args.mode, netns=args.netns,
                        xdp_mode=args.xdp_mode, filter=args.filter, fill_frames=args.frames // 2,
                        ring_size=args.ring_size, program=pinned_program(args))
        with rx:
            tx = rx
            if args.ifname2:
                tx = xsk.Socket(umem, args.ifname2, queue=args.queue, mode=args.mode, rx=False,
                                netns=args.netns2 or args.netns, ring_size=args.ring_size)
            try:
                reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
                health = common.Health(umem, args.verify_ledger)
                link_down = 0.0
                common.quiet_gc()
                t0 = time.monotonic()
                deadline = t0 + args.duration if args.duration else None
                try:
                    while (args.count is None or forwarded < args.count) and (
                        deadline is None or time.monotonic() < deadline
                    ):
                        want = args.batch if args.count is None else min(args.batch, args.count - forwarded)
                        try:
                            forwarded += rx.forward(want, timeout=0.05, out=tx, swap_macs=True,
                                                    swap_ips=args.swap_ip, swap_ports=args.swap_ports)
                        except HostError as exc:  # the outgoing link went down: wait for it
                            accepted, waited = linkdown.ride_out(exc, tx, None, deadline)
                            forwarded += accepted
                            link_down += waited
                        if forwarded:
                            health.traffic_started()
                        if health.due():
                            health.check()
                        if reporter.due():
                            reporter.tick(forwarded, 0, {"kernel": rx.statistics()})
                except KeyboardInterrupt:
                    pass
                linkdown.flush(tx, timeout=1)
                footprint = health.summary()
                kernel = rx.statistics()
                causes = common.merge_causes([common.cause_dicts(rx.diagnose())] + (
                    [common.cause_dicts(tx.diagnose())] if tx is not rx else []))
            finally:
                if tx is not rx:
                    tx.close()
        seconds = time.monotonic() - t0
    out = {"forwarded": forwarded, "seconds": round(seconds, 6),
           "pps": round(forwarded / seconds, 1) if seconds else 0.0, "kernel": kernel, **footprint,
           "accounting": umem.accounting()._asdict()}  # after close: every frame back in the pool
    lines = common.cause_lines(causes)
    if link_down:
        out["link_down_seconds"] = round(link_down, 3)
        lines.append(common.down_line("xsk fwd", args.ifname2 or args.ifname, link_down))
    common.warn("xsk fwd", out, lines)
    common.summary(out, args.json)
    return common.EXIT_OK


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
