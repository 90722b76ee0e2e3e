"""``xsk sink IFACE``: receive, count, and check `xsk gen` sequence payloads.

With ``--queues 0-3`` a worker process per queue receives on its own socket (the processes
share the interface's redirect program) and the summary adds their counts up; each stream's
sequence checks are exact when it arrives on one queue, as ``xsk gen --queues`` sends them.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from ..traffic import receiver
from ..traffic.profile import Profile
from ..traffic.receiver import ReceiveConfig, Sink, name_streams, summarize
from . import common

if TYPE_CHECKING:
    from ..pinned import PinnedProgram
    from ..socket import Socket
    from ..umem import Umem


def add_receive_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", help="steer only these frames here, e.g. udp:9000 or ether:0x88b5; "
                                    "the rest goes to the kernel stack")
    p.add_argument("--count", type=int, help="stop after N packets")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.add_argument("--pin", metavar="DIR", help="use xsk's program pinned by `xsk prog attach --pin DIR` "
                                               "(no root: CAP_NET_RAW is enough)")


def pinned_program(args: argparse.Namespace) -> PinnedProgram | None:
    """``--pin DIR``: the program a privileged `xsk prog attach` pinned (the worker needs CAP_NET_RAW only)."""
    if not getattr(args, "pin", None):
        return None
    from ..pinned import PinnedProgram

    return PinnedProgram(args.pin)


def receive_config(args: argparse.Namespace) -> ReceiveConfig:
    """The options as the library's ReceiveConfig (checked here, so errors name the flags)."""
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    return ReceiveConfig(args.ifname, netns=args.netns, queue=args.queue, filter=args.filter, mode=args.mode,
                         xdp_mode=args.xdp_mode, batch=args.batch, frames=args.frames, frame_size=args.frame_size,
                         ring_size=args.ring_size, count=args.count, duration=args.duration,
                         verify_ledger=getattr(args, "verify_ledger", False), pin=getattr(args, "pin", None),
                         histogram=getattr(args, "json", False), spin=_spin(args))


def _profile(args: argparse.Namespace) -> Profile | None:
    return Profile.load(args.profile) if getattr(args, "profile", None) else None


def _spin(args: argparse.Namespace) -> bool:
    """--spin / --no-spin, else spin when the --profile has a latency stream."""
    if getattr(args, "spin", None) is not None:
        return bool(args.spin)
    profile = _profile(args)
    return profile is not None and any(s.latency for s in profile.streams)


def open_receiver(args: argparse.Namespace, queue: int | None = None) -> tuple[Umem, Socket]:
    """The UMEM and receiving socket the options describe (closing the UMEM if the socket fails)."""
    return receiver.open_receiver(receive_config(args), queue)


def _several(args: argparse.Namespace, queues: list[int], reporter: common.Reporter) -> dict[str, Any]:
    """A worker process per queue (xsk.traffic.Sink); stops them all when their packets add up to --count."""
    cfg = receive_config(args)
    with Sink(args.ifname, queues=queues, **{k: v for k, v in vars(cfg).items() if k != "ifname"}) as sink:
        try:
            while True:
                live = sink.stats()
                if args.count is not None and live["packets"] >= args.count:
                    break
                if sink.finished():
                    break
                if reporter.due():
                    reporter.tick(live["packets"], live["bytes"])
                time.sleep(0.01)
        except KeyboardInterrupt:
            pass
        return sink.stop()


def _check_here(args: argparse.Namespace, queues: list[int]) -> None:
    """What the workers would refuse, refused here with the usual message and exit status."""
    from .. import filter as filter_mod
    from .. import link, netns
    from ..errors import QueueRangeError

    filter_mod.parse(args.filter)
    with netns.entered(args.netns):
        rx, _ = link.queue_counts(link.ifindex(args.ifname, args.netns))
    if queues[-1] >= rx:
        raise QueueRangeError(f"--queues {queues[0]}-{queues[-1]}: {args.ifname} has {rx} RX queues "
                              f"(valid: 0..{rx - 1})")


def run(args: argparse.Namespace) -> int:
    queues = common.parse_queues(args.queues, args.queue)
    cfg = receive_config(args)
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
    if len(queues) == 1:
        part = receiver.receive(cfg, queues[0], tick=reporter.tick)
        out = summarize([part], histogram=args.json)
    else:
        _check_here(args, queues)
        out = _several(args, queues, reporter)
    reporter.finish()
    profile = _profile(args)
    if profile is not None:
        name_streams(out, profile, len(queues))
    lines = common.cause_lines(out.pop("causes")) + out.pop("checksum_warnings")
    common.warn("xsk sink", out, lines)
    if args.json:
        common.summary(out, True)
    else:
        per_stream = out.pop("per_stream")
        common.summary(out, False)
        print(stream_table(per_stream))
    return common.EXIT_OK


def stream_table(per_stream: dict[str, dict[str, Any]]) -> str:
    """The per-stream results as a plain-text table (one row per stream id)."""
    def num(v: float | None, digits: int = 1) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    head = ("stream", "name", "packets", "pps", "lost", "dup", "reord", "p50 us", "p99 us", "p99.9 us", "max us",
            "jitter us")
    rows = [head]
    for k, s in per_stream.items():
        lat = s["latency_us"]
        rows.append((k, s.get("name", ""), f"{s['packets']:,}", num(s["pps"], 0), f"{s['lost']:,}",
                     f"{s['duplicates']:,}", f"{s['reordered']:,}", num(lat["p50"]), num(lat["p99"]),
                     num(lat["p99.9"]), num(lat["max"]), num(s["jitter_us"], 2)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    # veth has no backpressure: every frame waits on the fill ring and the RX ring holds them all, so
    # 16,384 absorb a 50 ms stall of the receiver at 300k pps (a 2-core machine deschedules it for
    # 15 ms now and then: with 4,096 the soak lost 602 frames to an empty fill ring)
    common.add_socket_options(p, ring_size=16384, frames=16384)
    p.add_argument("--queues", metavar="Q1-Q2", help="several queues, one worker process each, e.g. 0-3")
    common.add_health_options(p)
    add_receive_options(p)
    p.add_argument("--profile", metavar="FILE", help="the profile gen sends: its stream names label the results, "
                   "and a latency stream in it makes --spin the default")
    p.add_argument("--spin", dest="spin", action="store_true", default=None,
                   help="re-read the RX ring instead of sleeping in poll(): latency without the sink's own "
                   "wake-up, at the cost of a whole core")
    p.add_argument("--no-spin", dest="spin", action="store_false")
    p.set_defaults(func=run)
