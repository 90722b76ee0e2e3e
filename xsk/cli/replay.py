"""``xsk replay FILE IFACE``: send a capture's frames at recorded timing (or faster, or at top speed)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from .. import pcap
from ..errors import ConfigError
from ..traffic.pacer import Pacer
from . import common


def run(args: argparse.Namespace) -> int:
    import xsk

    capture = pcap.read(args.file)
    if not len(capture):
        raise ConfigError(f"{args.file} holds no frames")
    too_big = max(len(f) for f in capture.frames)
    if too_big > args.frame_size:
        raise ConfigError(f"{args.file} holds a {too_big}-byte frame, larger than the {args.frame_size}-byte "
                          "UMEM frame (use --frame-size 4096)")
    common.check_positive("--speed", args.speed)
    common.check_positive("--loop", args.loop)
    # frames are laid out once, up front; each batch is one vectorised copy into UMEM frames
    store, lens = capture.rows()
    offsets_s = (capture.timestamps_ns - capture.timestamps_ns[0]) / 1e9
    span = float(offsets_s[-1]) if len(offsets_s) else 0.0
    pacer = None
    if args.rate:
        common.check_positive("--rate", args.rate)
        pacer = Pacer(args.rate, max(1, min(args.batch, int(args.rate / 1000) or 1)))
    total = len(capture) * args.loop
    sent = nbytes = 0
    with xsk.Umem(frame_count=args.frames, frame_size=args.frame_size) as umem, \
         xsk.Socket(umem, args.ifname, queue=args.queue, mode=args.mode, rx=False, netns=args.netns,
                         ring_size=args.ring_size) as sock:
        reporter = common.Reporter(args.json, total=total)
        common.quiet_gc()
        t0 = time.perf_counter()
        try:
            while sent < total:
                i = sent % len(capture)
                lap = sent // len(capture)
                want = min(args.batch, total - sent, len(capture) - i)
                if pacer is not None:
                    want = pacer.grant(want)
                    if not want:
                        continue
                elif not args.topspeed:
                    # recorded timing, scaled: frame i of lap L is due at (L * span + offset_i) / speed
                    now = (time.perf_counter() - t0) * args.speed - lap * span
                    due = int(np.searchsorted(offsets_s, now, side="right")) - i
                    if due <= 0:
                        gap = (offsets_s[i] - now) / args.speed
                        time.sleep(min(max(gap, 0), 0.1)) if gap > 0.0005 else None
                        continue
                    want = min(want, due)
                b = umem.take(want)
                if not len(b):
                    sock.complete()
                    continue
                idx = np.arange(i, i + len(b))
                b.lens[:] = lens[idx]
                umem.write_rows(b.addrs, store[idx])
                k = sock.send(b)
                if len(b):
                    umem.release(b)
                nbytes += int(lens[i : i + k].sum())
                sent += k
                if pacer is not None:
                    pacer.consumed(k)
                if reporter.due():
                    reporter.tick(sent, nbytes, {"kernel": sock.statistics()})
        except KeyboardInterrupt:
            pass
        sock.flush(timeout=2)
        seconds = time.perf_counter() - t0
        kernel = sock.statistics()
        mode = sock.mode
    reporter.finish()
    common.summary({"packets": sent, "bytes": nbytes, "seconds": round(seconds, 6),
                    "pps": round(sent / seconds, 1) if seconds else 0.0,
                    "bps": round(nbytes * 8 / seconds, 1) if seconds else 0.0, "mode": mode,
                    "kernel": kernel}, args.json)
    return common.EXIT_OK


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
