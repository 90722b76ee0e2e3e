#!/usr/bin/env python3
"""A UDP echo server on AF_XDP, for one port; everything else stays with the kernel stack.

    python examples/udp_echo.py IFACE [--netns NS] [--port 7] [--queue 0] [--compiled]

Only UDP to --port is steered to the socket (the XDP filter "udp:PORT"); ARP, ping and
every other port reach the namespace's kernel stack as usual. Each datagram goes back in
the frame it arrived in: MACs, IPs and ports swapped, which leaves its checksums as valid as
they came. A client on the same host over a veth with TX checksum offload on (as `ip link`
and containers make them) sends only the pseudo-header sum; those replies get their checksum
finished, and datagrams with a wrong checksum are dropped, as the kernel would.
With --compiled the same echo runs as a frame handler (``echo_frame``, xsk.jit): numba
compiles it and the whole receive -> answer -> send loop runs in C without the GIL.
Stops on Ctrl-C or SIGTERM and prints what it did and the UMEM's frame accounting.
"""

import argparse
import json

import numpy as np

import xsk
from xsk import Runner, jit, replies
from xsk.headers import CSUM_BAD

finished = 0  # replies whose checksum the sender had left to offload
FINISHED = np.zeros(1, dtype=np.int64)  # the same count, kept by the compiled handler


def echo(batch: xsk.Batch, h) -> object:  # h: xsk.headers.Headers, checksums verified
    global finished
    answer = h.udp & ~h.l4_csum_bad  # the filter lets only our port through
    replies.reflect(batch, h)  # MACs, IPs and ports swapped: back where it came from
    finished += replies.finish_partial_checksums(batch, h)  # finish what offload would have
    return answer


@jit.handler(state=(FINISHED,))
def echo_frame(frame: np.ndarray, length: int, h, finished: np.ndarray) -> int:  # one frame, checksums verified
    if not h.udp or h.l4_csum == CSUM_BAD:
        return jit.DROP  # the filter lets only our port through; a wrong checksum is dropped, as the kernel would
    jit.reflect(frame, h)  # MACs, IPs and ports swapped: back where it came from
    if jit.finish_checksum(frame, h):  # finish what offload would have
        finished[0] += 1
    return jit.SEND


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--count", type=int, help="stop after this many datagrams")
    p.add_argument("--compiled", action="store_true", help="run the compiled frame handler (needs numba)")
    args = p.parse_args()
    handler = echo_frame if args.compiled else echo
    if args.compiled:
        echo_frame.compile()  # numba's work (seconds) before the socket takes traffic
    with xsk.Umem(frame_count=4096) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=f"udp:{args.port}") as sock:
            runner = Runner(sock, handler, verify_checksums=True)
            print(json.dumps({"listening": args.port, "mode": sock.mode, "xdp_mode": sock.xdp_mode,
                              "compiled": args.compiled}), flush=True)
            stats = runner.run(count=args.count)
        print(json.dumps({"received": stats.received, "echoed": stats.replied, "returned": stats.returned,
                          "dropped": stats.dropped, "checksums_finished": finished + int(FINISHED[0]),
                          "busy_us_per_batch": round(stats.busy_us_per_batch, 2), "batches": stats.batches,
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
