"""``xsk gen IFACE``: a packet generator (pktgen / trafgen / TRex style) on AF_XDP.

The packet is built once (from options, a scapy template or a pcap), copied into every
UMEM frame, and each batch only gets its varying fields and checksums patched.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import link, netns, pcap
from ..errors import ConfigError, HostError, UnsupportedError, XskError
from ..socket import Mode
from ..traffic import linkdown, ranges, template
from ..traffic.generator import SendConfig, merge_streams, send_profile
from ..traffic.health import FOOTPRINT_KEYS
from ..traffic.mix import StreamPlan, resolve
from ..traffic.pacer import Pacer, parse_rate
from ..traffic.packet import IPPROTO_UDP, SEQ_LEN, Field, PacketPlan, layout, varying_fields
from ..traffic.profile import Profile
from ..traffic.sender import merge_tx_stamps
from . import common

PROG = "xsk gen"


@dataclass
class GenConfig:
    """Everything a worker needs, picklable (workers may be separate processes)."""

    ifname: str
    netns: str | None
    mode: Mode
    batch: int
    frame_size: int
    frames: int
    ring_size: int = 2048
    frame: bytes = b""
    pcap_frames: list[bytes] = field(default_factory=list)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    seq: bool = False
    seq_start: int = 0
    random: bool = False
    count: int | None = None
    duration: float | None = None
    pps: float | None = None
    burst: int = 0
    engine: str = "afxdp"
    verify_ledger: bool = False
    plans: list[StreamPlan] = field(default_factory=list)  # --profile: the streams, resolved
    one_stream: bool = False  # plans is the packet options' one stream (its id: the queue number)
    queues: list[int] = field(default_factory=list)
    tx_timestamps: bool = False  # --tx-timestamps: the kernel's completion timestamp of every packet


def build(args: argparse.Namespace) -> GenConfig:
    """Validate the options and build the packet(s); ConfigError for anything wrong."""
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    common.check_positive("--batch", args.batch)
    if not 0 <= args.seq_start < 1 << 56:
        raise ConfigError(f"--seq-start {args.seq_start}: sequence numbers are 0..2^56-1")
    cfg = GenConfig(args.ifname, args.netns, args.mode, args.batch, args.frame_size, args.frames,
                    ring_size=args.ring_size, random=args.random, count=args.count, duration=args.duration,
                    seq_start=args.seq_start, verify_ledger=args.verify_ledger, tx_timestamps=args.tx_timestamps)
    if cfg.tx_timestamps:
        _check_tx_timestamps(args)
    with netns.entered(args.netns):
        link.ifindex(args.ifname, args.netns)
        iface_mac = link.mac_address(args.ifname)
        iface_ip = link.ipv4_address(args.ifname)
    cfg.queues = common.parse_queues(args.queues, args.queue)
    if args.profile:
        _build_profile(args, cfg, iface_mac, iface_ip)
        return cfg
    sources = [bool(args.template), bool(args.pcap)]
    if sum(sources) > 1:
        raise ConfigError("--template and --pcap can't be combined")
    if args.pcap:
        if any(getattr(args, f) and "-" in getattr(args, f) for f in ("src_ip", "dst_ip", "src_port", "dst_port")):
            raise ConfigError("field ranges can't be combined with --pcap (its frames are sent as they are)")
        capture = pcap.read(args.pcap)
        if not len(capture):
            raise ConfigError(f"{args.pcap} holds no frames")
        too_big = [len(f) for f in capture.frames if len(f) > args.frame_size]
        if too_big:
            raise ConfigError(f"{args.pcap} holds a {max(too_big)}-byte frame, larger than the "
                              f"{args.frame_size}-byte UMEM frame (use --frame-size 4096)")
        cfg.pcap_frames = capture.frames
    else:
        frame, fields = _frame(args, iface_mac, iface_ip)
        if len(frame) > args.frame_size:
            raise ConfigError(f"the {len(frame)}-byte frame is larger than the {args.frame_size}-byte UMEM frame")
        lay = layout(frame)
        fits = lay.payload is not None and lay.payload + SEQ_LEN <= len(frame)
        if args.seq is True and not fits:
            raise ConfigError(f"--seq needs {SEQ_LEN} bytes of UDP/TCP payload: use a larger --size")
        cfg.seq = fits and (args.seq if args.seq is not None else lay.l4_proto == IPPROTO_UDP)
        cfg.frame = frame
        cfg.fields = fields
        PacketPlan(frame, _fields(cfg), seq=cfg.seq)  # validates offsets now, not in a worker
    cfg.engine = _choose_engine(args, cfg)
    frame_len = len(cfg.frame) if cfg.frame else int(np.mean([len(f) for f in cfg.pcap_frames]))
    if args.rate:
        cfg.pps = parse_rate(args.rate, frame_len)
    cfg.burst = args.burst or (max(1, min(args.batch, int((cfg.pps or 0) / 1000) or 1)) if cfg.pps else args.batch)
    if cfg.engine == "afxdp" and not cfg.pcap_frames:
        cfg.plans = [_one_stream(cfg)]
        cfg.one_stream = True
    return cfg


def _check_tx_timestamps(args: argparse.Namespace) -> None:
    """--tx-timestamps: what it works with, and whether this build and kernel can (before any worker)."""
    from .. import txmeta

    if args.pcap:
        raise ConfigError("--tx-timestamps measures from the transmit time in each packet's sequence header; "
                          "--pcap frames are sent as they are, without one")
    if args.engine == "xdp":
        raise ConfigError("--tx-timestamps asks AF_XDP's TX metadata for each packet's timestamp: it needs "
                          "--engine afxdp (the XDP engine's frames never pass a socket's completion ring)")
    txmeta.require("xsk gen --tx-timestamps")


def _one_stream(cfg: GenConfig) -> StreamPlan:
    """The packet options as a one-stream profile: sent by the same scheduler, pacer and
    patcher as ``--profile`` (one code path), as stream ``stream0``."""
    return StreamPlan(0, "stream0", cfg.frame, cfg.frame, np.array([len(cfg.frame)], dtype=np.uint32),
                      sizes_random=False, fields=dict(cfg.fields), random=cfg.random, seq=cfg.seq, pps=cfg.pps,
                      burst=cfg.burst, seq_start=cfg.seq_start)


PACKET_OPTIONS = ("template", "pcap", "src_mac", "src_ip", "dst_ip", "src_port", "dst_port", "size", "vlan", "tcp",
                  "random", "seq")


def _build_profile(args: argparse.Namespace, cfg: GenConfig, iface_mac: str, iface_ip: str | None) -> None:
    """--profile FILE: its streams resolved here (errors before any worker starts)."""
    given = [f"--{o.replace('_', '-')}" for o in PACKET_OPTIONS if getattr(args, o) not in (None, False)]
    if given:
        raise ConfigError(f"{', '.join(given)} can't be combined with --profile: its streams give their packets")
    if args.engine == "xdp":
        raise ConfigError("--engine xdp sends one template; a profile's streams need --engine afxdp")
    profile = Profile.load(args.profile)
    if args.rate:
        if not any(s.percent is not None for s in profile.streams):
            raise ConfigError(f"--rate with --profile sets the total that percent streams share; {args.profile} "
                              "has none (set each stream's rate in the file)")
        profile = Profile(profile.streams, rate=args.rate, source=profile.source)
    cfg.plans = resolve(profile, src_mac=iface_mac, dst_mac=args.dst_mac or "ff:ff:ff:ff:ff:ff",
                        src_ip=iface_ip, frame_size=args.frame_size)
    if len(cfg.plans) * len(cfg.queues) > 256:
        raise ConfigError(f"{len(cfg.plans)} streams on {len(cfg.queues)} queues need more than 256 stream ids")
    cfg.engine = "afxdp"
    cfg.burst = args.batch


def _xdp_engine_unfit(cfg: GenConfig) -> str | None:
    """Why the XDP engine can't make this traffic, or None if it can."""
    if cfg.pcap_frames:
        return "--pcap"
    if cfg.fields:
        return "field ranges"
    if cfg.seq and layout(cfg.frame).ip_version != 4:
        return "--seq on IPv6 (the UDP checksum would have to change per frame)"
    return None


def _choose_engine(args: argparse.Namespace, cfg: GenConfig) -> str:
    """afxdp, xdp, or for auto: zero-copy AF_XDP if the driver has it, else xdp if it fits, else afxdp
    (always afxdp with --tx-timestamps)."""
    if args.engine == "xdp":
        unfit = _xdp_engine_unfit(cfg)
        if unfit:
            raise ConfigError(f"--engine xdp can't do {unfit}: use --engine afxdp")
        return "xdp"
    if args.engine == "auto":
        if _zero_copy_available(cfg, args.queue):
            cfg.mode = "zerocopy"
            return "afxdp"
        return "xdp" if _xdp_engine_unfit(cfg) is None and not cfg.tx_timestamps else "afxdp"
    return "afxdp"


def _zero_copy_available(cfg: GenConfig, queue: int) -> bool:
    import xsk

    try:
        with xsk.Umem(frame_count=64, hugepages="off") as umem, xsk.Socket(
            umem, cfg.ifname, queue=queue, mode="zerocopy", rx=False, netns=cfg.netns, ring_size=64
        ):
            return True
    except xsk.UnsupportedError:
        return False


def _frame(args: argparse.Namespace, iface_mac: str, iface_ip: str | None) -> tuple[bytes, dict[str, np.ndarray]]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.packet import Raw

    values: dict[str, np.ndarray] = {}
    src_mac = iface_mac
    if args.src_mac:
        values["src_mac"] = ranges.macs(args.src_mac)
        src_mac = ":".join(f"{b:02x}" for b in values["src_mac"][0])
    dst_mac = args.dst_mac or "ff:ff:ff:ff:ff:ff"
    ips: dict[str, tuple[int, np.ndarray]] = {}
    for name in ("src_ip", "dst_ip"):
        text = getattr(args, name)
        if text:
            ips[name] = ranges.addresses(text)
            values[name] = ips[name][1]
    for name in ("src_port", "dst_port"):
        text = getattr(args, name)
        if text:
            values[name] = ranges.ports(text)

    def first_ip(name: str, default: str) -> str:
        if name not in ips:
            return default
        import ipaddress

        return str(ipaddress.ip_address(bytes(ips[name][1][0])))

    if args.template:
        pkt = template.addressed(template.parse(args.template), src_mac=src_mac, dst_mac=dst_mac,
                                 src_ip=first_ip("src_ip", iface_ip or "192.0.2.1"))
        frame = bytes(pkt)
        if args.size and args.size > len(frame):
            frame = bytes(pkt / Raw(bytes(args.size - len(frame))))
    else:
        versions = {v for v, _ in ips.values()}
        if len(versions) > 1:
            raise ConfigError("--src-ip and --dst-ip must both be IPv4 or both IPv6")
        v6 = versions == {6}
        src = first_ip("src_ip", "fd00::1" if v6 else (iface_ip or "192.0.2.1"))
        dst = first_ip("dst_ip", "fd00::2" if v6 else "192.0.2.2")
        sport = int(values["src_port"][0]) if "src_port" in values else 1234
        dport = int(values["dst_port"][0]) if "dst_port" in values else 9000
        l2 = Ether(src=src_mac, dst=dst_mac)
        if args.vlan is not None:
            if not 0 <= args.vlan < 4095:
                raise ConfigError(f"--vlan {args.vlan}: VLAN ids are 0..4094")
            l2 = l2 / Dot1Q(vlan=args.vlan)
        l3 = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
        l4 = TCP(sport=sport, dport=dport) if args.tcp else UDP(sport=sport, dport=dport)
        headers = l2 / l3 / l4
        # the default: 60 bytes, or just enough for the headers and the sequence header (IPv6, VLAN)
        size = args.size or max(60, len(headers) + (SEQ_LEN if args.seq is not False and (args.seq or not args.tcp)
                                                    else 0))
        if size < 60:
            raise ConfigError(f"--size {size}: Ethernet frames are at least 60 bytes (without FCS)")
        pad = size - len(headers)
        if pad < 0:
            raise ConfigError(f"--size {size} is smaller than the {len(headers)} bytes of headers")
        frame = bytes(headers / Raw(bytes(pad)))
    if len(frame) < 60:
        frame = frame + bytes(60 - len(frame))
    return frame, values


def _fields(cfg: GenConfig) -> list[Field]:
    return varying_fields(cfg.frame, **cfg.fields)


def pcap_worker(cfg: GenConfig, queue: int, stream: int, count: int | None, pps: float | None,
                report: Any, stop: Any = None) -> dict[str, Any]:
    """Send a capture's frames in a cycle on one queue; call ``report(dict)`` about once a second;
    return the final totals. (Templates and profiles go through ``profile_worker``.)"""
    import xsk

    store, lens = pcap.Capture(cfg.pcap_frames, np.zeros(len(cfg.pcap_frames), dtype=np.int64)).rows()
    with xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size) as umem:
        with xsk.Socket(umem, cfg.ifname, queue=queue, mode=cfg.mode, rx=False, netns=cfg.netns,
                        ring_size=cfg.ring_size) as sock:
            pacer = Pacer(pps, cfg.burst) if pps else None
            health = common.Health(umem, cfg.verify_ledger)
            index = cfg.seq_start
            sent = nbytes = 0
            link_down = 0.0  # seconds the interface was down under the loop (linkdown)
            common.quiet_gc()
            t0 = time.monotonic()
            deadline = t0 + cfg.duration if cfg.duration else None
            next_report = t0 + 1.0
            b = umem.take(0)  # one batch, refilled in place every round (into=)
            while True:
                now = time.monotonic()
                if (count is not None and sent >= count) or (deadline and now >= deadline):
                    break
                if stop is not None and stop.is_set():
                    break
                if health.due():
                    health.check()
                if now >= next_report:
                    report({"queue": queue, "packets": sent, "bytes": nbytes, "kernel": sock.statistics()})
                    next_report = now + 1.0
                want = cfg.batch if count is None else min(cfg.batch, count - sent)
                if pacer is not None:
                    want = pacer.grant(want)
                    if not want:
                        continue
                b = umem.take(want, into=b)
                if not len(b):
                    sock.complete()
                    sock.poll(0.001, rx=False, tx=True)
                    continue
                idx = (index + np.arange(len(b))) % len(store)
                b.lens[:] = lens[idx]
                umem.write_rows(b.addrs, store[idx])
                try:
                    k = sock.send(b)
                except HostError as exc:
                    k, waited = linkdown.ride_out(exc, sock, None if stop is None else stop.is_set, deadline)
                    link_down += waited
                nbytes += int(lens[idx[:k]].sum()) if k else 0
                if len(b):
                    umem.release(b)  # backpressure: they go again next round
                sent += k
                index += k
                if pacer is not None:
                    pacer.consumed(k)
            linkdown.flush(sock, timeout=2)
            seconds = time.monotonic() - t0
            result = {"queue": queue, "packets": sent, "bytes": nbytes, "seconds": seconds,
                      "link_down_seconds": round(link_down, 3),
                      "mode": sock.mode, "kernel": sock.statistics(), **health.summary(),
                      "causes": common.cause_dicts(sock.diagnose())}
        result["accounting"] = umem.accounting()._asdict()
    return result


def profile_worker(cfg: GenConfig, queue: int, stream: int, count: int | None, pps: float | None,
                   report: Any, stop: Any = None) -> dict[str, Any]:
    """Send a profile's streams on one queue (``cfg.plans``): xsk.traffic.generator's worker."""
    q = cfg.queues.index(queue) if queue in cfg.queues else 0
    send = SendConfig(cfg.ifname, netns=cfg.netns, mode=cfg.mode, batch=cfg.batch, frames=cfg.frames,
                      frame_size=cfg.frame_size, ring_size=cfg.ring_size, verify_ledger=cfg.verify_ledger,
                      tx_timestamps=cfg.tx_timestamps)
    kernel: dict[str, int] = {}

    def tick(mix: Any, packets: int, counters: dict[str, int] | None) -> None:
        if counters is not None:
            kernel.update(counters)
            streams = mix.results()
            report({"queue": queue, "packets": packets, "bytes": sum(r["bytes"] for r in streams),
                    "kernel": dict(kernel), "per_stream": {r["name"]: r["packets"] for r in streams}})

    plans = [dataclasses.replace(cfg.plans[0], stream_id=stream)] if cfg.one_stream else cfg.plans
    return send_profile(send, plans, queue, q, len(cfg.queues) or 1, count=count, duration=cfg.duration,
                        stop=(lambda: stop.is_set()) if stop is not None else None, tick=tick)


def xdp_worker(cfg: GenConfig, queue: int, stream: int, count: int | None, pps: float | None,
               report: Any, stop: Any = None) -> dict[str, Any]:
    """Send with BPF_PROG_RUN live frames (the kernel transmits copies of the template)."""
    try:
        return _xdp_send(cfg, queue, stream, count, pps, report, stop)
    except UnsupportedError as exc:
        raise UnsupportedError(f"{exc}; or use --engine afxdp", errno=exc.errno) from None


def _xdp_send(cfg: GenConfig, queue: int, stream: int, count: int | None, pps: float | None,
              report: Any, stop: Any) -> dict[str, Any]:
    import socket

    from ..traffic.xdpgen import XdpGenerator

    frame = bytearray(cfg.frame)
    lay = layout(cfg.frame)
    seq_offset = None
    if cfg.seq and lay.l4 is not None:  # --seq on the XDP engine: IPv4 UDP (see _xdp_engine_unfit)
        seq_offset = lay.payload
        frame[lay.l4 + 6 : lay.l4 + 8] = b"\0\0"  # no UDP checksum: the program does not recompute it
    with netns.entered(cfg.netns):
        ifindex = socket.if_nametoindex(cfg.ifname)
        tx_before = link.counters(cfg.ifname).get("tx_packets", 0)
        gen = XdpGenerator(bytes(frame), ifindex, queue, seq_offset=seq_offset, stream=stream,
                           first_seq=cfg.seq_start)
        try:
            pacer = Pacer(pps, cfg.burst) if pps else None
            sent = 0
            common.quiet_gc()
            t0 = time.monotonic()
            deadline = t0 + cfg.duration if cfg.duration else None
            next_report = t0 + 1.0
            # Each BPF_PROG_RUN call ends with ~20 ms of idle wait here (an RCU grace period), so
            # paced runs send bursts of ~1/20 s, and unpaced ones overlap two calls (XdpGenerator.blast).
            # Frames are flushed to the peer in batches; more than 64 at once overflowed veth's
            # 256-entry peer queue in a test (20 of 5,000 dropped), and cost no speed to avoid.
            batch = min(cfg.batch, 64)

            def tick() -> None:
                nonlocal next_report
                now = time.monotonic()
                if now >= next_report:
                    report({"queue": queue, "packets": gen.sent, "bytes": gen.sent * len(frame), "kernel": {}})
                    next_report = now + 1.0

            if pacer is None:
                # both threads on one CPU: the engine is one core's work, and the peer's NAPI runs there too
                allowed = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {_cpu_for(queue)})
                try:
                    sent = gen.blast(count, deadline, lambda: stop is not None and stop.is_set(), batch, tick=tick)
                finally:
                    os.sched_setaffinity(0, allowed)
            else:
                pacer = Pacer(pacer.pps, max(cfg.burst, int(pacer.pps / 20) or 1))
                chunk = 1 << 18
                while (count is None or sent < count) and (deadline is None or time.monotonic() < deadline):
                    if stop is not None and stop.is_set():
                        break
                    tick()
                    want = chunk if count is None else min(chunk, count - sent)
                    want = pacer.grant(want)
                    if not want:
                        continue
                    pacer.consumed(want)
                    sent += gen.send(want, batch_size=batch)
            seconds = time.monotonic() - t0
        finally:
            gen.close()
        time.sleep(0.05)  # the last flushes
        left = min(sent, link.counters(cfg.ifname).get("tx_packets", 0) - tx_before)
    # The engine sees no completions: what left is what the interface counted (its own traffic in
    # the same time can only hide refused frames, never invent sent ones).
    return {"queue": queue, "packets": left, "bytes": left * len(frame), "seconds": seconds, "mode": "xdp",
            "kernel": {}, "attempted": sent, "refused": sent - left}


def _cpu_for(queue: int) -> int:
    """The CPU a queue's worker runs on: queue i on the i-th CPU this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[queue % len(cpus)]


def _child(cfg: GenConfig, queue: int, stream: int, count: int | None, pps: float | None,
           reports: Any, stop: Any, cpu: int | None) -> None:
    try:
        if cpu is not None:  # one core per queue: the kernel's copy-mode TX work runs on it too
            os.sched_setaffinity(0, {cpu})
        run_one = profile_worker if cfg.plans else xdp_worker if cfg.engine == "xdp" else pcap_worker
        result = run_one(cfg, queue, stream, count, pps, lambda r: reports.put(("tick", r)), stop)
        reports.put(("done", result))
    except XskError as exc:
        reports.put(("error", str(exc)))
    except KeyboardInterrupt:
        reports.put(("error", "interrupted"))


@contextlib.contextmanager
def _ctrl_c_stops() -> Iterator[threading.Event]:
    """An Event that the first Ctrl-C (SIGINT) sets, so the send loop ends as a count would and
    the summary still comes; a second one interrupts as usual. Only the main thread can catch
    signals: elsewhere the Event is never set by one."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    cfg = build(args)
    queues = common.parse_queues(args.queues, args.queue)
    reporter = common.Reporter(args.json, total=cfg.count, duration=cfg.duration)
    per_count = [None] * len(queues) if cfg.count is None else [
        cfg.count // len(queues) + (1 if i < cfg.count % len(queues) else 0) for i in range(len(queues))]
    per_pps = cfg.pps / len(queues) if cfg.pps else None
    results: list[dict[str, Any]] = []
    live_keys = ("kernel", "per_stream") if args.profile else ("kernel",)  # options: one stream, the totals
    if len(queues) == 1:
        def report(r: dict[str, Any]) -> None:
            reporter.tick(r["packets"], r["bytes"], {k: r[k] for k in live_keys if k in r})

        run_one = profile_worker if cfg.plans else xdp_worker if cfg.engine == "xdp" else pcap_worker
        with _ctrl_c_stops() as stop_now:
            results.append(run_one(cfg, queues[0], queues[0], per_count[0], per_pps, report, stop_now))
    else:
        ctx = mp.get_context("spawn")
        reports, stop = ctx.Queue(), ctx.Event()
        cpus = sorted(os.sched_getaffinity(0))
        pin = [cpus[i] for i in range(len(queues))] if len(queues) <= len(cpus) else [None] * len(queues)
        procs = [ctx.Process(target=_child, args=(cfg, q, q, per_count[i], per_pps, reports, stop, pin[i]),
                             daemon=True)
                 for i, q in enumerate(queues)]
        for p in procs:
            p.start()
        latest: dict[int, dict[str, Any]] = {}
        errors: list[str] = []
        try:
            while len(results) + len(errors) < len(procs):
                try:
                    kind, payload = reports.get(timeout=0.5)
                except queue_mod.Empty:
                    if not any(p.is_alive() for p in procs):
                        errors.append("a worker exited without reporting")
                    continue
                if kind == "tick":
                    latest[payload["queue"]] = payload
                    if reporter.due():
                        live: dict[str, int] = {}
                        for r in latest.values() if args.profile else ():
                            for name, n in r.get("per_stream", {}).items():
                                live[name] = live.get(name, 0) + n
                        reporter.tick(sum(r["packets"] for r in latest.values()),
                                      sum(r["bytes"] for r in latest.values()),
                                      {"per_stream": live} if live else None)
                elif kind == "done":
                    results.append(payload)
                else:
                    errors.append(payload)
                    stop.set()
        except KeyboardInterrupt:
            stop.set()
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()
        if errors:
            raise XskError(f"worker failed: {errors[0]}")
    reporter.finish()
    packets = sum(r["packets"] for r in results)
    nbytes = sum(r["bytes"] for r in results)
    seconds = max(r["seconds"] for r in results)
    kernel = common.add_counters([r["kernel"] for r in results])
    out = {"packets": packets, "bytes": nbytes, "seconds": round(seconds, 6),
           "pps": round(packets / seconds, 1) if seconds else 0.0,
           "bps": round(nbytes * 8 / seconds, 1) if seconds else 0.0,
           "mode": results[0]["mode"], "queues": queues, "kernel": kernel}
    if cfg.plans:
        out["per_stream"] = merge_streams(results)
    if cfg.tx_timestamps:
        out["tx_timestamps"] = merge_tx_stamps([r["tx_timestamps"] for r in results],
                                               [st["name"] for st in results[0]["streams"]])
    if "rss_kib" in results[0]:  # the AF_XDP engine's workers report their footprint and frames
        out.update(common.merge_footprints([{k: r[k] for k in FOOTPRINT_KEYS} for r in results]))
        out["accounting"] = {k: sum(r["accounting"][k] for r in results) for k in results[0]["accounting"]}
    lines = common.cause_lines(common.merge_causes([r.get("causes", []) for r in results]))
    down = max(r.get("link_down_seconds", 0.0) for r in results)
    if down:
        out["link_down_seconds"] = down
        lines.append(linkdown.down_line("xsk gen", cfg.ifname, down))
    refused = sum(r.get("refused", 0) for r in results)
    if refused:
        out["refused"] = refused
        lines.append(_refused_line(cfg, refused, sum(r.get("attempted", 0) for r in results)))
    short = _rate_shortfall(cfg, out["pps"], seconds, len(queues))
    if short:
        lines.append(short)
    if args.profile:  # a one-stream run made from options has the line above
        lines += _stream_shortfalls(out.get("per_stream", {}), seconds)
    common.warn("xsk gen", out, lines)
    if "per_stream" in out and not args.json:
        per_stream = out.pop("per_stream")
        common.summary(out, False)
        if args.profile:
            print(_stream_table(per_stream))
    else:
        common.summary(out, args.json)
    if refused and not packets:
        return common.fail("xsk gen", "no frame left the interface: every one was refused (see the warning)",
                           common.EXIT_FAILURE)
    return common.EXIT_OK


def _stream_shortfalls(per_stream: dict[str, dict[str, Any]], seconds: float) -> list[str]:
    """A sentence for each paced stream that fell more than 1% short of its rate (runs of 1 s or more)."""
    if seconds < 1.0:
        return []
    return [f"stream {name!r}: asked for {s['asked_pps']:,.0f} pps, sent {s['pps']:,.0f} "
            f"({s['pps'] / s['asked_pps']:.0%}): the path could not carry the profile's sum; lower the rates or "
            "spread them over more queues (--queues)"
            for name, s in per_stream.items()
            if s["asked_pps"] and s["pps"] is not None and s["packets"] > s["asked_pps"]
            and s["pps"] < 0.99 * s["asked_pps"]]


def _stream_table(per_stream: dict[str, dict[str, Any]]) -> str:
    head = ("stream", "ids", "packets", "bytes", "pps", "asked pps")
    rows = [head] + [(name, ",".join(map(str, s["ids"])), f"{s['packets']:,}", f"{s['bytes']:,}",
                      "-" if s["pps"] is None else f"{s['pps']:,.0f}",
                      "-" if s["asked_pps"] is None else f"{s['asked_pps']:,.0f}")
                     for name, s in per_stream.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _refused_line(cfg: GenConfig, refused: int, attempted: int) -> str:
    """Why the XDP engine's frames did not leave, where we can tell."""
    with netns.entered(cfg.netns):
        driver = link.driver_name(cfg.ifname)
    why = ("the veth peer has no XDP program, and veth drops XDP frames sent to a peer without one: "
           "run a receiver on the peer (xsk sink, or any XDP program), or use --engine afxdp") \
        if driver == "veth" else (f"the {driver} driver refused XDP transmits (ndo_xdp_xmit): check that it "
                                  "supports them (ethtool -S for xdp_xmit_errors), or use --engine afxdp")
    return (f"{refused} of {attempted} frames never left {cfg.ifname} (its TX counter did not count them): "
            f"{why}")


def _rate_shortfall(cfg: GenConfig, pps: float, seconds: float, queues: int) -> str | None:
    """A sentence when the run fell more than 1% short of --rate (runs of a second or more)."""
    if not cfg.pps or seconds < 1.0 or pps >= 0.99 * cfg.pps:
        return None
    asked = f"asked for {cfg.pps:,.0f} pps, sent {pps:,.0f} ({pps / cfg.pps:.0%})"
    if cfg.burst <= 1:
        return (f"{asked}: with --burst 1 every frame costs a wakeup of the kernel; a burst of 16-64 keeps "
                "the average rate with far fewer")
    if cfg.engine == "afxdp":
        return (f"{asked}: the kernel's copy-mode transmit is one core's work per queue; spread the rate "
                f"over more queues (--queues 0-{queues}), or use --engine xdp for one template at high rates")
    return f"{asked}: the engine could not keep up on this machine; spread the rate over more queues (--queues)"



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ifname", metavar="IFACE")
    common.add_socket_options(p)
    common.add_health_options(p)
    g = p.add_argument_group("packet")
    g.add_argument("--dst-mac", help="destination MAC (default ff:ff:ff:ff:ff:ff)")
    g.add_argument("--src-mac", help="source MAC or range (default: the interface's)")
    g.add_argument("--src-ip", help="source address or range, IPv4 or IPv6 (default: the interface's)")
    g.add_argument("--dst-ip", help="destination address or range (default 192.0.2.2)")
    g.add_argument("--src-port", help="source port or range (default 1234)")
    g.add_argument("--dst-port", help="destination port or range (default 9000)")
    g.add_argument("--size", type=int, help="frame length without FCS, 60..frame size (default 60, or what the "
                   "headers and the sequence header need)")
    g.add_argument("--vlan", type=int, help="802.1Q VLAN id")
    g.add_argument("--tcp", action="store_true", help="TCP instead of UDP")
    g.add_argument("--template", help="scapy expression, e.g. \"Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)\"")
    g.add_argument("--pcap", help="send the frames of this pcap/pcapng in a cycle")
    g.add_argument("--profile", metavar="FILE",
                   help="send the streams of a traffic profile (TOML, or a Python file defining `profile`); "
                   "--rate then sets the total its percent streams share")
    g.add_argument("--random", action="store_true", help="draw range values at random instead of in order")
    g.add_argument("--seq", dest="seq", action="store_true", default=None,
                   help="sequence number + timestamp payload (default on for UDP)")
    g.add_argument("--no-seq", dest="seq", action="store_false")
    g.add_argument("--seq-start", type=int, default=0, help="first sequence number (default 0)")
    g.add_argument("--tx-timestamps", action="store_true",
                   help="ask the kernel for every packet's completion timestamp (AF_XDP TX metadata: Linux 6.8+, "
                   "libxdp 1.5+) and report, per stream, how long after its header's transmit time it was sent "
                   "(tx_timestamps.header_to_kernel_us)")
    r = p.add_argument_group("amount and rate")
    r.add_argument("--count", type=int, help="packets to send")
    r.add_argument("--duration", type=float, help="seconds to send")
    r.add_argument("--rate", help="100k, 1.5M (packets/s) or 2Gbit (bits/s)")
    r.add_argument("--burst", type=int, default=0, help="most packets sent back to back when paced")
    r.add_argument("--queues", help="several queues, one worker process each, e.g. 0-3")
    r.add_argument("--engine", default="afxdp", choices=("afxdp", "xdp", "auto"),
                   help="afxdp: an AF_XDP socket; xdp: the kernel transmits copies of the packet from an XDP "
                   "program (BPF_PROG_RUN live frames; constant packets or --seq on IPv4, the peer needs an XDP "
                   "program or GRO); auto: zero-copy AF_XDP if the driver has it, else xdp if it fits, else afxdp")
    p.set_defaults(func=run)
