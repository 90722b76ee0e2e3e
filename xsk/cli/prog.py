"""``xsk prog attach|detach|list``: xsk's redirect program pinned for workers without root.

``attach IFACE --pin DIR`` (as root, once) attaches the program and pins it under bpffs, owned
by ``--owner``/``--group``; workers then run ``xsk sink IFACE --pin DIR`` (or
``Socket(..., program=xsk.pinned.PinnedProgram(DIR))``) with CAP_NET_RAW only. ``--filter``
sets every queue's rules (a worker's own ``--filter`` replaces its queue's). ``detach --pin
DIR`` removes the pins; ``list`` shows the pinned programs.
"""

from __future__ import annotations

import argparse
import json

from .. import _filter as filter_mod
from .. import netns
from ..errors import ConfigError
from . import common


def attach(args: argparse.Namespace) -> int:
    from .. import link, pinned
    from .._program import RedirectProgram

    rules = filter_mod.parse(args.filter) if args.filter else []
    p = pinned.attach(args.ifname, args.pin, netns=args.netns, xdp_mode=args.xdp_mode, owner=args.owner,
                      group=args.group)
    if rules:
        with netns.entered(args.netns):
            rx, _ = link.queue_counts(p.ifindex)
            prog = RedirectProgram.from_pins(p.path, p.ifindex, args.ifname)
            try:
                for q in range(rx):
                    prog.set_rules(rules, q)
            finally:
                prog.detach()
    out = {"pinned": p.path, "ifname": args.ifname, "ifindex": p.ifindex, "prog_id": p.prog_id,
           "owner": args.owner, "group": args.group, "filter": args.filter}
    print(json.dumps(out) if args.json else f"pinned xsk's program on {args.ifname} at {p.path} "
          f"(program id {p.prog_id}); workers: xsk sink {args.ifname} --pin {p.path}")
    return common.EXIT_OK


def detach(args: argparse.Namespace) -> int:
    import os

    from .. import link, pinned

    if args.ifname:  # the pins say which interface; one named must be it
        with netns.entered(args.netns):
            index = link.ifindex(args.ifname, args.netns)
        path = os.path.realpath(args.pin)
        found = next((p for p in pinned.pinned() if os.path.realpath(p.path) == path), None)
        if found is not None and found.ifindex != index:
            raise ConfigError(f"the program pinned in {args.pin} is on ifindex {found.ifindex}, not on "
                              f"{args.ifname} (ifindex {index}{' in ' + args.netns if args.netns else ''})")
    pinned.detach(args.pin)
    print(f"removed the pins in {args.pin}; the program is detached once no process holds its link")
    return common.EXIT_OK


def list_pins(args: argparse.Namespace) -> int:
    from .. import pinned

    found = [{"pinned": p.path, "ifindex": p.ifindex, "prog_id": p.prog_id} for p in pinned.pinned()]
    if args.json:
        print(json.dumps(found))
    else:
        for p in found:
            print(f"{p['pinned']}: program {p['prog_id']} on ifindex {p['ifindex']}")
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, parser_class=common.ArgumentParser)
    a = sub.add_parser("attach", help="attach xsk's redirect program and pin it for unprivileged workers")
    a.add_argument("ifname", metavar="IFACE")
    a.add_argument("--netns", metavar="NS", help="network namespace of the interface")
    a.add_argument("--pin", required=True, metavar="DIR", help="a directory under /sys/fs/bpf (made)")
    a.add_argument("--owner", metavar="USER", help="user that may open the pins (default: root only)")
    a.add_argument("--group", metavar="GROUP", help="group that may open the pins")
    a.add_argument("--xdp-mode", default="auto", choices=("auto", "native", "skb"), help="XDP attach mode")
    a.add_argument("--filter", help="rules for every queue, e.g. udp:9000 (a worker's --filter replaces its queue's)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=attach)
    d = sub.add_parser("detach", help="remove the pins (the program goes once no worker holds it)")
    d.add_argument("ifname", metavar="IFACE", nargs="?",
                   help="the interface it is on (optional: the pins say which; checked when given)")
    d.add_argument("--netns", metavar="NS", help="network namespace of IFACE")
    d.add_argument("--pin", required=True, metavar="DIR")
    d.set_defaults(func=detach)
    ls = sub.add_parser("list", help="pinned programs under /sys/fs/bpf")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_pins)
