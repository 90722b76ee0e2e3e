"""What reaches an interface's kernel stack, captured with an AF_PACKET socket.

A :class:`Capture` sees each frame the interface received and passed on to the stack: after
any XDP program on it (what it dropped, redirected or sent back is not here), before
netfilter. Frames the interface sent are left out. It holds frames from the moment it is made
(a 4 MiB socket buffer) until they are read.

Ownership: the Capture owns its socket (closed by ``close()`` or its ``with`` block).
"""

from __future__ import annotations

import select
import socket
import time

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .. import netns as netns_mod

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
_BUFFER = 4 << 20


class Capture:
    """AF_PACKET capture of what ``ifname`` (in ``netns``) hands its kernel stack."""

    def __init__(self, ifname: str, netns: str | None = None) -> None:
        self.ifname = ifname
        self.netns = netns
        with netns_mod.entered(netns):
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
                self._sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
                self._sock.bind((ifname, ETH_P_ALL))
            except BaseException:
                self._sock.close()
                raise
        self._sock.setblocking(False)

    def receive(self, count: int | None = None, timeout: float = 1.0) -> list[Packet]:
        """Frames captured so far and arriving within ``timeout`` seconds, as scapy ``Ether``
        packets: until ``count`` of them (then at once), or all that came by the deadline."""
        got: list[Packet] = []
        deadline = time.monotonic() + timeout
        while count is None or len(got) < count:
            try:
                got.append(Ether(self._sock.recv(65536)))
                continue
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select([self._sock], [], [], left)
        return got

    def close(self) -> None:
        self._sock.close()

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
