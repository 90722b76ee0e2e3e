"""``xsk rfc2544 TX_IFACE RX_IFACE``: RFC 2544 throughput (NDR/PDR), latency, loss curve and
back-to-back through a device under test, or ``--routed`` through a throwaway router namespace.

The benchmark is ``xsk.traffic.Rfc2544`` (see ``xsk.traffic._rfc2544``: the search, the trials,
loss as sent minus received); this module parses, makes the routed layout when asked, and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from .. import link, netns
from ..errors import ConfigError
from ..traffic._pacer import rate_value
from ..traffic._rfc2544 import SIZES, Rfc2544, render
from . import common


@contextlib.contextmanager
def _layout(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The interfaces to test: the ones named, or a routed layout made (and removed) here."""
    if not args.routed:
        if not (args.tx and args.rx):
            raise ConfigError("name TX_IFACE and RX_IFACE (with --netns/--rx-netns), or give --routed "
                              "to test the kernel's forwarding through a throwaway router namespace")
        if not (args.dst_mac and args.dst_ip):
            raise ConfigError("--dst-mac (the device's side facing TX_IFACE) and --dst-ip (an address it "
                              "routes towards RX_IFACE) are needed")
        yield {"tx": args.tx, "rx": args.rx, "tx_netns": args.netns, "rx_netns": args.rx_netns or args.netns,
               "dst_mac": args.dst_mac, "dst_ip": args.dst_ip}
        return
    if args.tx or args.rx:
        raise ConfigError("--routed makes its own interfaces: leave TX_IFACE and RX_IFACE out")
    from ..testing import RoutedPair

    with RoutedPair(forwarding=True) as net:
        net.b.close_tools()  # the receiver attaches its own program in place of the harness's pass one
        yield {"tx": net.a.ifname, "rx": net.b.ifname, "tx_netns": net.a.netns, "rx_netns": net.b.netns,
               "dst_mac": net.ra.mac, "dst_ip": net.b.ip}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"bad --sizes {text!r}: frame sizes in bytes, comma-separated (e.g. 64,128,1518)") \
            from None
    if not sizes:
        raise ConfigError("--sizes needs at least one frame size")
    return sizes


def _rate(text: str | None) -> float | None:
    if text is None:
        return None
    rate = rate_value(text)
    if rate.unit != "pps":
        raise ConfigError(f"--max-rate {text!r}: give it in packets per second (e.g. 500k); a bit rate or "
                          "a share of the line is a different packet rate for each frame size")
    return rate.value


def _percent(name: str, value: float, low: float, high: float) -> float:
    if not low <= value < high:
        raise ConfigError(f"{name} {value!r}: a percentage from {low:g} up to {high:g}")
    return value / 100


def main(args: argparse.Namespace) -> int:
    sizes = _sizes(args.sizes)
    max_rate = _rate(args.max_rate)
    acceptable = _percent("--loss", args.loss, 0, 100)
    resolution = _percent("--resolution", args.resolution, 0.01, 50)
    with _layout(args) as where:
        with netns.entered(where["tx_netns"]):
            mtu = link.mtu(where["tx"])
        bench = Rfc2544(where["tx"], where["rx"], where["dst_mac"], where["dst_ip"], tx_netns=where["tx_netns"],
                          rx_netns=where["rx_netns"], port=args.port, trial=args.trial, settle=args.settle,
                          mode=args.mode)
        say = None if args.json else (lambda msg: print(f"xsk rfc2544: {msg}", file=sys.stderr, flush=True))
        with bench:
            results = bench.run(sizes, max_rate=max_rate, acceptable=acceptable, resolution=resolution,
                          latency=not args.no_latency, loss_curve=args.loss_curve, back_to_back=args.back_to_back,
                          max_burst=args.max_burst, mtu=mtu, progress=say)
    results["layout"] = "routed (kernel forwarding)" if args.routed else f"{where['tx']} -> {where['rx']}"
    if args.json:
        print(json.dumps(results))
    else:
        print(render(results))
    return common.EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tx", metavar="TX_IFACE", nargs="?", help="send from this interface")
    p.add_argument("rx", metavar="RX_IFACE", nargs="?", help="count what arrives on this one")
    p.add_argument("--netns", metavar="NS", help="namespace of TX_IFACE (and RX_IFACE, unless --rx-netns)")
    p.add_argument("--rx-netns", metavar="NS", help="namespace of RX_IFACE")
    p.add_argument("--dst-mac", help="the device's MAC on TX_IFACE's side")
    p.add_argument("--dst-ip", help="an address the device routes towards RX_IFACE")
    p.add_argument("--routed", action="store_true",
                   help="make a throwaway a -- router -- b layout (kernel forwarding) and test through it")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)),
                   help="frame sizes in bytes on the wire, FCS included (default: RFC 2544's)")
    p.add_argument("--trial", type=float, default=5.0, help="seconds per trial (RFC 2544 says 60; default 5)")
    p.add_argument("--settle", type=float, default=0.5, help="seconds the receiver must be quiet after a trial")
    p.add_argument("--max-rate", help="the search's ceiling in packets/s (default: what the generator reaches)")
    p.add_argument("--loss", type=float, default=0.0,
                   help="acceptable loss in percent: 0 finds the NDR (default), e.g. 0.1 a PDR")
    p.add_argument("--resolution", type=float, default=1.0, help="stop when the bracket is within this percent")
    p.add_argument("--no-latency", action="store_true", help="skip the latency trial at the rate found")
    p.add_argument("--loss-curve", action="store_true", help="also the frame loss rate from 100%% down in 10%% steps")
    p.add_argument("--back-to-back", action="store_true", help="also the longest burst received whole")
    p.add_argument("--max-burst", type=common.positive_int, default=100_000, help="back-to-back's longest burst")
    p.add_argument("--port", type=int, default=7, help="UDP port of the test frames (the receiver counts only these)")
    p.add_argument("--mode", choices=["auto", "copy", "zerocopy"], default="auto")
    p.add_argument("--json", action="store_true", help="the results as one JSON object")
    p.set_defaults(func=main)
