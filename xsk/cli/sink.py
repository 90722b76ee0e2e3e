"""``xsk sink IFACE``: receive, count, and check `xsk gen` sequence payloads.

With ``--queues 0-3`` a worker process per queue receives on its own socket (the processes
share the interface's redirect program) and the summary adds their counts up; each stream's
sequence checks are exact when it arrives on one queue, as ``xsk gen --queues`` sends them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..traffic import _receiver as receiver
from ..traffic._flows import flow_specs
from ..traffic._profile import Profile
from ..traffic._receiver import ReceiveConfig, Sink, name_streams, summarize
from . import common


def receive_config(args: argparse.Namespace) -> ReceiveConfig:
    """The options as the library's ReceiveConfig (checked here, so errors name the flags)."""
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    profile = _profile(args)
    return ReceiveConfig(args.ifname, netns=args.netns, queue=args.queue, filter=args.filter, mode=args.mode,
                         xdp_mode=args.xdp_mode, batch=args.batch, frames=args.frames, frame_size=args.frame_size,
                         ring_size=args.ring_size, count=args.count, duration=args.duration,
                         verify_ledger=getattr(args, "verify_ledger", False), pin=getattr(args, "pin", None),
                         histogram=getattr(args, "json", False), spin=_spin(args),
                         flows=flow_specs(profile) if profile is not None else None)


def _profile(args: argparse.Namespace) -> Profile | None:
    return Profile.load(args.profile) if getattr(args, "profile", None) else None


def _spin(args: argparse.Namespace) -> bool:
    """--spin / --no-spin, else spin when the --profile has a latency stream."""
    if getattr(args, "spin", None) is not None:
        return bool(args.spin)
    profile = _profile(args)
    return profile is not None and any(s.latency for s in profile.streams)


def _several(args: argparse.Namespace, queues: list[int], reporter: common.Reporter,
             stop: common.Interrupt) -> dict[str, Any]:
    """A worker process per queue (xsk.traffic.Sink), until they add up to --count, --duration,
    Ctrl-C or SIGTERM."""
    cfg = receive_config(args)
    with Sink(args.ifname, queues=queues, **{k: v for k, v in vars(cfg).items() if k != "ifname"}) as sink:
        _say_ready(args, queues)
        return sink.wait(tick=lambda live: reporter.tick(live["packets"], live["bytes"]), stop=stop.is_set)


def _say_ready(args: argparse.Namespace, queues: list[int]) -> None:
    """One line on stderr once every socket is bound: from then on no frame for it is dropped for
    want of a receiver (a script starts its sender when it sees this line)."""
    where = f" in {args.netns}" if args.netns else ""
    print(f"xsk sink: receiving on {args.ifname}{where}, queue{'s' if len(queues) > 1 else ''} "
          f"{', '.join(map(str, queues))}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    queues = common.parse_queues(args.queues, args.queue)
    cfg = receive_config(args)
    common.csv_ready(args.csv)
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
    with common.ctrl_c_stops() as stop:
        if len(queues) == 1:
            part = receiver.receive(cfg, queues[0], tick=reporter.tick, stop=stop,
                                    ready=lambda: _say_ready(args, queues))
            out = summarize([part], histogram=args.json)
        else:
            out = _several(args, queues, reporter, stop)
    reporter.finish()
    profile = _profile(args)
    if profile is not None:
        name_streams(out, profile, len(queues))
    lines = common.cause_lines(out.pop("causes")) + out.pop("checksum_warnings")
    status = common.interrupted(out, stop)
    common.warn("xsk sink", out, lines)
    common.write_csv(args.csv, out)
    if args.json:
        common.summary(out, True)
    else:
        per_stream = out.pop("per_stream")
        unsequenced = out.pop("unsequenced", None)
        flows = out.pop("flows", {})
        common.summary(out, False)
        print(stream_table(per_stream, unsequenced))
        for name, f in flows.items():  # streams without a sequence header, counted by their flow
            print(f"flow {name!r} ({f['matched']}): {f['packets']:,} packets, {f['bytes']:,} bytes")
    return status


def stream_table(per_stream: dict[str, dict[str, Any]], unsequenced: dict[str, int] | None = None) -> str:
    """The per-stream results as a plain-text table: a row per stream id, and one for the frames
    without a sequence header (``unsequenced``: counted, nothing else known of them)."""
    def num(v: float | None, digits: int = 1) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    # "gaps": sequence numbers missing between those that arrived; loss is sent minus received,
    # which only the generator's count can give (xsk report with both runs, xsk.traffic.loss_per_stream)
    head = ("stream", "name", "packets", "pps", "gaps", "dup", "reord", "p50 us", "p99 us", "p99.9 us", "max us",
            "jitter us")
    rows: list[tuple[str, ...]] = [head]
    for k, s in per_stream.items():
        lat = s["latency_us"]
        rows.append((k, s.get("name", ""), f"{s['packets']:,}", num(s["pps"], 0), f"{s['lost']:,}",
                     f"{s['duplicates']:,}", f"{s['reordered']:,}", num(lat["p50"]), num(lat["p99"]),
                     num(lat["p99.9"]), num(lat["max"]), num(s["jitter_us"], 2)))
    if unsequenced:
        rows.append(("-", "unsequenced", f"{unsequenced['packets']:,}", *["-"] * (len(head) - 3)))
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
    common.add_receive_options(p)
    p.add_argument("--profile", metavar="FILE", help="the profile gen sends: its stream names label the results, "
                   "and a latency stream in it makes --spin the default")
    p.add_argument("--spin", dest="spin", action="store_true", default=None,
                   help="re-read the RX ring instead of sleeping in poll(): latency without the sink's own "
                   "wake-up, at the cost of a whole core")
    p.add_argument("--no-spin", dest="spin", action="store_false")
    common.add_csv_option(p)
    p.set_defaults(func=run)
