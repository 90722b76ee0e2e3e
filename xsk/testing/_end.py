"""One end of a veth link inside a throwaway namespace, and what a test does with it.

An :class:`End` names its namespace, interface and addresses, and drives the wire:
``attach`` an XDP program to it, ``send`` frames out of it exactly as built (AF_XDP),
``receive`` what reached its kernel stack (AF_PACKET), and read veth's XDP counters.

Captures start on every end of a layout (both ends of a ``VethPair``, all four of a
``RoutedPair``) the first time a test attaches to or sends through any of them, so what
arrives after that is never missed; ``receive`` on an end with no capture yet starts one and
sees only what comes later.

Ownership: the tools an End opens (attachments, its sender, its capture) belong to the layout
that made it (``VethPair``, ``RoutedPair``), which closes them, detaching every program, before
it removes the namespaces, also when the test failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scapy.packet import Packet

from .. import link
from .. import netns as netns_mod

if TYPE_CHECKING:
    from ._attach import Attachment, AttachMode
    from ._capture import Capture
    from ._frame_sender import FrameSender
    from ._xdp import XdpProgram


@dataclass
class _Wire:
    """An End's live tools (not part of its identity)."""

    peer: End | None = None
    layout: list[End] = field(default_factory=list)  # every end of the layout it belongs to
    attachments: list[Attachment] = field(default_factory=list)
    napi_pass: Attachment | None = None  # the XDP_PASS program that keeps this end receiving XDP frames
    sender: FrameSender | None = None
    capture: Capture | None = None


@dataclass(frozen=True)
class End:
    """One side of a link: the namespace it lives in, its interface and addresses."""

    netns: str
    ifname: str
    mac: str
    ip: str | None
    prefixlen: int
    _wire: _Wire = field(default_factory=_Wire, compare=False, repr=False)

    @property
    def address(self) -> str | None:
        """The end's IPv4 address (``ip``), None when it has none."""
        return self.ip

    @property
    def peer(self) -> End | None:
        """The other end of this veth link (None for an End made by hand)."""
        return self._wire.peer

    @property
    def ifindex(self) -> int:
        """The interface's index in its namespace."""
        with netns_mod.entered(self.netns):
            return link.ifindex(self.ifname, self.netns)

    def attach(self, program: XdpProgram | str | os.PathLike[str], *, mode: AttachMode = "native",
               name: str | None = None, constants: Mapping[str, Any] | None = None) -> Attachment:
        """Attach an XDP program (loaded, or a ``.c``/``.o`` path) to this end; detached when
        the layout is removed, or earlier with ``close()``.

        In native mode the peer gets a two-instruction XDP_PASS program if it has none, so
        that what this program sends back (``XDP_TX``) or redirects there is received: veth
        takes XDP frames only into an end with an XDP program. A program attached to that
        peer later takes its place."""
        from ._attach import attach, attach_pass

        wire = self._wire
        stand_in = wire.napi_pass
        if stand_in is not None:  # the stand-in makes room; it comes back if the attach fails
            stand_in.close()
            wire.napi_pass = None
        try:
            att = attach(program, self.ifname, netns=self.netns, mode=mode, name=name, constants=constants)
        except BaseException:
            if stand_in is not None:
                wire.napi_pass = attach_pass(self.ifname, self.netns)
            raise
        wire.attachments.append(att)
        if mode == "native" and self.peer is not None:
            self.peer.accept_xdp_frames()
        self._listen()
        return att

    def send(self, packets: Iterable[Packet | bytes] | Packet | bytes) -> int:
        """Send scapy packets or bytes out of this end exactly as given (AF_XDP, TX only)."""
        from ._frame_sender import FrameSender

        self._listen()
        if self._wire.sender is None:
            self._wire.sender = FrameSender(self.ifname, self.netns)
        return self._wire.sender.send(packets)

    def receive(self, count: int | None = None, timeout: float = 1.0) -> list[Packet]:
        """What reached this end's kernel stack (after any XDP program on it), as scapy
        packets: until ``count`` of them, or all that came within ``timeout`` seconds."""
        return self._capture().receive(count, timeout)

    def kernel_receive(self, count: int | None = None, timeout: float = 1.0) -> list[Packet]:
        """What this end's XDP program passed on to the kernel stack (``XDP_PASS``): the same
        capture as :meth:`receive`, named for the end a program is attached to."""
        return self.receive(count, timeout)

    def xdp_statistics(self) -> dict[str, int]:
        """veth's XDP counters for this end, summed over its queues (native mode only):
        ``xdp_packets``, ``xdp_drops``, ``xdp_tx``, ``xdp_redirect``, ``xdp_tx_errors``,
        ``xdp_xmit`` (frames other programs redirected out of it), ``xdp_xmit_errors``..."""
        from pyroute2.ethtool.ioctl import IoctlEthtool

        with netns_mod.entered(self.netns):
            tool = IoctlEthtool(self.ifname)
            try:
                stats = list(tool.get_statistics())
            finally:
                tool.close()
        out: dict[str, int] = {}
        for name, value in stats:
            if name.startswith(("rx_queue_", "tx_queue_")):
                key = name.split("_", 3)[3]
                out[key] = out.get(key, 0) + int(value)
        return out

    def _capture(self) -> Capture:
        from ._capture import Capture

        if self._wire.capture is None:
            self._wire.capture = Capture(self.ifname, self.netns)
        return self._wire.capture

    def accept_xdp_frames(self) -> None:
        """Make sure this end receives frames that XDP programs elsewhere send or redirect into
        its peer: veth takes them only into an end with an XDP program, so if this end has
        none, a two-instruction XDP_PASS program goes on it (replaced by any you attach)."""
        from ._attach import attach_pass

        if not self._wire.attachments and self._wire.napi_pass is None:
            self._wire.napi_pass = attach_pass(self.ifname, self.netns)

    def _listen(self) -> None:
        for end in self._wire.layout or [self, *([self.peer] if self.peer else [])]:
            end._capture()

    def close_tools(self) -> None:
        """Detach every program attached through this end, close its sender and capture."""
        wire = self._wire
        while wire.attachments:
            wire.attachments.pop().close()
        if wire.napi_pass is not None:
            wire.napi_pass.close()
            wire.napi_pass = None
        if wire.sender is not None:
            wire.sender.close()
            wire.sender = None
        if wire.capture is not None:
            wire.capture.close()
            wire.capture = None


def link_peers(one: End, other: End) -> None:
    """Record that ``one`` and ``other`` are the two ends of one veth link."""
    one._wire.peer = other
    other._wire.peer = one


def link_layout(*ends: End) -> None:
    """Record that these ends make one layout (captures start on all of them together)."""
    for end in ends:
        end._wire.layout = list(ends)
