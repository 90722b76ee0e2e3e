"""In-place rewrites for answering a received batch with the same frames (zero copy).

Each helper is one C call per batch over the frames in the UMEM: swapping Ethernet
addresses, IP addresses and ports (which leaves every checksum valid: the sums are
order-independent; and ``reflect``, ``swap_ips`` and ``swap_ports`` also finish, by default, a
checksum a local sender left to offload, so the reply is valid on the wire whatever the
client's veth does), 16-bit field updates with incremental checksum fixes (RFC 1624), and a
full UDP/TCP checksum recompute for frames whose checksum a local sender left to offload, and
replies of another length (``set_payload``/``set_payloads``: lengths and checksums made whole).
``where`` limits a helper to the frames where it is true. Every offset is checked against its
frame's room before any frame changes; a frame the headers place outside its room raises
ConfigError and leaves the batch as it was. A batch already handed over (sent, released or
filled) is refused by every helper with FrameOwnershipError: its frames are someone else's.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._batch import Batch
from ._binding import CData, ffi, lib
from .errors import ConfigError, FrameTooLargeError
from .headers import CSUM_PARTIAL, Headers

_swap = lib.xsk_pkt_swap  # bound once: a lookup on lib costs as much as a short call
_update_word = lib.xsk_pkt_update_word
_csum_fix = lib.xsk_pkt_l4_csum_fix
_set_payload = lib.xsk_pkt_set_payload
_SIZES_WRONG = int(lib.XSK_PAYLOAD_SIZES_WRONG)
MACS, IPS, PORTS = int(lib.XSK_SWAP_MACS), int(lib.XSK_SWAP_IPS), int(lib.XSK_SWAP_PORTS)
_LOOKS_PARTIAL = int(lib.XSK_FIX_LOOKS_PARTIAL)


def _where(where: np.ndarray | None, n: int) -> tuple[CData, np.ndarray | None]:
    if where is None:
        return ffi.NULL, None
    mask = np.ascontiguousarray(where, dtype=np.uint8)
    if mask.shape != (n,):
        raise ConfigError(f"a mask of shape {mask.shape} for a batch of {n}", argument="where")
    return ffi.from_buffer("uint8_t[]", mask), mask


def _usable(batch: Batch, h: Headers | None) -> int:
    """The batch's length, once it is live and ``h`` (if given) describes as many frames."""
    batch.check_live()
    n = len(batch.raw_addrs())  # len(batch) of a live batch
    if h is not None and len(h.lens) != n:
        raise ConfigError(f"headers of {len(h)} frames for a batch of {n}", argument="h")
    return n


def _swap_in(batch: Batch, h: Headers | None, where: np.ndarray | None, what: int,
             finish_partial: bool = False) -> None:
    n = _usable(batch, h)
    if not n:
        return
    mask_c, _keep = _where(where, n)
    records = ffi.NULL if h is None else h._c()
    umem = batch.umem
    area, addrs = umem.area_pointer(), batch.c_addrs()
    if _swap(area, addrs, records, mask_c, n, umem.size, umem.frame_size, what):
        raise ConfigError("a header to swap lies outside its frame (or an address outside the UMEM): "
                          "nothing was changed")
    if finish_partial and h is not None:
        _csum_fix(area, addrs, batch.c_lens(), records, mask_c, _LOOKS_PARTIAL, n, umem.size, umem.frame_size)


def reflect(batch: Batch, h: Headers, where: np.ndarray | None = None, *, finish_partial: bool = True) -> None:
    """Swap MACs, IP addresses and ports, in one call: each frame goes back where it came from.

    ``finish_partial``: a UDP/TCP checksum that holds only its pseudo-header sum (a client on
    this host whose veth has checksum offload on, as ``ip link`` and container runtimes make
    them) is finished over the datagram, so the reply is valid on the wire; the others are only
    compared with their pseudo-header sum (a few ns a frame). False leaves every checksum as it
    came, for those who know their senders finish theirs."""
    _swap_in(batch, h, where, MACS | IPS | PORTS, finish_partial)


def swap_macs(batch: Batch, where: np.ndarray | None = None) -> None:
    """Exchange destination and source MAC of every frame (or those where ``where`` is true)."""
    if not _usable(batch, None):
        return
    if where is None:
        umem = batch.umem
        if lib.xsk_pkt_swap_macs(umem.area_pointer(), batch.c_addrs(), len(batch), umem.size, umem.frame_size):
            raise ConfigError("an address is outside the UMEM or too close to the end of its frame")
        return
    _swap_in(batch, None, where, MACS)


def swap_ips(batch: Batch, h: Headers, where: np.ndarray | None = None, *, finish_partial: bool = True) -> None:
    """Exchange source and destination IPv4/IPv6 addresses where the frame has them (and finish
    partial checksums, as ``reflect`` does)."""
    _swap_in(batch, h, where, IPS, finish_partial)


def swap_ports(batch: Batch, h: Headers, where: np.ndarray | None = None, *, finish_partial: bool = True) -> None:
    """Exchange UDP/TCP source and destination ports where the frame has them (and finish
    partial checksums, as ``reflect`` does)."""
    _swap_in(batch, h, where, PORTS, finish_partial)


def fix_l4_checksums(batch: Batch, h: Headers, where: np.ndarray | None = None) -> int:
    """Recompute the UDP/TCP checksum of every frame (or those where ``where`` is true) over its
    datagram, in one C call; returns how many were written.

    Swaps and ``update_word`` keep a checksum as valid as it was; after a rewrite they can't
    follow (or to repair one), this recomputes it. Frames without UDP/TCP, or whose datagram
    (by the IP header's length) runs past the frame, are left alone. A UDP checksum that
    computes to 0 is written 0xffff. See also ``finish_partial_checksums``.
    """
    return _fix(batch, h, where, -1)


def finish_partial_checksums(batch: Batch, h: Headers) -> int:
    """Recompute the checksums a local sender left to offload (``h.l4_csum_partial``), in one C
    call with no mask to build; returns how many. ``h`` from ``parse(batch, verify_checksums=True)``.

    A client on the same host over a veth with TX checksum offload on (``ip link`` and
    container runtimes make them so) sends only the pseudo-header sum; a reply that keeps it
    is dropped by the client's kernel. Call this after the swaps, before sending.
    """
    if not h._verified:
        h.l4_csum  # noqa: B018 -- raises the ConfigError that says so
    return _fix(batch, h, None, CSUM_PARTIAL)


def _fix(batch: Batch, h: Headers, where: np.ndarray | None, state: int) -> int:
    n = _usable(batch, h)
    if not n:
        return 0
    mask_c, _keep = _where(where, n)
    umem = batch.umem
    return int(_csum_fix(umem.area_pointer(), batch.c_addrs(), batch.c_lens(), h._c(), mask_c, state, n, umem.size,
                         umem.frame_size))


def set_payloads(batch: Batch, h: Headers, payloads: Sequence[bytes | bytearray | memoryview] | np.ndarray,
                 where: np.ndarray | None = None) -> None:
    """Give each frame (or each frame where ``where`` is true, in order) a UDP/TCP payload of its
    own length, in one C call: ``payloads[k]`` goes to the k-th such frame. ``payloads`` is a
    sequence of bytes-like objects, or a 2-D uint8 array with one row per payload (all of one
    length: no Python work per frame).

    The frame is made whole again: its length, the IPv4 total length and header checksum or the
    IPv6 payload length, the UDP length, and the UDP/TCP checksum (recomputed over the datagram,
    so it is valid even if the request's was partial). For TCP, sequence and acknowledgement
    numbers stay the protocol's business. Everything is checked first; a frame that is not
    UDP/TCP over IPv4/IPv6 (without IPv6 extension headers), or whose new length does not fit its
    room in the UMEM, raises ConfigError (FrameTooLargeError) naming its index, and nothing changed.
    """
    n = _usable(batch, h)
    mask_c, mask = _where(where, n)
    _set_payloads(batch, h, payloads, n, mask_c, mask, n if mask is None else int(np.count_nonzero(mask)))


def _set_payloads(batch: Batch, h: Headers, payloads: Sequence[bytes | bytearray | memoryview] | np.ndarray,
                  n: int, mask_c: CData, mask: np.ndarray | None, selected: int) -> None:
    """set_payloads once the frames are chosen: ``selected`` of the batch's ``n`` (where ``mask``, or all)."""
    if isinstance(payloads, np.ndarray) and payloads.ndim != 2:
        raise ConfigError(f"an array of payloads has one row per payload, not shape {payloads.shape}",
                          argument="payloads")
    if len(payloads) != selected:
        raise ConfigError(f"{len(payloads)} payloads for {selected} frames", argument="payloads")
    if not selected:
        return
    data: Any
    sizes: Sequence[int] = ()
    sizes_c = ffi.NULL
    if isinstance(payloads, np.ndarray):  # rows of one width: no work per payload here
        rows = np.ascontiguousarray(payloads, dtype=np.uint8)
        width = rows.shape[1]
        data = ffi.from_buffer("uint8_t[]", rows) if width else b"\0"
        data_len = rows.size
    elif selected == 1:
        one = payloads[0]
        data = one if isinstance(one, bytes) else bytes(one)
        width = data_len = len(data)
        data = data or b"\0"
    else:  # the payloads back to back, and their sizes: two passes over the list, both in C
        data = b"".join(payloads)
        data_len = len(data)
        sizes = array("I", map(len, payloads))
        sizes_c = ffi.from_buffer("uint32_t[]", sizes)
        width = 0
        data = data or b"\0"
    umem = batch.umem
    rc = _set_payload(umem.area_pointer(), batch.c_addrs(), batch.c_lens(), h._c(), mask_c, n, data, data_len,
                      sizes_c, width, umem.size, umem.frame_size)
    if rc == _SIZES_WRONG:  # a memoryview of wider items: len() counts items, the join bytes
        sizes = array("I", (memoryview(p).nbytes for p in payloads))
        sizes_c = ffi.from_buffer("uint32_t[]", sizes)
        rc = _set_payload(umem.area_pointer(), batch.c_addrs(), batch.c_lens(), h._c(), mask_c, n, data, data_len,
                          sizes_c, width, umem.size, umem.frame_size)
        if rc == _SIZES_WRONG:
            raise ConfigError("the payloads' sizes do not add up to their bytes; nothing was changed",
                              argument="payloads")
    if rc < 0:
        i = -1 - rc
        k = i if mask is None else int(np.count_nonzero(mask[:i]))
        rec = h.records()[i]
        if int(rec["payload"]) < 0 or int(rec["proto"]) not in (6, 17) or int(rec["ip_version"]) not in (4, 6):
            raise ConfigError(f"frame {i} has no UDP/TCP payload over IPv4/IPv6 to replace; nothing was changed",
                              argument="payloads")
        if int(rec["proto"]) == 6 and int(rec["payload"]) - int(rec["l4"]) < 20:
            raise ConfigError(f"frame {i}'s TCP header is malformed or cut short (its data offset is below 5, or "
                              "the frame ends inside it), so its payload is not replaced; nothing was changed",
                              argument="payloads")
        size = int(sizes[k]) if len(sizes) else width
        raise FrameTooLargeError(
            f"frame {i}: a {size}-byte payload at offset {int(rec['payload'])} does not fit its "
            f"{batch.room(i)} bytes of room (or the IP length limit, or IPv6 extension headers are in the way); "
            "nothing was changed")


def set_payload(batch: Batch, h: Headers, i: int, payload: bytes | bytearray | memoryview) -> None:
    """Frame ``i``'s UDP/TCP payload becomes ``payload`` (any length that fits), headers and
    checksums made whole again: :func:`set_payloads` for one frame."""
    if not 0 <= i < len(batch):
        raise ConfigError(f"no frame {i} in a batch of {len(batch)}", argument="i")
    n = _usable(batch, h)
    where = np.zeros(n, dtype=np.uint8)
    where[i] = 1
    _set_payloads(batch, h, (payload,), n, ffi.from_buffer("uint8_t[]", where), where, 1)


def _per_frame(values: np.ndarray | int, n: int, argument: str) -> np.ndarray:
    """One int32 per frame, contiguous (what the C helpers take, as Headers' offsets are), from
    an array or one int."""
    if isinstance(values, int):
        return np.full(n, values, dtype=np.int32)
    out = np.ascontiguousarray(values, dtype=np.int32)  # copied only from a record field or another type
    if out.shape != (n,):
        raise ConfigError(f"{out.size} values for a batch of {n}", argument=argument)
    return out


def update_word(batch: Batch, offsets: np.ndarray, csum_offsets: np.ndarray, new_words: np.ndarray | int,
                where: np.ndarray | None = None) -> None:
    """Set the 16-bit word at ``offsets`` to ``new_words`` (one per frame, or one for all) and fix
    the checksum at ``csum_offsets`` for it, in the frames where ``where`` is true.

    Incremental update (RFC 1624 eqn. 3): HC' = ~(~HC + ~m + m').
    """
    n = _usable(batch, None)
    if not n:
        return
    offs = _per_frame(offsets, n, "offsets")
    coffs = _per_frame(csum_offsets, n, "csum_offsets")
    words_c, word, words = ffi.NULL, 0, None
    if isinstance(new_words, int):
        word = new_words & 0xFFFF
    else:
        words = (np.asarray(new_words) & 0xFFFF).astype(np.uint16)
        if words.shape == (1,):
            word, words = int(words[0]), None
        elif words.shape != (n,):
            raise ConfigError(f"{words.size} words for a batch of {n}: give one per frame or one for all",
                              argument="new_words")
        else:
            words_c = ffi.from_buffer("uint16_t[]", words)
    mask_c, _keep = _where(where, n)
    umem = batch.umem
    if _update_word(umem.area_pointer(), batch.c_addrs(), ffi.from_buffer("int32_t[]", offs),
                    ffi.from_buffer("int32_t[]", coffs), words_c, word, mask_c, n, umem.size, umem.frame_size):
        raise ConfigError("an offset lies outside its frame: nothing was changed")
