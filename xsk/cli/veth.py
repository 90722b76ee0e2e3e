"""``xsk veth up|down|list``: the veth-pair harness from the shell.

``up NAME`` makes namespaces NAME-a and NAME-b joined by a veth pair (interfaces NAME-a
and NAME-b) with addresses 192.0.2.1/24 and 192.0.2.2/24; ``down NAME`` removes them;
``list`` shows the pairs made this way (recorded under /run/xsk/veth).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from . import common

if TYPE_CHECKING:
    from ..testing import VethPair

STATE_DIR = "/run/xsk/veth"


def _state_path(name: str) -> str:
    return os.path.join(STATE_DIR, f"{name}.json")


def _pair(name: str, args: argparse.Namespace | None = None) -> VethPair:
    from ..testing import VethPair

    if not name or len(name) > 13 or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"bad name {name!r}: 1 to 13 letters, digits, '-' or '_' (interface names are short)")
    kwargs: dict[str, Any] = {}
    if args is not None:
        kwargs = {"queues": args.queues, "ipv6": args.ipv6, "tx_checksum_offload": args.offload == "on"}
    return VethPair(name=name[:12], netns_names=(f"{name}-a", f"{name}-b"), ifnames=(f"{name}-a", f"{name}-b"),
                    **kwargs)


def up(args: argparse.Namespace) -> int:
    pair = _pair(args.name, args)
    pair.create()
    info = {"name": args.name, "queues": args.queues, "tx_checksum_offload": args.offload}
    for key, end in (("a", pair.a), ("b", pair.b)):
        info[key] = {"netns": end.netns, "ifname": end.ifname, "mac": end.mac, "ip": f"{end.ip}/{end.prefixlen}"}
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(_state_path(args.name), "w") as f:
        json.dump(info, f)
    if args.json:
        print(json.dumps(info))
    else:
        for key in ("a", "b"):
            e = info[key]
            print(f"{key}: netns {e['netns']:<16} iface {e['ifname']:<16} mac {e['mac']}  ip {e['ip']}")
        if args.offload == "off":
            print("TX checksum offload: off on both ends, so frames carry finished checksums (veths made with "
                  "plain `ip link`, as in containers, have it on: --offload on)")
        else:
            print("TX checksum offload: on, as in containers: the kernel's UDP/TCP frames leave with partial "
                  "checksums, which an XDP or AF_XDP program sees unfinished")
    return common.EXIT_OK


def down(args: argparse.Namespace) -> int:
    from .. import netns

    pair = _pair(args.name)
    if not (netns.exists(pair.a.netns) or netns.exists(pair.b.netns)):
        raise ConfigError(f"no veth pair named {args.name!r} (`xsk veth list` shows them)")
    from ..testing._veth import remove_namespaces

    remove_namespaces([pair.a.netns, pair.b.netns], (pair.a, pair.b))  # made by `veth up`, another process
    if os.path.exists(_state_path(args.name)):
        os.unlink(_state_path(args.name))
    print(f"removed {pair.a.netns} and {pair.b.netns}")
    return common.EXIT_OK


def list_pairs(args: argparse.Namespace) -> int:
    from .. import netns

    pairs = []
    if os.path.isdir(STATE_DIR):
        for entry in sorted(os.listdir(STATE_DIR)):
            with open(os.path.join(STATE_DIR, entry)) as f:
                info = json.load(f)
            if netns.exists(info["a"]["netns"]):
                pairs.append(info)
            else:
                os.unlink(os.path.join(STATE_DIR, entry))  # removed behind our back
    if args.json:
        print(json.dumps(pairs))
    else:
        for info in pairs:
            a, b = info["a"], info["b"]
            print(f"{info['name']}: {a['netns']}/{a['ifname']} {a['ip']} <-> {b['netns']}/{b['ifname']} {b['ip']}")
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, parser_class=common.ArgumentParser)
    u = sub.add_parser("up", help="make namespaces NAME-a and NAME-b joined by a veth pair")
    u.add_argument("name", metavar="NAME")
    u.add_argument("--queues", type=int, default=1, help="queues per veth end (default 1)")
    u.add_argument("--ipv6", action="store_true", help="leave IPv6 on")
    u.add_argument("--offload", choices=("off", "on"), default="off",
                   help="TX checksum offload on both ends: off (default: finished checksums) or on (as "
                        "containers' veths are: partial checksums)")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=up)
    d = sub.add_parser("down", help="remove the pair NAME")
    d.add_argument("name", metavar="NAME")
    d.set_defaults(func=down)
    ls = sub.add_parser("list", help="pairs made by `xsk veth up`")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_pairs)
