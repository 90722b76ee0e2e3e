"""``xsk gen IFACE``: a packet generator (pktgen / trafgen / TRex style) on AF_XDP.

The options are handed to ``xsk.traffic._run_plan.plan`` (which checks them and builds the packet
once, from the options, a scapy template, a pcap or a profile) and the plan to
``xsk.traffic._generator.run`` (the send loop on each queue, by engine); this module parses and
prints: the live lines, the summary and its warnings, the per-stream table.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError
from ..traffic import _generator as generator
from ..traffic._ports import one_port_warning
from ..traffic._run_plan import plan
from ..traffic._vary import NAME_FORMS, PAYLOADS, VARY_FORMS
from . import common

PROG = "xsk gen"


def run(args: argparse.Namespace) -> int:
    cfg = plan(args.ifname, netns=args.netns, mode=args.mode, batch=args.batch, frame_size=args.frame_size,
               frames=args.frames, ring_size=args.ring_size, queues=common.parse_queues(args.queues, args.queue),
               count=args.count, duration=args.duration, rate=args.rate, burst=args.burst, engine=args.engine,
               profile=args.profile, pcap=args.pcap, template=args.template, dst_mac=args.dst_mac,
               src_mac=args.src_mac, src_ip=args.src_ip, dst_ip=args.dst_ip, src_port=args.src_port,
               dst_port=args.dst_port, size=args.size, vlan=args.vlan, tcp=args.tcp, random=args.random,
               seq=args.seq, seq_start=args.seq_start, vary=_vary_option(args.vary), payload=args.payload,
               tx_timestamps=args.tx_timestamps,
               verify_ledger=args.verify_ledger)
    common.csv_ready(args.csv)
    reporter = common.Reporter(args.json, total=cfg.count, duration=cfg.duration)
    live_keys = ("kernel", "per_stream") if args.profile else ("kernel",)  # options: one stream, the totals

    def report(r: dict[str, Any]) -> None:
        reporter.tick(r["packets"], r["bytes"], {k: r[k] for k in live_keys if k in r})

    with common.ctrl_c_stops() as stop_now:
        results = generator.run(cfg, report, stop_now.is_set)
    reporter.finish()
    out = generator.summarize(results)
    lines = common.cause_lines(out.pop("causes"))
    attempted, driver = out.pop("attempted", 0), out.pop("driver", "unknown")
    if "link_down_seconds" in out:
        lines.append(common.down_line(PROG, cfg.ifname, out["link_down_seconds"]))
    refused = out.get("refused", 0)
    if refused:
        lines.append(_refused_line(cfg.ifname, driver, refused, attempted))
    lines += generator.rate_warnings(cfg, out)
    if cfg.from_profile:
        lines += generator.stream_warnings(cfg.plans, out)
        lines += [w.replace("a Session over several ports", "`xsk run` over several ports")
                  for w in [one_port_warning(cfg.plans, cfg.ifname)] if w]
    if args.dst_mac is None and not cfg.pcap_frames:
        broadcast = generator.broadcast_warning([(p.name, p.frame) for p in cfg.plans] or [("stream0", cfg.frame)])
        if broadcast:
            lines.append(broadcast)
    status = common.interrupted(out, stop_now)
    common.warn(PROG, out, lines)
    common.write_csv(args.csv, out)
    if "per_stream" in out and not args.json:
        per_stream = out.pop("per_stream")
        common.summary(out, False)
        if args.profile:
            print(_stream_table(per_stream))
    else:
        common.summary(out, args.json)
    if refused and not out["packets"]:
        return common.fail(PROG, "no frame left the interface: every one was refused (see the warning)",
                           common.EXIT_FAILURE)
    return status


def _vary_option(items: list[str] | None) -> dict[str, str] | None:
    """``--vary FIELD=SPEC`` given any number of times, as the library's ``vary=`` table."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        name, eq, spec = item.partition("=")
        if not eq or not name.strip() or not spec.strip():
            raise ConfigError(f"{item!r}: FIELD=HOW, e.g. IP.ttl=inc:1-64 or @22:1=random (fields: {NAME_FORMS}; "
                              f"how: {VARY_FORMS})", argument="vary")
        if name.strip() in out:
            raise ConfigError(f"{name.strip()} is given twice", argument="vary")
        out[name.strip()] = spec.strip()
    return out


def _stream_table(per_stream: dict[str, dict[str, Any]]) -> str:
    head = ("stream", "ids", "packets", "bytes", "pps", "asked pps")
    rows = [head] + [(name, ",".join(map(str, s["ids"])), f"{s['packets']:,}", f"{s['bytes']:,}",
                      "-" if s["pps"] is None else f"{s['pps']:,.0f}",
                      "-" if s["asked_pps"] is None else f"{s['asked_pps']:,.0f}")
                     for name, s in per_stream.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _refused_line(ifname: str, driver: str, refused: int, attempted: int) -> str:
    """Why the XDP engine's frames did not leave, where we can tell."""
    why = ("the veth peer has no XDP program, and veth drops XDP frames sent to a peer without one: "
           "run a receiver on the peer (xsk sink, or any XDP program), or use --engine afxdp") \
        if driver == "veth" else (f"the {driver} driver refused XDP transmits (ndo_xdp_xmit): check that it "
                                  "supports them (ethtool -S for xdp_xmit_errors), or use --engine afxdp")
    return f"{refused} of {attempted} frames never left {ifname} (its TX counter did not count them): {why}"


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
    g.add_argument("--vary", action="append", metavar="FIELD=HOW",
                   help="vary any field of the packet, per packet, checksums kept valid; repeatable. FIELD: "
                   f"{NAME_FORMS}. HOW: {VARY_FORMS}. E.g. --vary IP.ttl=inc:1-64 --vary Dot1Q.vlan=random:100-199")
    g.add_argument("--payload", metavar="PATTERN", help=f"what fills the frame past the headers: {PAYLOADS}")
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
    r.add_argument("--rate", help="packets/s: 100k, 1.5M, 200kpps; bits/s of frames as sent (L2): 2Gbit, 500Mbit/s, "
                   "1Gbps; bits/s on the wire (L1: each frame's FCS, preamble and gap counted, 24 bytes more): "
                   "'10Gbit L1'; or a share of the link's line rate (L1): 50%% (not on veth, which has none)")
    r.add_argument("--burst", type=int, default=0, help="most packets sent back to back when paced")
    r.add_argument("--queues", help="several queues, one worker process each, e.g. 0-3")
    common.add_csv_option(p)
    r.add_argument("--engine", default="afxdp", choices=("afxdp", "xdp", "auto"),
                   help="afxdp: an AF_XDP socket; xdp: the kernel transmits copies of the packet from an XDP "
                   "program (BPF_PROG_RUN live frames; constant packets or --seq on IPv4, the peer needs an XDP "
                   "program or GRO); auto: zero-copy AF_XDP if the driver has it, else xdp if it fits, else afxdp")
    p.set_defaults(func=run)
