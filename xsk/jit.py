"""Compiled frame handlers: a protocol handler written in Python, compiled with numba, called
from C for every frame with the GIL released::

    from xsk import jit

    @jit.handler
    def echo(frame, length, h):         # frame: the frame's bytes (uint8 array, to the end of its
        if not h.udp:                   #   UMEM frame), length: its length, h: its parsed headers
            return jit.PASS             # no reply: the frame goes back to the fill ring
        jit.reflect(frame, h)           # MACs, IPs and ports swapped: checksums stay valid
        jit.finish_checksum(frame, h)   # a sender's partial checksum (offload) made whole
        return jit.SEND                 # send it back as it is now

    xsk.Runner(sock, echo, verify_checksums=True).run()   # the whole loop in C, no GIL

What a handler returns: :data:`SEND` (the frame as it is, at its received length), a length
``1..len(frame)`` (send that many bytes: a reply of another length), :data:`PASS` (no reply,
counted ``returned``) or :data:`DROP` (no reply, counted ``dropped``). Anything else, a length
past the frame, or an exception inside the compiled handler (an index out of range included:
bounds are checked) gives the frame back and is counted (``invalid``, ``raised``): no frame is
ever lost or kept. ``h`` is the frame's ``struct xsk_hdr`` as :func:`xsk.headers.parse` gives
it, a record with the fields of :mod:`xsk.headers` (``h.l3``, ``h.l4``, ``h.payload``,
``h.udp``, ``h.l4_csum``...); offsets count from ``frame[0]``.

``state``: numpy arrays the handler reads and writes (a table, counters), passed after ``h``
(``@jit.handler(state=(table, counts))`` and ``def fn(frame, length, h, table, counts)``).
Globals and closure variables are compile-time constants to numba (read-only). Functions the
handler calls are decorated with :func:`function`.

The same function runs uncompiled: ``Runner(sock, handler, compiled=False)`` calls its Python
(``handler.py_func``) from the same C loop, frame by frame, so the results are the same and a
debugger or ``print`` works; there an exception stops the run and is raised. ``handler(frame,
length, h)`` calls it directly. Compiling needs numba (``pip install 'xsk[jit]'``); a handler
numba can't compile raises :class:`xsk.errors.CompileError` with numba's message and the line,
when the Runner is made, before any traffic.

The helpers below are numba functions (compiled where a handler calls them; plain Python
without numba): the protocol library of :mod:`xsk.replies`, one frame at a time. Each reads and
writes whole words, after checking that the fields it touches lie in ``frame``: one that does
not raises IndexError (the frame given back, counted ``raised``) whatever ``boundscheck`` says.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from . import _jitcore
from ._jitcore import FrameHandler, handler, njit, numba_or_none
from ._jitwords import be16, be32, load16, load32, load64, store16, store32, store64
from .headers import CSUM_PARTIAL

__all__ = [
    "DROP", "INVALID", "PASS", "SEND", "FrameHandler", "checksum_update", "finish_checksum", "fix_l4_checksum",
    "function", "get_u16", "get_u32", "handler", "ip4_header_checksum", "put_u16", "put_u32", "reflect", "set_payload",
    "set_payload_length", "swap_ips", "swap_macs", "swap_ports", "update_word",
]

PASS = _jitcore.PASS
"""No reply: the frame goes back to the fill ring (counted ``returned``)."""
DROP = _jitcore.DROP
"""No reply, counted ``dropped`` (a malformed or unwanted request)."""
SEND = _jitcore.SEND
"""Send the frame as it is now, at its received length."""
INVALID = _jitcore.INVALID
"""What a helper returns when it can't build the reply (it would not fit the frame); returned by
the handler, the frame goes back and is counted ``invalid``."""

_F = TypeVar("_F", bound=Callable[..., Any])
_ODD_SHIFT = 0 if sys.byteorder == "little" else 8  # an odd last byte is a word's first byte: its low half here


def _small(fn: _F) -> _F:
    """A small helper, inlined by numba into the compiled function that calls it (no call); the
    plain function without numba. It touches the frame only through fields ``_in_frame`` checked."""
    return fn if numba_or_none() is None else cast(_F, njit(fn, cache=True, inline=True, nrt=False))


def _called(fn: _F) -> _F:
    """A larger helper (a loop, several fields), compiled once and called: inlining it everywhere
    made numba take minutes for a handler with a dozen calls. The plain function without numba."""
    return fn if numba_or_none() is None else cast(_F, njit(fn, cache=True, nrt=False))


def function(fn: _F) -> _F:
    """Decorate a function your handler calls (numba compiles it with bounds checks; it stays
    plain Python without numba): a handler can call only these, the helpers here and what numba
    knows. An index outside an array raises there, as in the handler (counted ``raised``)."""
    return fn if numba_or_none() is None else cast(_F, njit(fn, cache=True, boundscheck=True))


def _outside_the_frame() -> None:
    raise IndexError("xsk.jit: a field outside the frame")


if numba_or_none() is not None:  # called, not inlined: numba's try/except catches only what a call raises
    _outside_the_frame = njit(_outside_the_frame, cache=True)


# --- helpers: big-endian fields ----------------------------------------------------------------
@_small
def _in_frame(frame: np.ndarray, off: int, n: int) -> None:
    """IndexError unless ``frame[off:off + n]`` lies inside the frame: checked once per field,
    whatever the handler's ``boundscheck``, before the word-wide access."""
    if off < 0 or off + n > len(frame):
        _outside_the_frame()


@_small
def get_u16(frame: np.ndarray, off: int) -> int:
    """The big-endian 16-bit word at ``frame[off]``."""
    _in_frame(frame, off, 2)
    return int(be16(load16(frame, off)))


@_small
def put_u16(frame: np.ndarray, off: int, value: int) -> None:
    """Write ``value`` (its low 16 bits) as a big-endian 16-bit word at ``frame[off]``."""
    _in_frame(frame, off, 2)
    store16(frame, off, be16(value))


@_small
def get_u32(frame: np.ndarray, off: int) -> int:
    """The big-endian 32-bit word at ``frame[off]``."""
    _in_frame(frame, off, 4)
    return int(be32(load32(frame, off)))


@_small
def put_u32(frame: np.ndarray, off: int, value: int) -> None:
    """Write ``value`` (its low 32 bits) as a big-endian 32-bit word at ``frame[off]``."""
    _in_frame(frame, off, 4)
    store32(frame, off, be32(value))


# --- helpers: answering in place ---------------------------------------------------------------
@_small
def swap_macs(frame: np.ndarray) -> None:
    """Exchange destination and source MAC."""
    _in_frame(frame, 0, 12)
    dst_hi, dst_lo = load32(frame, 0), load16(frame, 4)
    store32(frame, 0, load32(frame, 6))
    store16(frame, 4, load16(frame, 10))
    store32(frame, 6, dst_hi)
    store16(frame, 10, dst_lo)


@_small
def swap_ips(frame: np.ndarray, h: Any) -> None:
    """Exchange source and destination IPv4/IPv6 address, where the frame has them (checksums stay valid)."""
    if h.ip_version == 4:
        at = h.l3 + 12
        _in_frame(frame, at, 8)
        src = load32(frame, at)
        store32(frame, at, load32(frame, at + 4))
        store32(frame, at + 4, src)
    elif h.ip_version == 6:
        at = h.l3 + 8
        _in_frame(frame, at, 32)
        src_hi, src_lo = load64(frame, at), load64(frame, at + 8)
        store64(frame, at, load64(frame, at + 16))
        store64(frame, at + 8, load64(frame, at + 24))
        store64(frame, at + 16, src_hi)
        store64(frame, at + 24, src_lo)


@_small
def swap_ports(frame: np.ndarray, h: Any) -> None:
    """Exchange UDP/TCP source and destination port, where the frame has them."""
    if h.l4 >= 0 and (h.udp or h.tcp):
        _in_frame(frame, h.l4, 4)
        ports = load32(frame, h.l4)
        store32(frame, h.l4, (ports >> 16) | (ports << 16))


@_small
def reflect(frame: np.ndarray, h: Any) -> None:
    """MACs, IP addresses and ports swapped: the frame goes back where it came from (checksums
    stay as valid as they came: see :func:`finish_checksum`)."""
    swap_macs(frame)
    swap_ips(frame, h)
    swap_ports(frame, h)


# --- helpers: checksums ------------------------------------------------------------------------
@_small
def checksum_update(csum: int, old: int, new: int) -> int:
    """A 16-bit one's-complement checksum after one of the words it covers went from ``old`` to
    ``new`` (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'))."""
    s = (~csum & 0xFFFF) + (~old & 0xFFFF) + (new & 0xFFFF)
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return int(~s & 0xFFFF)


@_small
def update_word(frame: np.ndarray, off: int, csum_off: int, value: int) -> None:
    """Set the big-endian word at ``off`` to ``value`` and fix the checksum at ``csum_off`` for it."""
    old = get_u16(frame, off)
    put_u16(frame, off, value & 0xFFFF)
    put_u16(frame, csum_off, checksum_update(get_u16(frame, csum_off), old, value & 0xFFFF))


@_called
def _sum16(frame: np.ndarray, start: int, n: int, acc: int) -> int:
    """acc + the big-endian 16-bit words of frame[start:start+n] (an odd last byte padded).

    Summed as the machine's words, 32 bits at a time, and turned big-endian once folded: a
    one's-complement sum does not depend on the byte order it is taken in (RFC 1071, 2.B)."""
    _in_frame(frame, start, n)
    s = np.int64(0)
    i = start
    end = start + n
    while i + 4 <= end:
        w = np.int64(load32(frame, i))
        s += (w & 0xFFFF) + (w >> 16)
        i += 4
    if i + 2 <= end:
        s += np.int64(load16(frame, i))
        i += 2
    if i < end:
        s += np.int64(frame[i]) << _ODD_SHIFT
    return int(acc + np.int64(be16(_fold(int(s)))))


@_small
def _fold(acc: int) -> int:
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


@_called
def ip4_header_checksum(frame: np.ndarray, l3: int) -> None:
    """Recompute the IPv4 header checksum of the header at ``l3``."""
    _in_frame(frame, l3, 20)
    ihl = (int(frame[l3]) & 0x0F) * 4
    put_u16(frame, l3 + 10, 0)
    put_u16(frame, l3 + 10, ~_fold(_sum16(frame, l3, ihl, 0)) & 0xFFFF)


@_small
def _l4_length(frame: np.ndarray, h: Any) -> int:
    """The UDP/TCP datagram's length by its IP header, or -1."""
    if h.ip_version == 4:
        return int(get_u16(frame, h.l3 + 2) - (h.l4 - h.l3))
    if h.ip_version == 6:
        return int(get_u16(frame, h.l3 + 4) - (h.l4 - h.l3 - 40))
    return -1


@_called
def fix_l4_checksum(frame: np.ndarray, h: Any) -> bool:
    """Recompute the UDP/TCP checksum over the datagram (IPv4 or IPv6 pseudo-header, length by
    the IP header); False (nothing written) for a frame without UDP/TCP or whose datagram runs
    past the frame. A UDP checksum that computes to 0 is written 0xffff."""
    if h.l4 < 0 or not (h.udp or h.tcp):
        return False
    n = _l4_length(frame, h)
    if n < (8 if h.udp else 20) or h.l4 + n > len(frame):
        return False
    at = h.l4 + (6 if h.udp else 16)
    put_u16(frame, at, 0)
    acc = _sum16(frame, h.l3 + 12, 8, 0) if h.ip_version == 4 else _sum16(frame, h.l3 + 8, 32, 0)
    acc += int(h.proto) + n
    c = ~_fold(_sum16(frame, h.l4, n, acc)) & 0xFFFF
    if c == 0 and h.udp:
        c = 0xFFFF
    put_u16(frame, at, c)
    return True


@_small
def finish_checksum(frame: np.ndarray, h: Any) -> bool:
    """Finish a checksum the sender left to offload (``h.l4_csum`` is CSUM_PARTIAL: the handler
    runs with ``verify_checksums=True``); True if it did. Call it after the swaps."""
    if h.l4_csum == CSUM_PARTIAL:
        return bool(fix_l4_checksum(frame, h))
    return False


# --- helpers: replies of another length ------------------------------------------------------------
@_called
def set_payload_length(frame: np.ndarray, h: Any, n: int) -> int:
    """Make the frame whole for a UDP/TCP payload of ``n`` bytes at ``h.payload`` (written there
    already): IPv4 total length and header checksum or IPv6 payload length, UDP length, UDP/TCP
    checksum. Returns the frame's new length (return it from the handler), or :data:`INVALID`
    (nothing changed) when the frame has no UDP/TCP payload over IPv4/IPv6 or it would not fit."""
    if h.payload < 0 or not (h.udp or h.tcp) or n < 0:
        return INVALID
    total = h.payload + n
    if total > len(frame):
        return INVALID
    if h.ip_version == 4:
        if total - h.l3 > 0xFFFF:
            return INVALID
        put_u16(frame, h.l3 + 2, total - h.l3)
        ip4_header_checksum(frame, h.l3)
    elif h.ip_version == 6:
        if total - h.l3 - 40 > 0xFFFF:
            return INVALID
        put_u16(frame, h.l3 + 4, total - h.l3 - 40)
    else:
        return INVALID
    if h.udp:
        put_u16(frame, h.l4 + 4, total - h.l4)
    fix_l4_checksum(frame, h)
    return int(total)


@_called
def set_payload(frame: np.ndarray, h: Any, data: np.ndarray, n: int) -> int:
    """The UDP/TCP payload becomes ``data[:n]``, the frame made whole (see
    :func:`set_payload_length`); returns the new length, or :data:`INVALID` (nothing changed)."""
    if h.payload < 0 or n < 0 or n > len(data) or h.payload + n > len(frame):
        return INVALID
    if not (h.udp or h.tcp) or (h.ip_version != 4 and h.ip_version != 6):
        return INVALID
    at = h.payload
    for i in range(n):  # a loop, not a slice: a slice is a new array, which needs numba's reference counts
        frame[at + i] = data[i]
    return int(set_payload_length(frame, h, n))


