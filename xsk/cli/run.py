"""``xsk run TX_IFACE RX_IFACE --profile FILE``, or ``xsk run --profile FILE --port a=IFACE@NETNS
--port b=...``: gen and sink from one command, one live table.

Both forms are one ``xsk.traffic.Session``. With the two interfaces, a Sink on RX_IFACE given the
profile, then a Generator on TX_IFACE (destination RX_IFACE's MAC unless ``--dst-mac``). With
``--port`` (repeated), a run over several ports: each stream leaves the port its ``port`` key
names (the first one without it), every port that can receive counts whatever arrives, in both
directions when the interfaces have two queues (``xsk.traffic._ports``). The run is followed once
a second (``Session.follow``) and joined at the end as sent minus received
(``xsk.traffic._join``); ``xsk.traffic._session_lines`` gives the ``--json`` lines, which ``xsk
report`` reads (over ports, with each stream's ports and the per-port table). This module parses
and prints: the live table on a terminal (rich; a port column over ports), a line a second
elsewhere, the final per-stream table (and per-port one), warnings, the exit status (gen's: 0, or
130/143 after SIGINT/SIGTERM, the summary saying ``interrupted``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..errors import ConfigError
from ..traffic import Port
from ..traffic import _session_lines as lines
from ..traffic._join import table
from ..traffic._profile import Profile
from ..traffic._session import Session, receiver_mac
from . import common

PROG = "xsk run"
PORT_FORM = "NAME=IFACE[@NETNS][,dst=MAC][,tx=Q[-Q]][,rx=Q[-Q]|,rx=none]"


def parse_port(text: str) -> tuple[str, Port]:
    """``NAME=IFACE[@NETNS][,dst=MAC][,tx=Q[-Q]][,rx=Q[-Q]|none]`` as a port's name and Port."""
    name, eq, rest = text.partition("=")
    parts = rest.split(",")
    where = parts[0]
    if not eq or not name or not where:
        raise ConfigError(f"{text!r}: expected {PORT_FORM}, e.g. a=veth0@ns-a,dst=02:00:00:00:00:0b",
                          argument="port")
    ifname, _, netns = where.partition("@")
    options: dict[str, str] = {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if not eq or key not in ("dst", "tx", "rx") or key in options:
            raise ConfigError(f"{text!r}: {part!r}: expected dst=MAC, tx=Q[-Q] or rx=Q[-Q]|none, each once",
                              argument="port")
        options[key] = value
    queues: dict[str, list[int] | None] = {}
    for key in ("tx", "rx"):
        given = options.get(key)
        if given is None:
            queues[key] = None
        elif key == "rx" and given == "none":
            queues[key] = []
        else:
            try:
                queues[key] = common.parse_queues(given, 0)
            except ConfigError:
                raise ConfigError(f"{text!r}: {key}={given}: a queue or a range, e.g. 1 or 0-3",
                                  argument="port") from None
    return name, Port(ifname, netns=netns or None, tx_queues=queues["tx"], rx_queues=queues["rx"],
                      dst_mac=options.get("dst"))


def _ports(items: list[str]) -> dict[str, Port]:
    out: dict[str, Port] = {}
    for item in items:
        name, port = parse_port(item)
        if name in out:
            raise ConfigError(f"port {name!r} is given twice", argument="port")
        out[name] = port
    return out


def _check_form(args: argparse.Namespace) -> None:
    """Two interfaces or ``--port``s, not both, not neither; the two-interface options only with them."""
    ifaces = [i for i in (args.tx_ifname, args.rx_ifname) if i is not None]
    if args.port and ifaces:
        raise ConfigError("give TX_IFACE RX_IFACE or --port (one per port), not both")
    if not args.port and len(ifaces) < 2:
        raise ConfigError("give TX_IFACE RX_IFACE (gen on one, sink on the other) or --port "
                          f"{PORT_FORM} for each port of the run" if not ifaces else
                          "RX_IFACE missing: give TX_IFACE RX_IFACE, or --port for each port of the run")
    if args.port:
        given = [f for f, v in (("--netns", args.netns), ("--rx-netns", args.rx_netns), ("--dst-mac", args.dst_mac))
                 if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)}: with --port, each port gives its namespace (IFACE@NETNS) and "
                              "destination (dst=MAC)")


def _session(args: argparse.Namespace, profile: Profile) -> Session:
    if args.port:
        return Session(ports=_ports(args.port), profile=profile)
    rx_netns = args.rx_netns if args.rx_netns is not None else args.netns
    dst_mac = args.dst_mac or receiver_mac(args.rx_ifname, rx_netns)
    return Session(args.tx_ifname, args.rx_ifname, profile, tx_netns=args.netns, rx_netns=rx_netns,
                   dst_mac=dst_mac)


def port_table(per_port: dict[str, dict[str, Any]], plan: dict[str, Port]) -> str:
    """Per port: interface, the queues each side used, packets and bytes sent and received."""
    head = ("port", "iface", "tx queues", "rx queues", "tx packets", "rx packets", "tx bytes", "rx bytes")
    rows = [head]
    for name, port in plan.items():
        p = per_port.get(name, {})
        rows.append((name, port.where(), ",".join(map(str, port.tx_queues or [])) or "-",
                     ",".join(map(str, port.rx_queues or [])) or "-", f"{p.get('tx_packets', 0):,}",
                     f"{p.get('rx_packets', 0):,}", f"{p.get('tx_bytes', 0):,}", f"{p.get('rx_bytes', 0):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def run(args: argparse.Namespace) -> int:
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    common.check_positive("--settle", args.settle, allow_zero=True)
    _check_form(args)
    profile = Profile.load(args.profile)
    tty = sys.stdout.isatty() and not args.json
    with _session(args, profile) as session, common.ctrl_c_stops() as stop:
        session.start(count=args.count, duration=args.duration)
        if tty:
            joined = _live(session, stop, args.settle)
        else:
            joined = session.follow(lambda snap: _line(snap, args.json), stop=stop.is_set, settle=args.settle)
        sent, got = session.generator.results or {}, session.sink.results or {}
    warnings = list(sent.pop("warnings", []))
    if session.plan is not None:  # a port's destination is its --port's dst=, not an option of its own
        warnings = [w.replace("no dst_mac= given", "no dst=MAC given").replace("with dst_mac=",
                                                                               "with dst=MAC in its --port")
                    for w in warnings]
    else:  # streams naming ports, sent from TX_IFACE alone: the other form sends each from its own
        warnings = [w.replace("a Session over several ports", "`xsk run` with a --port for each") for w in warnings]
    said = warnings + common.cause_lines(sent.pop("causes", [])) + common.cause_lines(got.pop("causes", [])) + \
        list(got.pop("checksum_warnings", []))
    out = lines.summary(sent, got, joined, plan=session.plan, per_port=session.per_port)
    status = common.interrupted(out, stop)
    common.warn(PROG, out, said)
    if args.json:
        print(json.dumps(out))
        return status
    print(table(joined))
    t = out["totals"]
    pct = "-" if t["loss_pct"] is None else f"{t['loss_pct']:g}%"
    print(f"total: sent {t['sent']:,}, received {t['received']:,}, lost {t['lost']:,} ({pct})"
          + (f"; not counted: {', '.join(t['uncounted'])}" if t["uncounted"] else ""))
    if session.plan is not None:
        print(port_table(session.per_port or {}, session.plan))
    if "interrupted" in out:
        print(f"interrupted: {out['interrupted']}")
    return status


def _live(session: Session, stop: common.Interrupt, settle: float) -> Any:
    """The live per-stream table on the terminal, redrawn each second, then the joined results."""
    from rich.console import Console

    return session.live(refresh=1.0, console=Console(file=sys.stdout, force_terminal=True), settle=settle,
                        stop=stop.is_set)


def _line(snap: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(lines.second(snap)), flush=True)
        return
    cells = ", ".join(f"{r['stream']}{' (' + r['port'] + ')' if 'port' in r else ''} "
                      f"{r['tx']:,}/{'-' if r['rx'] is None else format(r['rx'], ',')}" for r in snap["streams"])
    print(f"{time.strftime('%H:%M:%S')} tx/rx {cells}", flush=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tx_ifname", nargs="?", metavar="TX_IFACE", help="the interface gen sends from (or give --port)")
    p.add_argument("rx_ifname", nargs="?", metavar="RX_IFACE", help="the interface the sink receives on")
    p.add_argument("--profile", metavar="FILE", required=True,
                   help="the streams to send (TOML, or a Python file defining `profile`); the sink is given it "
                   "too (stream names, flows of streams without a sequence header, spin for latency streams); "
                   "with --port, a stream's `port` names the port it leaves")
    p.add_argument("--port", action="append", metavar="NAME=IFACE[@NETNS]",
                   help=f"instead of TX_IFACE RX_IFACE, a port of the run, repeatable: {PORT_FORM}. dst: the MAC of "
                   "streams leaving it whose packet has none; tx/rx: the queues its generator sends from and its sink "
                   "receives on (default: a port that sends and receives needs two queues, the k-th such port sends "
                   "from queue k mod Q and receives on the others: give a veth pair's two ends one after the other)")
    p.add_argument("--netns", metavar="NS", help="network namespace of TX_IFACE (and of RX_IFACE, unless --rx-netns)")
    p.add_argument("--rx-netns", metavar="NS", help="network namespace of RX_IFACE")
    p.add_argument("--dst-mac", help="destination MAC of frames whose packet leaves it out (default: RX_IFACE's, "
                   "as over a veth pair; through a router, give the router's)")
    p.add_argument("--count", type=int, help="packets to send in all (the streams' own counts end them earlier)")
    p.add_argument("--duration", type=float, help="seconds to send")
    p.add_argument("--settle", type=float, default=0.5, metavar="S",
                   help="after gen ends, wait for the frames in flight until the sink has had none for S seconds "
                   "(at most 5 s; default 0.5)")
    p.add_argument("--json", action="store_true", help="JSON lines: one a second with both sides' counts, then the "
                   "summary (per stream sent, received, lost; over ports, the plan and per-port totals; each side's "
                   "results); `xsk report` reads them")
    p.set_defaults(func=run)
