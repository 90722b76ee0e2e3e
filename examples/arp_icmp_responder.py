#!/usr/bin/env python3
"""Answer ARP and ping for an IPv4 address that the namespace's kernel does not own.

    python examples/arp_icmp_responder.py IFACE --ip 192.0.2.99 [--mac 02:00:00:00:99:99] [--netns NS] [--compiled]

The XDP filter steers only ARP for that address and ICMP to it to the socket
("ether:arp dst:IP, proto:1 dst:IP"); the kernel keeps its own ARP and ping. Replies are
written into the received frames: an ARP request becomes the reply (opcode 2, addresses
moved, our MAC filled in), an ICMP echo request becomes the echo reply (type 0, IPs and
MACs swapped, checksum fixed incrementally), identifier, sequence number and payload
kept. With --compiled the same answers come from a frame handler (``make_frame_handler``,
xsk.jit) compiled by numba, the loop in C without the GIL. Stops on Ctrl-C or SIGTERM.
"""

import argparse
import ipaddress
import json

import numpy as np

import xsk
from xsk import Runner, jit, replies
from xsk.headers import ETH_P_ARP


def make_handler(ip: str, mac: str):
    our_ip = np.frombuffer(ipaddress.IPv4Address(ip).packed, dtype=np.uint8)
    our_ip_u32 = int(ipaddress.IPv4Address(ip))
    our_mac = np.frombuffer(bytes.fromhex(mac.replace(":", "")), dtype=np.uint8)

    def handler(batch: xsk.Batch, h) -> np.ndarray:
        arp_off = np.where(h.ethertype == ETH_P_ARP, h.l3, 0)
        arp = batch.read_at(arp_off, 28)  # htype ptype hlen plen op sha spa tha tpa
        is_request = (h.ethertype == ETH_P_ARP) & (arp[:, 6] == 0) & (arp[:, 7] == 1) & np.all(
            arp[:, 24:28] == our_ip, axis=1) & (h.lens >= h.l3 + 28)
        icmp_type = batch.read_at(np.where(h.l4 >= 0, h.l4, 0), 1)[:, 0]
        is_ping = (h.proto == 1) & (h.dst_ip4 == our_ip_u32) & (icmp_type == 8) & (h.lens >= h.l4 + 8)
        if is_request.any():
            reply = arp.copy()
            reply[:, 7] = 2  # op: reply
            reply[:, 18:24] = arp[:, 8:14]  # tha = requester's MAC
            reply[:, 24:28] = arp[:, 14:18]  # tpa = requester's IP
            reply[:, 8:14] = our_mac  # sha = us
            reply[:, 14:18] = our_ip  # spa = the address asked about
            batch.write_at(arp_off, np.where(is_request[:, None], reply, arp))
            eth = batch.read_at(0, 12)
            answer = np.concatenate([eth[:, 6:12], np.broadcast_to(our_mac, (len(batch), 6))], axis=1)
            batch.write_at(0, np.where(is_request[:, None], answer, eth))
        if is_ping.any():
            replies.swap_macs(batch, where=is_ping)
            ips = batch.read_at(np.where(is_ping, h.l3 + 12, 0), 8)
            swapped = np.concatenate([ips[:, 4:], ips[:, :4]], axis=1)
            batch.write_at(np.where(is_ping, h.l3 + 12, 0), np.where(is_ping[:, None], swapped, ips))
            # type 8 code 0 -> type 0 code 0, with the ICMP checksum updated incrementally
            replies.update_word(batch, h.l4, h.l4 + 2, np.zeros(len(batch), dtype=np.uint32), is_ping)
        return is_request | is_ping

    return handler


def make_frame_handler(ip: str, mac: str) -> jit.FrameHandler:
    """The same answers, one frame at a time, for xsk.jit (our address and MAC are compile-time constants)."""
    our_ip = int(ipaddress.IPv4Address(ip))
    our_mac = np.frombuffer(bytes.fromhex(mac.replace(":", "")), dtype=np.uint8)

    @jit.handler
    def responder(frame: np.ndarray, length: int, h) -> int:
        a = h.l3
        if h.ethertype == ETH_P_ARP:  # htype ptype hlen plen op sha spa tha tpa
            if length < a + 28 or frame[a + 6] != 0 or frame[a + 7] != 1 or jit.get_u32(frame, a + 24) != our_ip:
                return jit.PASS
            frame[a + 7] = 2  # op: reply
            for i in range(6):
                frame[a + 18 + i] = frame[a + 8 + i]  # tha = the requester's MAC
                frame[a + 8 + i] = our_mac[i]  # sha = us
                frame[i] = frame[6 + i]  # to the requester
                frame[6 + i] = our_mac[i]  # from us
            for i in range(4):
                frame[a + 24 + i] = frame[a + 14 + i]  # tpa = the requester's IP
            jit.put_u32(frame, a + 14, our_ip)  # spa = the address asked about
            return jit.SEND
        if h.proto == 1 and h.dst_ip4 == our_ip and h.l4 >= 0 and length >= h.l4 + 8 and frame[h.l4] == 8:
            jit.swap_macs(frame)
            jit.swap_ips(frame, h)
            jit.update_word(frame, h.l4, h.l4 + 2, 0)  # type 8 code 0 -> type 0 code 0, checksum updated
            return jit.SEND
        return jit.PASS

    return responder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--ip", required=True, help="the IPv4 address to answer for")
    p.add_argument("--mac", default="02:00:00:00:99:99", help="the MAC to answer ARP with")
    p.add_argument("--netns")
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--compiled", action="store_true", help="answer with the compiled frame handler (needs numba)")
    args = p.parse_args()
    compiled = make_frame_handler(args.ip, args.mac) if args.compiled else None
    if compiled is not None:
        compiled.compile()  # numba's work (seconds) before the socket takes traffic
    rules = f"ether:arp dst:{args.ip}, proto:1 dst:{args.ip}"
    with xsk.Umem(frame_count=1024) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=rules) as sock:
            print(json.dumps({"answering": args.ip, "mac": args.mac, "mode": sock.mode}), flush=True)
            stats = Runner(sock, compiled or make_handler(args.ip, args.mac)).run()
        print(json.dumps({"received": stats.received, "answered": stats.replied,
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
