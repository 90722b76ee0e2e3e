"""AF_XDP TX metadata: checksum offload and completion timestamps, packet by packet.

Linux 6.8 lets an AF_XDP socket ask, per packet, for what the kernel's own sockets get from a
device: the UDP/TCP checksum filled in on the way out, and the time the packet left. The
request sits in the UMEM just before the packet's data, in a ``struct xsk_tx_metadata``
(:data:`METADATA_LEN` bytes); the descriptor's ``XDP_TX_METADATA`` option says it is there.

Setting up
----------
``Umem(tx_metadata=True)`` registers the UMEM with ``tx_metadata_len`` = :data:`METADATA_LEN`.
Only libxdp 1.5+ can do that (``xsk_umem__create_opts``; Debian 13 has 1.5.4): with an older
libxdp (Debian 12: 1.3.1) it raises ``UnsupportedError`` naming the version xsk was built
against (:data:`LIBXDP_VERSION`; :data:`AVAILABLE` says it up front), as it does on a kernel
before 6.8. ``tx_sw_checksum=True`` adds ``XDP_UMEM_TX_SW_CSUM``: in copy mode the kernel then
computes requested checksums itself when it builds the packet. Without it a copy-mode packet
leaves as a kernel socket's would with checksum offload (``CHECKSUM_PARTIAL``): a device with TX
checksum offload fills it in, and for one without it the kernel sums it in software on the way
to the device; but a veth with offload on passes it to its peer unfilled (the receiver sees
only the pseudo-header sum), so there ``tx_sw_checksum`` is what fills it. Zero-copy drivers do
the request themselves where they can (netlink's ``xsk-features`` says which can).

Layout and ownership
--------------------
In such a UMEM the first :data:`METADATA_LEN` bytes of every frame are the request's:
``Umem.take`` hands out addresses that many bytes into their frames, and ``Socket.send``
refuses (FrameTooLargeError, nothing sent) a descriptor that starts closer to its frame's start,
which the kernel would reject and never complete. Received frames start further in (the
kernel's 256-byte headroom), so they can be sent back as they are. The area belongs to whoever
owns the frame: ``Batch.request_tx`` writes it while the batch holds the frames, the kernel
reads it while they are on the TX ring, and the library reads the timestamp the kernel wrote
there while it moves the frame from TX back to the pool (under the ledger's lock, before anyone
can take the frame again): no one else touches it in between.

Requests
--------
``batch.request_tx(timestamp=True, checksum=True)`` writes the request in front of each
packet's first frame (one C call for the batch) and sets ``XDP_TX_METADATA`` in
``Batch.options``; the next ``send`` carries it. ``checksum=True`` finds each frame's UDP or TCP
checksum over IPv4/IPv6 from its headers and sets the field to the pseudo-header sum, which is
what the device completes (the sum runs to the end of the frame, so bytes after the IP datagram,
Ethernet padding, must be zeros; a UDP sum of 0 is sent as 0, not 0xffff);
``checksum=(start, offset)`` (ints, or one per frame) asks for the sum from ``start`` bytes
into the frame stored at ``start + offset``, over whatever the field holds. A multi-buffer
packet carries its request in its first frame only. Frames sent without a request (options
without ``XDP_TX_METADATA``) are sent as they are, and ignore the area.

Completion timestamps
---------------------
When the completion of a frame that asked for one is reaped (by ``send``, ``recv``, ``complete``
or ``flush``: the ledger's completion step), its timestamp goes into the queue's log, which
keeps the newest entries (at least as many as the UMEM has frames) until
``Socket.tx_timestamps()`` reads them: :class:`TxTimestamps`, the addresses as they were sent
and the times, oldest first. The frames themselves went back to the pool exactly as without
TX metadata; only the log remembers them.

The clock is ``CLOCK_TAI`` in nanoseconds. Copy mode gives a software timestamp, taken when
the kernel frees the sent skb (on veth: as it is handed to the peer; on a NIC: when the driver
completes it), i.e. the kernel's own send time rather than the wire's. A zero-copy driver
gives its device's clock (``xsk-features`` ``tx-timestamp``), which may be a PTP hardware
clock, not the system's. Where the driver gave none the time reads 0. ``CLOCK_TAI`` is
``CLOCK_REALTIME`` plus the kernel's TAI offset (37 s where a time daemon set it, else 0):
:func:`tai_offset_ns` gives it, for comparing with ``time.time_ns()``.
"""

from __future__ import annotations

import errno
import os
import time
from typing import NamedTuple

import numpy as np

from ._binding import ffi, lib
from .errors import UnsupportedError

AVAILABLE = bool(lib.XSK_HAVE_TX_METADATA)
"""Whether this build can register a UMEM with TX metadata (its libxdp has ``xsk_umem__create_opts``)."""

LIBXDP_VERSION: str = ffi.string(lib.xsk_txmd_libxdp_version()).decode()
"""The libxdp version xsk was built against (pkg-config's), "unknown" if it could not tell."""

METADATA_LEN = int(lib.XSK_TX_METADATA_LEN)
"""Bytes of each frame before a TX packet's data that hold its request: the kernel's
``struct xsk_tx_metadata`` of Linux 6.15+ (flags, the checksum's place, launch time; the
completion timestamp overwrites the checksum's place)."""

MIN_KERNEL = (6, 8)
"""The first Linux with AF_XDP TX metadata."""

XDP_TX_METADATA = int(lib.XDP_TX_METADATA)
"""Descriptor option: the metadata in front of this packet's data is a request."""
FLAG_TIMESTAMP = int(lib.XDP_TXMD_FLAGS_TIMESTAMP)
FLAG_CHECKSUM = int(lib.XDP_TXMD_FLAGS_CHECKSUM)
METADATA_DTYPE = np.dtype({
    "names": ["flags", "csum_start", "csum_offset", "pad", "launch_time"],
    "formats": [np.uint64, np.uint16, np.uint16, np.uint32, np.uint64],
    "offsets": [ffi.offsetof("struct xsk_txmd", "flags"),
                *(ffi.offsetof("struct xsk_txmd", "request", f) for f in ("csum_start", "csum_offset", "pad",
                                                                          "launch_time"))],
    "itemsize": ffi.sizeof("struct xsk_txmd")})
"""The request as it lies in the UMEM (``completion.tx_timestamp`` shares the 8 bytes from
``csum_start``), laid out as the C units' ``struct xsk_txmd`` (txmd.h): for tests and inspection."""
assert METADATA_DTYPE.itemsize == METADATA_LEN


class TxTimestamps(NamedTuple):
    """Completion timestamps of frames sent with ``request_tx(timestamp=True)``, oldest first.

    ``addrs``: each descriptor's address as it was sent (uint64); its frame is back in the pool
    already and may hold another packet by now. ``ns``: the kernel's timestamp, ``CLOCK_TAI``
    ns (uint64), 0 where the driver gave none. ``lost``: entries the log overwrote before they
    were read (read more often, or read fewer at a time with many in flight).
    """

    addrs: np.ndarray
    ns: np.ndarray
    lost: int


def kernel_version() -> tuple[int, int]:
    """This kernel's (major, minor) release."""
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def require(what: str = "TX metadata") -> None:
    """Raise UnsupportedError, saying what is missing and where to get it, unless this build and
    this kernel can register a UMEM with TX metadata."""
    if not AVAILABLE:
        raise UnsupportedError(
            f"{what}: AF_XDP TX metadata needs libxdp >= 1.5, whose xsk_umem__create_opts registers a UMEM "
            f"with tx_metadata_len (Debian 13 has 1.5.4); xsk was built against libxdp {LIBXDP_VERSION}, which "
            "can't. Install libxdp-dev 1.5 or later and rebuild xsk (make setup)", errno=errno.EOPNOTSUPP)
    if kernel_version() < MIN_KERNEL:
        raise UnsupportedError(
            f"{what}: AF_XDP TX metadata needs Linux {MIN_KERNEL[0]}.{MIN_KERNEL[1]} or later; this kernel is "
            f"{os.uname().release}", errno=errno.EOPNOTSUPP)


def tai_offset_ns() -> int:
    """CLOCK_TAI minus CLOCK_REALTIME, in ns: the kernel's TAI offset, a whole number of seconds.
    Subtract it from a timestamp to compare it with ``time.time_ns()``."""
    tai = time.clock_gettime_ns(time.CLOCK_TAI)
    real = time.clock_gettime_ns(time.CLOCK_REALTIME)
    return round((tai - real) / 1e9) * 1_000_000_000


__all__ = ["AVAILABLE", "FLAG_CHECKSUM", "FLAG_TIMESTAMP", "LIBXDP_VERSION", "METADATA_DTYPE", "METADATA_LEN",
           "MIN_KERNEL", "XDP_TX_METADATA", "TxTimestamps", "kernel_version", "require", "tai_offset_ns"]
