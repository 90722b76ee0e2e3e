"""Why frames were lost or refused, in words: the kernel's socket counters read with the
socket's configuration.

The kernel counts what it drops at an AF_XDP socket (XDP_STATISTICS) but says nothing else;
``Socket.diagnose()`` turns each counter that moved into a :class:`Cause` with the likely
reason and what to change. The fix names what to change in the library's terms, a setting as
its keyword (``Umem(frame_size=4096)``, ``Socket(ring_size=)``); the command-line tools print
each cause once on stderr, with their own option for a setting they have one for, and list
them in ``--json`` as ``"warnings"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._binding import lib

ETH_HLEN = 14
XDP_PACKET_HEADROOM = int(lib.XDP_PACKET_HEADROOM)  # the kernel keeps this much of every frame in front of data


@dataclass(frozen=True)
class Cause:
    """One reason frames were lost or refused: the counter that shows it, by how much, why, and the fix."""

    counter: str
    count: int
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"{self.count} frames counted in {self.counter}: {self.reason}; {self.fix}"


def causes(stats: dict[str, int], *, frame_size: int, headroom: int = 0, mtu: int | None = None,
           multi_buffer: bool = False, ring_size: int | None = None, fill_frames: int | None = None,
           rx: bool = True, tx: bool = True) -> list[Cause]:
    """The causes behind a socket's XDP_STATISTICS ``stats`` (as ``Socket.statistics()`` gives them)."""
    out: list[Cause] = []
    dropped = stats.get("rx_dropped", 0)
    if rx and dropped:
        room = frame_size - headroom - XDP_PACKET_HEADROOM
        if mtu is not None and not multi_buffer and mtu + ETH_HLEN > room:
            out.append(Cause(
                "rx_dropped", dropped,
                f"the link's MTU ({mtu}) lets frames of up to {mtu + ETH_HLEN} bytes arrive, more than a "
                f"{frame_size}-byte UMEM frame holds ({room} bytes after the kernel's headroom)",
                "use bigger frames (Umem(frame_size=4096), for an MTU up to "
                f"{4096 - headroom - XDP_PACKET_HEADROOM - ETH_HLEN}), "
                "multi-buffer sockets (Socket(multi_buffer=True), Linux 6.6+), or a smaller MTU"))
        else:
            out.append(Cause(
                "rx_dropped", dropped,
                "the kernel dropped frames on their way to the socket (no frame to copy them into, or "
                "larger than a frame)",
                "keep more frames on the fill ring (a bigger UMEM, release batches sooner)"))
    full = stats.get("rx_ring_full", 0)
    if rx and full:
        out.append(Cause(
            "rx_ring_full", full,
            f"the RX ring{f' ({ring_size} entries)' if ring_size else ''} was full: frames arrived faster "
            "than the program read them",
            "read bigger batches or more often, use a bigger ring (Socket(ring_size=)), or "
            "spread the traffic over more queues (Sink(queues=))"))
    empty = stats.get("rx_fill_ring_empty_descs", 0)
    if rx and empty:
        out.append(Cause(
            "rx_fill_ring_empty_descs", empty,
            f"the fill ring ran empty{f' ({fill_frames} frames kept on it)' if fill_frames else ''}: "
            "received frames were not given back fast enough",
            "release (or send) batches sooner, keep more frames on the fill ring (a bigger UMEM, "
            "Umem(frame_count=), Socket(fill_frames=))"))
    for counter, side in (("rx_invalid_descs", rx), ("tx_invalid_descs", tx)):
        bad = stats.get(counter, 0)
        if side and bad:
            out.append(Cause(
                counter, bad,
                "the kernel refused descriptors: an address outside the UMEM, or a length or offset "
                "that runs past a frame (or unaligned, for copy-mode frames of odd sizes)",
                "check lengths and offsets before sending; send(check_bounds=True) refuses them with the "
                "frame's index before the kernel sees them"))
    return out
