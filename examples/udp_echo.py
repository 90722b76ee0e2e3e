#!/usr/bin/env python3
"""A UDP echo server on AF_XDP, for one port; everything else stays with the kernel stack.

    python examples/udp_echo.py IFACE [--netns NS] [--port 7] [--queue 0]

Only UDP to --port is steered to the socket (the XDP filter "udp:PORT"); ARP, ping and
every other port reach the namespace's kernel stack as usual. Each datagram goes back in
the frame it arrived in: MACs, IPs and ports swapped, which leaves its checksums as valid as
they came. A client on the same host over a veth with TX checksum offload on (as `ip link`
and containers make them) sends only the pseudo-header sum; those replies get their checksum
finished, and datagrams with a wrong checksum are dropped, as the kernel would.
Stops on Ctrl-C or SIGTERM and prints what it did and the UMEM's frame accounting.
"""

import argparse
import json

import xsk
from xsk import Runner, replies

finished = 0  # replies whose checksum the sender had left to offload


def echo(batch: xsk.Batch, h) -> object:  # h: xsk.headers.Headers, checksums verified
    global finished
    answer = h.udp & ~h.l4_csum_bad  # the filter lets only our port through
    replies.reflect(batch, h)  # MACs, IPs and ports swapped: back where it came from
    finished += replies.finish_partial_checksums(batch, h)  # finish what offload would have
    return answer


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--count", type=int, help="stop after this many datagrams")
    args = p.parse_args()
    with xsk.Umem(frame_count=4096) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=f"udp:{args.port}") as sock:
            print(json.dumps({"listening": args.port, "mode": sock.mode, "xdp_mode": sock.xdp_mode}), flush=True)
            stats = Runner(sock, echo, verify_checksums=True).run(count=args.count)
        print(json.dumps({"received": stats.received, "echoed": stats.replied, "returned": stats.returned,
                          "checksums_finished": finished,
                          "busy_us_per_batch": round(stats.busy_us_per_batch, 2), "batches": stats.batches,
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
