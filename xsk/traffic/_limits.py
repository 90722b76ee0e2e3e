"""How large a frame may be, said before anything is sent: it must fit one UMEM frame, and the
interface must carry it (its MTU), or the frames vanish (a veth counts them as sent and the peer
drops every one).

``umem_fit`` says what a frame larger than its UMEM frame needs (a 4096-byte UMEM frame up to
4096, and past that nothing xsk has: AF_XDP multi-buffer is not used here). ``check_mtu``
refuses frames longer than the interface's MTU lets through, saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigError

ETH_HLEN = 14
VLAN_HLEN = 4
MAX_UMEM_FRAME = 4096
_VLAN_TYPES = (b"\x81\x00", b"\x88\xa8", b"\x91\x00")


def umem_fit(length: int, frame_size: int) -> str:
    """The end of a message refusing a ``length``-byte frame in ``frame_size``-byte UMEM frames:
    what does fit it, if anything does."""
    if length <= MAX_UMEM_FRAME:
        return f"use frame_size={MAX_UMEM_FRAME} (frames up to {MAX_UMEM_FRAME} bytes), or smaller sizes"
    return (f"a frame is sent from one UMEM frame, at most {MAX_UMEM_FRAME} bytes (frame_size={MAX_UMEM_FRAME}): "
            f"{length}-byte (jumbo) frames would need AF_XDP multi-buffer, which xsk does not use; "
            f"send {MAX_UMEM_FRAME} bytes or less")


def vlan_tags(frame: bytes) -> int:
    """How many 802.1Q/802.1ad tags follow the frame's MAC addresses."""
    tags, at = 0, 12
    while frame[at : at + 2] in _VLAN_TYPES:
        tags, at = tags + 1, at + VLAN_HLEN
    return tags


def wire_limit(mtu: int, frame: bytes) -> int:
    """The longest frame (without FCS) an interface with ``mtu`` passes: the MTU of payload after
    the Ethernet header and the frame's own VLAN tags."""
    return mtu + ETH_HLEN + VLAN_HLEN * vlan_tags(frame)


def check_mtu(ifname: str, mtu: int | None, frames: Iterable[tuple[str | None, int, bytes]], *,
              sized: bool = True) -> None:
    """Refuse frames longer than ``ifname``'s ``mtu`` lets through: ``frames`` gives, per stream,
    its name (None: the only one), its longest length and its packet (for its VLAN tags).
    ``sized``: the lengths are the caller's to choose (a size), not a capture's."""
    if mtu is None:
        return
    for name, longest, packet in frames:
        limit = wire_limit(mtu, packet)
        if longest > limit:
            whose = f"stream {name!r}: its " if name else "the "
            tags = vlan_tags(packet)
            header = f"the {ETH_HLEN}-byte Ethernet header" + (f" and {tags} VLAN tag(s)" if tags else "")
            shrink = ("Raise" if not sized else f"Use size={limit} or less, or raise" if name is None
                      else f"Give it sizes up to {limit}, or raise")
            raise ConfigError(
                f"{whose}{longest}-byte frames are longer than {ifname}'s MTU of {mtu} lets through ({limit} bytes "
                f"without FCS: the MTU and {header}): the interface would drop every one unsent. {shrink} the MTU "
                f"(ip link set {ifname} mtu {mtu + longest - limit}, and the same on the receiving end)")


__all__ = ["ETH_HLEN", "MAX_UMEM_FRAME", "VLAN_HLEN", "check_mtu", "umem_fit", "vlan_tags", "wire_limit"]
