"""``xsk fwd IFACE [IFACE2]``: reflect frames back (or out of IFACE2) from the same UMEM frames.

Received frames are never copied: their MACs (and optionally IPs and ports) are swapped
in place and the same frames are put on the TX ring; after their TX completes they go
back to the fill ring. With IFACE2 both sockets share one UMEM (XDP_SHARED_UMEM).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..packet import layout
from . import common


def swap(umem, b, swap_ip: bool, swap_ports: bool) -> None:  # type: ignore[no-untyped-def]
    """Swap addresses in every frame of the batch, in place (vectorised; checksums are unchanged)."""
    addrs = b.addrs.astype(np.uint64)
    macs = umem.read_rows(addrs, 12)
    umem.write_rows(addrs, np.concatenate([macs[:, 6:12], macs[:, 0:6]], axis=1))
    if not (swap_ip or swap_ports) or not len(b):
        return
    # assume the batch shares one layout (its first frame's); frames that differ are left alone
    lay = layout(bytes(b.data(0)))
    extent = int(b.lens.min())
    if swap_ip and lay.ip_version:
        src, width = (12, 4) if lay.ip_version == 4 else (8, 16)
        at = lay.l3 + src
        if at + 2 * width <= extent:
            ips = umem.read_rows(addrs + at, 2 * width)
            umem.write_rows(addrs + at, np.concatenate([ips[:, width:], ips[:, :width]], axis=1))
    if swap_ports and lay.l4 is not None and lay.l4 + 4 <= extent:
        ports = umem.read_rows(addrs + lay.l4, 4)
        umem.write_rows(addrs + lay.l4, np.concatenate([ports[:, 2:], ports[:, :2]], axis=1))


def run(args: argparse.Namespace) -> int:
    import xsk

    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    umem = xsk.Umem(frame_count=args.frames, frame_size=args.frame_size)
    forwarded = dropped = 0
    with umem:
        rx = xsk.Socket(umem, args.ifname, queue=args.queue, mode=args.mode, netns=args.netns,
                        xdp_mode=args.xdp_mode, filter=args.filter, fill_frames=args.frames // 2)
        with rx:
            tx = rx
            if args.ifname2:
                tx = xsk.Socket(umem, args.ifname2, queue=args.queue, mode=args.mode, rx=False,
                                netns=args.netns2 or args.netns)
            try:
                reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
                t0 = time.monotonic()
                deadline = t0 + args.duration if args.duration else None
                try:
                    while (args.count is None or forwarded < args.count) and (
                        deadline is None or time.monotonic() < deadline
                    ):
                        b = rx.recv(args.batch, timeout=0.05)
                        if len(b):
                            swap(umem, b, args.swap_ip, args.swap_ports)
                            tries = 0
                            while len(b) and tries < 1000:
                                forwarded += tx.send(b)
                                tries += 1
                            if len(b):  # the TX ring stayed full: drop the rest, back to the fill ring
                                dropped += len(b)
                                rx.release(b)
                        else:
                            tx.complete()
                        if reporter.due():
                            reporter.tick(forwarded, 0, {"kernel": rx.statistics()})
                except KeyboardInterrupt:
                    pass
                tx.flush(timeout=1)
                kernel = rx.statistics()
            finally:
                if tx is not rx:
                    tx.close()
        seconds = time.monotonic() - t0
    common.summary({"forwarded": forwarded, "dropped": dropped, "seconds": round(seconds, 6),
                    "pps": round(forwarded / seconds, 1) if seconds else 0.0, "kernel": kernel}, args.json)
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    p.add_argument("ifname2", metavar="IFACE2", nargs="?", help="send out of this interface instead")
    common.add_socket_options(p)
    p.add_argument("--netns2", metavar="NS", help="namespace of IFACE2 (default: --netns)")
    p.add_argument("--filter", help="forward only these frames (the rest go to the kernel stack)")
    p.add_argument("--swap-ip", action="store_true", help="also swap source and destination IP")
    p.add_argument("--swap-ports", action="store_true", help="also swap UDP/TCP ports")
    p.add_argument("--count", type=int, help="stop after forwarding N packets")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.set_defaults(func=run)
