"""Send frames exactly as given out of an interface, through an AF_XDP socket.

No kernel stack is involved: no ARP, no checksum offload, no IPv6 chatter; the frames leave
byte for byte as built. The socket is TX-only, so it attaches no XDP program and leaves the
interface free for the program under test.

Ownership: a :class:`FrameSender` owns its UMEM (256 frames of 4 KiB, ordinary memory) and
its socket, both closed by ``close()``. Every frame it takes comes back to its pool before
``send`` returns.
"""

from __future__ import annotations

from collections.abc import Iterable

from scapy.packet import Packet

from .. import netns as netns_mod
from .._netlink import iproute
from .._socket import Socket
from .._umem import Umem
from ..errors import ConfigError, FrameTooLargeError, KernelError, NoSuchInterfaceError

FRAMES = 256
FRAME_SIZE = 4096
ETH_HLEN, VLAN_HLEN = 14, 4


class FrameSender:
    """A TX-only AF_XDP socket on ``ifname`` (queue ``queue``, in ``netns``)."""

    def __init__(self, ifname: str, netns: str | None = None, queue: int = 0) -> None:
        with netns_mod.entered(netns), iproute() as ipr:
            (index,) = ipr.link_lookup(ifname=ifname) or (None,)
            if index is None:
                raise NoSuchInterfaceError(f"no interface {ifname!r} in {netns or 'this namespace'}")
            self.mtu = int(ipr.get_links(index)[0].get_attr("IFLA_MTU"))
        self.umem = Umem(frame_count=FRAMES, frame_size=FRAME_SIZE, hugepages="off")
        try:
            self.socket = Socket(self.umem, ifname, netns=netns, queue=queue, rx=False)
        except BaseException:
            self.umem.close()
            raise

    def send(self, packets: Iterable[Packet | bytes] | Packet | bytes) -> int:
        """Send each packet (scapy or bytes) in order; returns how many went out. Waits for the
        kernel to complete them all (so a capture on the peer can already see them)."""
        if isinstance(packets, Packet | bytes | bytearray):
            packets = [packets]
        frames = [bytes(p) for p in packets]
        largest = min(FRAME_SIZE, self.mtu + ETH_HLEN + VLAN_HLEN)
        for i, f in enumerate(frames):
            if len(f) < ETH_HLEN:
                raise ConfigError(f"packet {i} is {len(f)} bytes: a frame is at least {ETH_HLEN} (an Ethernet header)",
                                  argument="packets")
            if len(f) > largest:
                raise FrameTooLargeError(
                    f"packet {i} is {len(f)} bytes; the interface takes frames up to {largest} (MTU {self.mtu} + "
                    f"Ethernet and VLAN headers{'' if largest < FRAME_SIZE else '; send() up to 4096'})",
                    argument="packets")
        sent = 0
        for start in range(0, len(frames), FRAMES):
            chunk = frames[start:start + FRAMES]
            batch = self.umem.take(len(chunk))
            try:
                for i, f in enumerate(chunk):
                    batch.write(i, f)
                while len(batch):
                    n = self.socket.send(batch)
                    sent += n
                    if len(batch) and not n:
                        self.socket.poll(0.01, rx=False, tx=True)
            finally:
                if len(batch):
                    batch.release()
            if not self.socket.flush(timeout=2):
                raise KernelError(f"{len(chunk)} frames were not completed by the kernel within 2 s")
        return sent

    def close(self) -> None:
        self.socket.close()
        self.umem.close()

    def __enter__(self) -> FrameSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
