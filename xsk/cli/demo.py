"""``xsk demo``: one million sequence-numbered UDP frames across a throwaway veth pair.

The self-check is ``xsk.testing._selfcheck.check`` (see there); this module parses and prints.
Exit status 0 only if nothing was lost, nothing was corrupted and both UMEMs' ownership
accounting balances.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..testing._selfcheck import check


def run(args: argparse.Namespace) -> int:
    result = check(args.count, batch=args.batch, size=args.size, frame_size=args.frame_size, mode=args.mode,
                   xdp_mode=args.xdp_mode, in_flight=args.in_flight, window=args.window)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0 if result["ok"] else 1


def _print(r: dict[str, Any]) -> None:
    acc_tx, acc_rx = r["accounting"]["tx"], r["accounting"]["rx"]
    print(f"sent      {r['sent']:>12,}   ({r['tx_mpps']:.3f} Mpps)")
    print(f"received  {r['received']:>12,}   ({r['rx_mpps']:.3f} Mpps)")
    print(f"lost      {r['lost']:>12,}")
    print(f"corrupt   {r['corrupt']:>12,}   out of order {r['out_of_order']:,}")
    print(f"mode      {r['mode']} (XDP program: {r['xdp_mode']}); hugepages tx={r['hugepages']['tx']} "
          f"rx={r['hugepages']['rx']}")
    for name, acc in (("tx", acc_tx), ("rx", acc_rx)):
        print(f"frames {name}  pool={acc['pool']} user={acc['user']} fill={acc['fill']} tx={acc['tx']} "
              f"total={acc['total']}")
    print(f"kernel    {r['kernel']}")
    drops = {f"{end}_{k}": v for end, c in r["veth"].items() for k, v in c.items() if k.endswith("dropped") and v}
    if drops:
        print(f"veth      drops {drops}")
    print("OK: every frame arrived, in order, byte for byte" if r["ok"] else "FAILED")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=1_000_000, help="frames to send (default 1,000,000)")
    p.add_argument("--batch", type=int, default=256, help="frames per ring operation (default 256)")
    p.add_argument("--size", type=int, default=64, help="frame length in bytes, 60..frame size (default 64)")
    p.add_argument("--frame-size", type=int, default=2048, choices=(2048, 4096))
    p.add_argument("--mode", default="auto", choices=("auto", "copy", "zerocopy"))
    p.add_argument("--xdp-mode", default="auto", choices=("auto", "native", "skb"))
    p.add_argument(
        "--in-flight", type=int, default=256,
        help="most frames sent but not completed (veth has no backpressure: its peer queue holds 256 "
        "frames, and frames beyond it are dropped by the kernel); default 256",
    )
    p.add_argument(
        "--window", type=int, default=1536,
        help="most frames sent ahead of what the receiver has consumed (its RX ring holds 2048); default 1536",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
