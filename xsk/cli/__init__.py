"""The ``xsk`` command line: gen, sink, run, fwd, replay, capture, rfc2544, prog, veth, report, cluster and demo."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from . import common

COMMANDS = {
    "gen": ("gen", "generate traffic (pktgen/TRex style) from options, a scapy template or a pcap"),
    "sink": ("sink", "receive and count; loss, reordering and latency of `xsk gen` traffic"),
    "run": ("run", "gen and sink from one command, over two interfaces or several ports (both directions): one "
            "live table of tx, rx, loss and latency per stream"),
    "fwd": ("fwd", "reflect or forward frames without copying them"),
    "replay": ("replay", "send a pcap/pcapng at recorded timing, a multiple of it, or top speed"),
    "capture": ("capture", "receive into a pcap/pcapng file"),
    "prog": ("prog", "attach and pin xsk's program so that workers without root can receive"),
    "veth": ("veth", "make, list and remove veth pairs in namespaces for trying the tools"),
    "rfc2544": ("rfc2544", "RFC 2544 throughput (NDR/PDR), latency, loss curve and back-to-back through a device"),
    "report": ("report", "an HTML report (rates, latency over time, histograms) of gen/sink --json outputs"),
    "cluster": ("cluster", "one run across several hosts on Dask distributed: run a plan with a live table, check "
                "a plan, or start hosts on this machine to try one"),
    "demo": ("demo", "send sequence-numbered UDP frames across a throwaway veth pair and verify them"),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``xsk`` parser with every subcommand's arguments; the docs' CLI reference is made from it."""
    parser = common.ArgumentParser(prog="xsk", description="AF_XDP packet engine")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=common.ArgumentParser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"{__name__}.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so sockets, programs and namespaces are cleaned up on the way out.
    # (a run's loop takes both over: the first ends it with its summary, common.ctrl_c_stops)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # a background job of a shell without job control starts with SIGINT ignored, and then
        # `kill -INT` could not stop it: Ctrl-C's handling is restored, as in a foreground run
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return common.run(f"xsk {args.command}", args.func, args)


if __name__ == "__main__":
    sys.exit(main())
