"""The ``xsk`` command line."""

from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xsk", description="AF_XDP packet engine")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="send sequence-numbered UDP frames across a throwaway veth pair")
    from . import demo as demo_mod

    demo_mod.add_arguments(demo)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so sockets, programs and namespaces are cleaned up on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
