#!/usr/bin/env python3
"""Answer ARP and ping for an IPv4 address that the namespace's kernel does not own.

    python examples/arp_icmp_responder.py IFACE --ip 192.0.2.99 [--mac 02:00:00:00:99:99] [--netns NS]

The XDP filter steers only ARP for that address and ICMP to it to the socket
("ether:arp dst:IP, proto:1 dst:IP"); the kernel keeps its own ARP and ping. Replies are
written into the received frames: an ARP request becomes the reply (opcode 2, addresses
moved, our MAC filled in), an ICMP echo request becomes the echo reply (type 0, IPs and
MACs swapped, checksum fixed incrementally), identifier, sequence number and payload
kept. Stops on Ctrl-C or SIGTERM.
"""

import argparse
import ipaddress
import json

import numpy as np

import xsk
from xsk import Runner, replies
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--ip", required=True, help="the IPv4 address to answer for")
    p.add_argument("--mac", default="02:00:00:00:99:99", help="the MAC to answer ARP with")
    p.add_argument("--netns")
    p.add_argument("--queue", type=int, default=0)
    args = p.parse_args()
    rules = f"ether:arp dst:{args.ip}, proto:1 dst:{args.ip}"
    with xsk.Umem(frame_count=1024) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=rules) as sock:
            print(json.dumps({"answering": args.ip, "mac": args.mac, "mode": sock.mode}), flush=True)
            stats = Runner(sock, make_handler(args.ip, args.mac)).run()
        print(json.dumps({"received": stats.received, "answered": stats.replied,
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
