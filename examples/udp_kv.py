#!/usr/bin/env python3
"""A UDP key-value store on AF_XDP: replies of another length than the requests.

    python examples/udp_kv.py IFACE [--netns NS] [--port 7400] [--queue 0]

Requests are text datagrams: ``SET key value`` answers ``OK``, ``GET key`` answers
``VALUE value`` or ``NOT_FOUND``, anything else ``ERROR ...``. Each reply goes back in its
request's frame: addresses and ports swapped, then ``replies.set_payloads`` puts every answer
in its frame and makes lengths and checksums whole (IPv4 or IPv6), so the handler never
touches a header. Datagrams with a wrong checksum are not answered; ones a local sender left to
checksum offload are (set_payloads recomputes the checksum anyway).
Stops on Ctrl-C or SIGTERM and prints what it did and the UMEM's frame accounting.
"""

import argparse
import json

import numpy as np

import xsk
from xsk import Runner, replies


class Store:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def answer(self, request: bytes) -> bytes:
        words = request.strip().split(b" ", 2)
        if len(words) == 3 and words[0] == b"SET":
            self.data[words[1]] = words[2]
            return b"OK"
        if len(words) == 2 and words[0] == b"GET":
            value = self.data.get(words[1])
            return b"NOT_FOUND" if value is None else b"VALUE " + value
        return b"ERROR expected SET key value or GET key"

    def handler(self, batch: xsk.Batch, h) -> object:  # h: xsk.headers.Headers, checksums verified
        ours = h.udp & ~h.l4_csum_bad & (h.payload >= 0)
        if not ours.any():
            return ours
        answers = [self.answer(bytes(batch.data(i))[int(h.payload[i]):]) for i in np.flatnonzero(ours)]
        replies.reflect(batch, h, ours)
        replies.set_payloads(batch, h, answers, where=ours)
        return ours


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--port", type=int, default=7400)
    p.add_argument("--queue", type=int, default=0)
    args = p.parse_args()
    store = Store()
    with xsk.Umem(frame_count=4096) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=f"udp:{args.port}") as sock:
            print(json.dumps({"listening": args.port, "mode": sock.mode}), flush=True)
            stats = Runner(sock, store.handler, verify_checksums=True).run()
        print(json.dumps({"received": stats.received, "answered": stats.replied, "keys": len(store.data),
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
