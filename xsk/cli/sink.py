"""``xsk sink IFACE``: receive, count, and check `xsk gen` sequence payloads.

With ``--queues 0-3`` a worker process per queue receives on its own socket (the processes
share the interface's redirect program) and the summary adds their counts up; each stream's
sequence checks are exact when it arrives on one queue, as ``xsk gen --queues`` sends them.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue as queue_mod
import time
from typing import TYPE_CHECKING, Any

from ..errors import XskError
from ..traffic.seqstats import SeqStats
from . import common
from .checksums import ChecksumCount

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


def open_receiver(args: argparse.Namespace, queue: int | None = None) -> tuple[Umem, Socket]:
    """The UMEM and receiving socket the options describe (closing the UMEM if the socket fails)."""
    import xsk

    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    umem = xsk.Umem(frame_count=args.frames, frame_size=args.frame_size)
    try:
        # the UMEM is ours alone: every frame can wait on the fill ring, the deepest buffer for bursts
        sock = xsk.Socket(umem, args.ifname, queue=args.queue if queue is None else queue, mode=args.mode,
                          tx=False, netns=args.netns, xdp_mode=args.xdp_mode, filter=args.filter,
                          fill_frames=args.frames, ring_size=args.ring_size, program=pinned_program(args))
    except BaseException:
        umem.close()
        raise
    return umem, sock


def receive(args: argparse.Namespace, queue: int, tick: Any = None, shared: Any = None, slot: int = 0,
            stop: Any = None) -> dict[str, Any]:
    """One queue's sink loop, until --count, --duration or ``stop``; its counts and statistics.

    ``tick(packets, bytes, kernel)`` is called once a second; ``shared[2*slot]`` and
    ``shared[2*slot+1]`` (a multiprocessing array) follow packets and bytes batch by batch, so
    a parent can stop every worker when their sum reaches --count.
    """
    umem, sock = open_receiver(args, queue)
    stats = SeqStats()
    sums = ChecksumCount()
    packets = nbytes = 0
    first = last = None
    health = common.Health(umem, args.verify_ledger)
    footprint: dict[str, int] = {}
    count = args.count if shared is None else None  # several queues: the parent counts
    b = None  # one batch, refilled in place every round (into=)
    common.quiet_gc()
    next_tick = time.monotonic() + 1.0
    t0 = time.monotonic()
    try:
        with umem, sock:
            deadline = t0 + args.duration if args.duration else None
            while (count is None or packets < count) and (deadline is None or time.monotonic() < deadline):
                if stop is not None and stop.is_set():
                    break
                want = args.batch if count is None else min(args.batch, count - packets)
                b = sock.recv(want, timeout=0.05, into=b)
                if len(b):
                    now = time.time_ns()
                    first = first or time.monotonic()
                    last = time.monotonic()
                    stats.add_frames(b, now)
                    sums.add(b)
                    packets += len(b)
                    nbytes += int(b.lens.sum())
                    b.release()
                    if shared is not None:
                        shared[2 * slot], shared[2 * slot + 1] = packets, nbytes
                if health.due():
                    health.check()
                if tick is not None and time.monotonic() >= next_tick:
                    next_tick += 1.0
                    tick(packets, nbytes, sock.statistics())
            kernel = sock.statistics()
            causes = common.cause_dicts(sock.diagnose())
            footprint = health.summary()
    except KeyboardInterrupt:
        kernel, causes = {}, []
    return {"queue": queue, "packets": packets, "bytes": nbytes, "first": first, "last": last, "t0": t0,
            "seq": stats.export(), "kernel": kernel, "footprint": footprint,
            "checksums": {"partial": sums.partial, "bad": sums.bad}, "causes": causes,
            "accounting": umem.accounting()._asdict()}  # after close: all in the pool


def _worker(args: argparse.Namespace, queue: int, slot: int, shared: Any, results: Any, stop: Any) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        results.put(("done", receive(args, queue, shared=shared, slot=slot, stop=stop)))
    except XskError as exc:
        results.put(("error", common.describe(exc)))
    except KeyboardInterrupt:
        results.put(("error", "interrupted"))


def _several(args: argparse.Namespace, queues: list[int], reporter: common.Reporter) -> list[dict[str, Any]]:
    """A worker process per queue; stops them all when their packets add up to --count."""
    ctx = mp.get_context("spawn")
    shared = ctx.RawArray("q", 2 * len(queues))
    results, stop = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(args, q, i, shared, results, stop), daemon=True)
             for i, q in enumerate(queues)]
    for p in procs:
        p.start()
    done: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        while len(done) + len(errors) < len(procs):
            packets = sum(shared[0::2])
            if args.count is not None and packets >= args.count:
                stop.set()
            if reporter.due():
                reporter.tick(packets, sum(shared[1::2]))
            try:
                kind, payload = results.get(timeout=0.01)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs) and results.empty():
                    errors.append("a worker exited without reporting")
                continue
            if kind == "done":
                done.append(payload)
            else:
                errors.append(payload)
                stop.set()
    except KeyboardInterrupt:
        stop.set()
        while len(done) + len(errors) < len(procs):
            try:
                kind, payload = results.get(timeout=10)
            except queue_mod.Empty:
                break
            (done if kind == "done" else errors).append(payload)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    if errors:
        raise XskError(f"a sink worker failed: {errors[0]}")
    return sorted(done, key=lambda r: r["queue"])


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
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    reporter = common.Reporter(args.json, total=args.count, duration=args.duration)
    if len(queues) == 1:
        parts = [receive(args, queues[0], tick=lambda p, b, k: reporter.tick(p, b, {"kernel": k}))]
    else:
        _check_here(args, queues)
        parts = _several(args, queues, reporter)
    reporter.finish()
    packets = sum(r["packets"] for r in parts)
    firsts = [r["first"] for r in parts if r["first"]]
    lasts = [r["last"] for r in parts if r["last"]]
    if firsts and lasts and max(lasts) > min(firsts):
        seconds = max(lasts) - min(firsts)
    else:
        seconds = time.monotonic() - min(r["t0"] for r in parts)
    sums = ChecksumCount()
    sums.partial = sum(r["checksums"]["partial"] for r in parts)
    sums.bad = sum(r["checksums"]["bad"] for r in parts)
    out: dict[str, Any] = {"packets": packets, "bytes": sum(r["bytes"] for r in parts),
                           "seconds": round(seconds, 6), "pps": round(packets / seconds, 1) if seconds else 0.0,
                           **SeqStats.merged([r["seq"] for r in parts], histogram=args.json)}
    if len(queues) > 1:
        out["queues"] = {str(r["queue"]): r["packets"] for r in parts}
    out["kernel"] = common.add_counters([r["kernel"] for r in parts])
    out.update(sums.summary())
    footprints = [r["footprint"] for r in parts if r["footprint"]]
    if footprints:
        out.update(common.merge_footprints(footprints))
    out["accounting"] = {k: sum(r["accounting"][k] for r in parts) for k in parts[0]["accounting"]}
    causes = common.merge_causes([r["causes"] for r in parts])
    common.warn("xsk sink", out, common.cause_lines(causes) + sums.warnings())
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

    head = ("stream", "packets", "pps", "lost", "dup", "reord", "p50 us", "p99 us", "p99.9 us", "max us", "jitter us")
    rows = [head]
    for k, s in per_stream.items():
        lat = s["latency_us"]
        rows.append((k, f"{s['packets']:,}", num(s["pps"], 0), f"{s['lost']:,}", f"{s['duplicates']:,}",
                     f"{s['reordered']:,}", num(lat["p50"]), num(lat["p99"]), num(lat["p99.9"]), num(lat["max"]),
                     num(s["jitter_us"], 2)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    # veth has no backpressure: a deep RX ring absorbs a sender's bursts while the receiver is descheduled
    common.add_socket_options(p, ring_size=4096)
    p.add_argument("--queues", metavar="Q1-Q2", help="several queues, one worker process each, e.g. 0-3")
    common.add_health_options(p)
    add_receive_options(p)
    p.set_defaults(func=run)
