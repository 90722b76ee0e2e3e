"""``xsk run TX_IFACE RX_IFACE --profile FILE``: gen and sink from one command, one live table.

The run is ``xsk.traffic.Session`` (a Sink on RX_IFACE given the profile, then a Generator on
TX_IFACE), followed once a second (``Session.follow``) and joined at the end as sent minus
received (``xsk.traffic._join``); ``xsk.traffic._session_lines`` gives the ``--json`` lines,
which ``xsk report`` reads. This module parses and prints: the live table on a terminal (rich),
a line a second elsewhere, the final per-stream table, warnings, the exit status (gen's: 0, or
130/143 after SIGINT/SIGTERM, the summary saying ``interrupted``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..traffic import _session_lines as lines
from ..traffic._join import table
from ..traffic._profile import Profile
from ..traffic._session import Session, receiver_mac
from . import common

PROG = "xsk run"


def run(args: argparse.Namespace) -> int:
    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    common.check_positive("--settle", args.settle, allow_zero=True)
    profile = Profile.load(args.profile)
    rx_netns = args.rx_netns if args.rx_netns is not None else args.netns
    dst_mac = args.dst_mac or receiver_mac(args.rx_ifname, rx_netns)
    tty = sys.stdout.isatty() and not args.json
    with Session(args.tx_ifname, args.rx_ifname, profile, tx_netns=args.netns, rx_netns=rx_netns,
                 dst_mac=dst_mac) as session, common.ctrl_c_stops() as stop:
        session.start(count=args.count, duration=args.duration)
        if tty:
            joined = _live(session, stop, args.settle)
        else:
            joined = session.follow(lambda snap: _line(snap, args.json), stop=stop.is_set, settle=args.settle)
        sent, got = session.generator.results or {}, session.sink.results or {}
    said = list(sent.pop("warnings", [])) + common.cause_lines(sent.pop("causes", [])) + \
        common.cause_lines(got.pop("causes", [])) + list(got.pop("checksum_warnings", []))
    out = lines.summary(sent, got, joined)
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
    cells = ", ".join(f"{r['stream']} {r['tx']:,}/{'-' if r['rx'] is None else format(r['rx'], ',')}"
                      for r in snap["streams"])
    print(f"{time.strftime('%H:%M:%S')} tx/rx {cells}", flush=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tx_ifname", metavar="TX_IFACE", help="the interface gen sends from")
    p.add_argument("rx_ifname", metavar="RX_IFACE", help="the interface the sink receives on")
    p.add_argument("--profile", metavar="FILE", required=True,
                   help="the streams to send (TOML, or a Python file defining `profile`); the sink is given it "
                   "too (stream names, flows of streams without a sequence header, spin for latency streams)")
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
                   "summary (per stream sent, received, lost; each side's results); `xsk report` reads them")
    p.set_defaults(func=run)
