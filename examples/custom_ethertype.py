#!/usr/bin/env python3
"""A request/response protocol on its own EtherType (0x88b5), between two AF_XDP endpoints.

    python examples/custom_ethertype.py server IFACE [--netns NS] [--drop-every K]
    python examples/custom_ethertype.py client IFACE --peer MAC [--netns NS] [--count N]

Frame: Ethernet (type 0x88b5) | magic "XP" | kind (1 request, 2 response) | pad | seq (u32) | payload.
The server answers each request in the frame it arrived in (MACs swapped, kind 2); with
--drop-every K it drops every K-th request on purpose. The client keeps up to --window
requests in flight and sends again any that has no answer after --timeout seconds, until
every one of --count requests is answered; it prints what it sent, resent and received.
Only EtherType 0x88b5 is steered to the sockets; the kernel keeps all other traffic.
"""

from __future__ import annotations

import argparse
import json
import struct
import time

import numpy as np

import xsk
from xsk import Runner, replies

ETHERTYPE = 0x88B5
MAGIC = b"XP"
REQUEST, RESPONSE = 1, 2
HEADER = struct.Struct("!6s6sH2sBxI")  # dst, src, type, magic, kind, pad, seq
PAYLOAD = 32


def server(args: argparse.Namespace) -> int:
    seen = 0

    def handler(batch: xsk.Batch, h) -> np.ndarray:
        nonlocal seen
        head = batch.read_at(14, 4)
        ours = (h.ethertype == ETHERTYPE) & (head[:, 0] == MAGIC[0]) & (head[:, 1] == MAGIC[1]) & (
            head[:, 2] == REQUEST)
        answer = ours.copy()
        if args.drop_every:
            index = seen + np.cumsum(ours)  # request number, counting from 1
            answer &= index % args.drop_every != 0
        seen += int(ours.sum())
        replies.swap_macs(batch)
        head[:, 2] = RESPONSE
        batch.write_at(14, head)
        return answer

    with xsk.Umem(frame_count=1024) as umem:
        with xsk.Socket(umem, args.ifname, netns=args.netns, queue=args.queue,
                        filter=f"ether:{ETHERTYPE:#x}") as sock:
            print(json.dumps({"serving": f"{ETHERTYPE:#x}", "mac": _mac(args)}), flush=True)
            stats = Runner(sock, handler).run()
        print(json.dumps({"requests": seen, "answered": stats.replied,
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


def _mac(args: argparse.Namespace) -> str:
    from xsk import link, netns

    with netns.entered(args.netns):
        return link.mac_address(args.ifname)


def client(args: argparse.Namespace) -> int:
    own = bytes.fromhex(_mac(args).replace(":", ""))
    peer = bytes.fromhex(args.peer.replace(":", ""))
    answered = np.zeros(args.count, dtype=bool)
    sent_at = np.full(args.count, -1.0)
    sent = resent = 0
    next_new = 0
    with xsk.Umem(frame_count=1024) as umem:
        with xsk.Socket(umem, args.ifname, netns=args.netns, queue=args.queue,
                        filter=f"ether:{ETHERTYPE:#x}") as sock:
            deadline = time.monotonic() + args.give_up
            while not answered.all() and time.monotonic() < deadline:
                now = time.monotonic()
                in_flight = (sent_at >= 0) & ~answered
                late = np.flatnonzero(in_flight & (now - sent_at > args.timeout))
                room = args.window - int(in_flight.sum()) + len(late)
                fresh = np.arange(next_new, min(next_new + max(room - len(late), 0), args.count))
                todo = np.concatenate([late, fresh]).astype(np.int64)
                if len(todo):
                    b = umem.take(len(todo), len(HEADER.pack(peer, own, ETHERTYPE, MAGIC, REQUEST, 0)) + PAYLOAD)
                    todo = todo[: len(b)]
                    frames = np.zeros((len(todo), HEADER.size + PAYLOAD), dtype=np.uint8)
                    frames[:] = np.frombuffer(HEADER.pack(peer, own, ETHERTYPE, MAGIC, REQUEST, 0) + bytes(PAYLOAD),
                                              dtype=np.uint8)
                    frames[:, HEADER.size - 4 : HEADER.size] = todo.astype(">u4").view(np.uint8).reshape(-1, 4)
                    frames[:, HEADER.size :] = (todo[:, None] + np.arange(PAYLOAD)) & 0xFF
                    b.write_at(0, frames)
                    k = sock.send(b)
                    if len(b):
                        umem.release(b)
                    done = todo[:k]
                    resent += int(np.count_nonzero(sent_at[done] >= 0))
                    sent += k
                    sent_at[done] = now
                    first_time = done[done >= next_new]  # a prefix of ``fresh``: the ring took them in order
                    if len(first_time):
                        next_new = int(first_time.max()) + 1
                got = sock.recv(256, timeout=0.01)
                if len(got):
                    head = got.read_at(0, HEADER.size + PAYLOAD)
                    ok = (head[:, 12] == 0x88) & (head[:, 13] == 0xB5) & (head[:, 16] == RESPONSE)
                    seqs = np.ascontiguousarray(head[:, HEADER.size - 4 : HEADER.size]).view(">u4").ravel()
                    valid = ok & (seqs < args.count)
                    payload_ok = np.all(head[:, HEADER.size :] == ((seqs[:, None] + np.arange(PAYLOAD)) & 0xFF), axis=1)
                    answered[seqs[valid & payload_ok]] = True
                    got.release()
            sock.flush(timeout=1)
        result = {"requests": args.count, "sent": sent, "resent": resent, "answered": int(answered.sum()),
                  "accounting": umem.accounting()._asdict()}
    print(json.dumps(result), flush=True)
    return 0 if answered.all() else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("role", choices=("server", "client"))
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--peer", help="the server's MAC (client)")
    p.add_argument("--count", type=int, default=1000, help="requests to complete (client)")
    p.add_argument("--window", type=int, default=64, help="requests in flight (client)")
    p.add_argument("--timeout", type=float, default=0.05, help="seconds before a request is sent again (client)")
    p.add_argument("--give-up", type=float, default=30.0, help="seconds before the client gives up")
    p.add_argument("--drop-every", type=int, default=0, help="drop every K-th request on purpose (server)")
    args = p.parse_args()
    if args.role == "client" and not args.peer:
        p.error("the client needs --peer MAC")
    return server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    raise SystemExit(main())
