"""Everything that talks netlink works inside a running asyncio event loop, as outside one.

pyroute2's synchronous API cannot run in a thread whose event loop is running; xsk runs its
netlink calls in a helper thread in the caller's namespace there (xsk/_netlink.py). Each test
does its whole job inside ``asyncio.run`` and fails on the "never awaited" warning pyroute2
leaves behind when that goes wrong.
"""

from __future__ import annotations

import asyncio
import socket
import warnings

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk import link, netns
from xsk.testing import RoutedPair, VethPair


def _in_loop(coro_fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return asyncio.run(coro_fn())


def test_veth_pair_socket_and_link_lookups_inside_a_running_loop(make_umem):
    async def main():
        assert asyncio.get_running_loop().is_running()
        with VethPair() as pair:
            umem = make_umem()
            with xsk.Socket(umem, pair.b.ifname, netns=pair.b.netns, filter="udp:7007") as sock:
                with netns.entered(pair.a.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                    for i in range(5):
                        client.sendto(b"datagram %d" % i, (pair.b.ip, 7007))
                got = []
                for _ in range(50):
                    batch = sock.recv(16, timeout=0.05)
                    got += [bytes(batch.data(i))[-10:] for i in range(len(batch))]
                    sock.release(batch)
                    if len(got) == 5:
                        break
                    await asyncio.sleep(0)
                assert got == [b"datagram %d" % i for i in range(5)]
                with netns.entered(pair.b.netns):
                    assert link.driver_name(pair.b.ifname) == "veth"
                    assert link.mac_address(pair.b.ifname) == pair.b.mac
                    assert link.ipv4_address(pair.b.ifname) == pair.b.ip
                    assert link.queue_counts(link.ifindex(pair.b.ifname)) == (1, 1)
                assert pair.counters()["a"]["tx_packets"] >= 5
            assert umem.accounting().pool == umem.accounting().total
            return pair.a.netns, pair.b.netns

    made = _in_loop(main)
    assert not any(netns.exists(name) for name in made)


def test_routed_pair_send_and_receive_inside_a_running_loop():
    async def main():
        with RoutedPair(forwarding=True) as net:
            frame = (Ether(src=net.a.mac, dst=net.ra.mac) / IP(src=net.a.ip, dst=net.b.ip, ttl=9)
                     / UDP(sport=1, dport=9) / b"routed")
            assert net.a.send(frame) == 1
            got = [p for p in net.b.receive(timeout=1.0) if UDP in p and p[UDP].dport == 9]
            assert len(got) == 1 and got[0][IP].ttl == 8 and bytes(got[0][UDP].payload) == b"routed"
            return [end.netns for end in net.ends]

    made = _in_loop(main)
    assert not any(netns.exists(name) for name in set(made))
