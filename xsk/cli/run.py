"""``xsk run --profile FILE --port a=IFACE@NETNS --port b=...``: gen and sink as one run over ports.

A ``xsk.traffic.Session`` over the ports given: each stream of the profile leaves the port its
``port`` key names (the first one without it), every port that can receive counts whatever
arrives, in both directions when the interfaces have two queues. This module parses the ports,
runs the session until its streams end, ``--count``/``--duration``, Ctrl-C or SIGTERM, and prints
the joined table (per stream: tx port, rx ports, sent, received, lost) and one per port.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..errors import ConfigError
from ..traffic import Port, Profile, Session
from ..traffic._join import StreamLoss, table
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


def _save(path: str | None, summary: dict[str, Any]) -> None:
    if path is not None:
        with open(path, "w") as f:
            f.write(json.dumps(summary) + "\n")


def run(args: argparse.Namespace) -> int:
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    if not args.port:
        raise ConfigError(f"at least one port: {PORT_FORM}", argument="port")
    profile = Profile.load(args.profile)
    ports = _ports(args.port)
    for flag, path in (("--gen-json", args.gen_json), ("--sink-json", args.sink_json)):
        if path is not None:  # writable now, not after the run
            try:
                with open(path, "a"):
                    pass
            except OSError as exc:
                raise ConfigError(f"{flag} {path}: can't write it: {exc.strerror or exc}") from None
    session = Session(ports=ports, profile=profile)
    assert session.plan is not None
    with session, common.ctrl_c_stops() as stop:
        session.start(count=args.count, duration=args.duration)
        next_line = time.monotonic() + 1.0
        while not session.generator.finished() and not stop.is_set():
            time.sleep(0.05)
            if not args.json and time.monotonic() >= next_line and sys.stderr.isatty():
                next_line = time.monotonic() + 1.0
                rows = session.stats()
                sys.stderr.write("  ".join(f"{r['stream']} {r['tx']:,}/{r['rx'] if r['rx'] is not None else '-'}"
                                           for r in rows) + "\n")
        out: dict[str, StreamLoss] = session.stop()
    sent, got = session.generator.results or {}, session.sink.results or {}
    summary: dict[str, Any] = {
        "per_stream": {name: s.as_dict() for name, s in out.items()}, "per_port": session.per_port,
        "plan": {n: {"ifname": p.ifname, "netns": p.netns, "tx_queues": list(p.tx_queues or []),
                     "rx_queues": list(p.rx_queues or [])} for n, p in session.plan.items()},
        "seconds": sent.get("seconds")}
    status = common.interrupted(summary, stop)
    # a port's destination is its --port's dst=, not an option of its own
    warnings = [w.replace("no dst_mac= given", "no dst=MAC given").replace("with dst_mac=",
                                                                          "with dst=MAC in its --port")
                for w in sent.get("warnings", [])]
    common.warn(PROG, summary, warnings + list(got.get("checksum_warnings", [])))
    _save(args.gen_json, sent)
    _save(args.sink_json, got)
    if args.json:
        common.summary(summary, True)
    else:
        print(table(out))
        print(port_table(session.per_port or {}, session.plan))
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", metavar="FILE", required=True,
                   help="the streams (TOML or Python); a stream's `port` names the port it leaves")
    p.add_argument("--port", action="append", metavar="NAME=IFACE[@NETNS]",
                   help=f"a port of the run, repeatable: {PORT_FORM}. dst: the MAC of streams leaving it whose "
                   "packet has none; tx/rx: the queues its generator sends from and its sink receives on (default: "
                   "a port that sends and receives needs two queues, the k-th such port sends from queue k mod Q "
                   "and receives on the others: give a veth pair's two ends one after the other)")
    p.add_argument("--count", type=int, help="packets to send in all (the streams' own counts end them earlier)")
    p.add_argument("--duration", type=float, help="seconds to send")
    p.add_argument("--json", action="store_true", help="print the joined results as one JSON object")
    p.add_argument("--gen-json", metavar="FILE", help="write the generator's summary to FILE (for xsk report)")
    p.add_argument("--sink-json", metavar="FILE", help="write the sink's summary to FILE (for xsk report)")
    p.set_defaults(func=run)
