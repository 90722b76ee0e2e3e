"""Batch: a run of UMEM frames owned by the caller.

A Batch is the only handle through which user code touches frames. It is made by
``Umem.take`` (frames for building packets) or ``Socket.recv`` (frames the kernel
filled) and it is *spent* when its frames are handed over: sent, released or given
to a fill ring. Any use of a spent batch raises FrameOwnershipError; memoryviews it
handed out are released at that moment, so a stale view raises ValueError instead
of reading a frame that now belongs to the kernel.

A partial send leaves the frames the ring could not take in the batch, still owned
by the caller (backpressure, never loss).

Reuse: a batch that owns nothing (spent, or empty) can be passed as ``into=`` to
``Socket.recv`` or ``Umem.take``, which then fill it in place instead of making a new
one: no allocation on the data path. Its ``addrs``/``lens``/``options`` arrays are
views of buffers the batch keeps, so an array read from it before reuse shows the new
frames afterwards; copy what must outlive the frames.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ._binding import CData, ffi, lib
from ._procfork import forked_away
from .errors import ClosedError, ConfigError, FrameOwnershipError, FrameTooLargeError

_from_buffer = ffi.from_buffer  # bound once: select() makes up to five buffers per call
_NULL = ffi.NULL
_select = lib.xsk_ledger_select
_BOOL = np.dtype(np.bool_)

XDP_PKT_CONTD: int = lib.XDP_PKT_CONTD  # descriptor option: the packet continues in the next descriptor
_request = lib.xsk_txmd_request
_REQUEST_ERRORS = {
    lib.XSK_TXMD_ERR_ROOM: "its data starts less than {md} bytes into its frame, where the request goes (Umem.take "
                           "leaves that room; Batch.set_offsets may have taken it), or runs past the frame",
    lib.XSK_TXMD_ERR_CSUM: "csum_start + csum_offset + 2 is more than its length",
    lib.XSK_TXMD_ERR_NO_L4: "it has no UDP or TCP header over IPv4/IPv6 (checksum=True finds the checksum by "
                            "the headers; give (csum_start, csum_offset) for anything else)",
}

if TYPE_CHECKING:
    from scapy.packet import Packet

    from ._ledger import Ledger
    from ._rxmeta import RxMetadata


class FrameArea(Protocol):
    """What a batch needs of the UMEM its frames belong to (``xsk.Umem`` is the one): the area
    and its geometry, the ledger that records who owns each frame, and the pool to give frames
    back to. A batch holds its UMEM for as long as it lives; the UMEM outlives its batches' use
    (a batch of a closed UMEM refuses every access)."""

    frame_size: int
    size: int
    tx_metadata_len: int
    array: np.ndarray
    ledger: Ledger

    @property
    def closed(self) -> bool: ...

    @property
    def pid(self) -> int: ...

    def area_pointer(self) -> CData: ...

    def frames_of(self, addrs: np.ndarray) -> np.ndarray: ...

    def offsets_of(self, addrs: np.ndarray) -> np.ndarray: ...

    def view(self, start: int, stop: int) -> memoryview: ...

    def read_rows(self, addrs: np.ndarray, length: int) -> np.ndarray: ...

    def write_rows(self, addrs: np.ndarray, values: np.ndarray) -> None: ...

    def release(self, frames: Batch) -> None: ...


class Holder(Protocol):
    """What a batch needs of the socket that received its frames: to give them back to its
    fill ring (``release``) while it is open."""

    @property
    def closed(self) -> bool: ...

    def release(self, batch: Batch) -> int: ...


class Batch:
    """Frames ``addrs[i]`` holding ``lens[i]`` bytes each, owned by the caller until handed over.

    ``addrs`` are UMEM offsets of each frame's data (for received frames this is past the
    kernel's headroom); ``lens`` may be changed freely before sending.
    """

    __slots__ = (
        "_addrs", "_addrs_c", "_bufs", "_lens", "_lens_c", "_opts", "_source", "_spent", "_token", "_umem",
        "_views",
    )

    def __init__(
        self, umem: FrameArea, addrs: np.ndarray, lens: np.ndarray, token: int, source: Holder | None,
        opts: np.ndarray | None = None,
    ) -> None:
        self._umem = umem
        self._addrs = addrs
        self._lens = lens
        self._opts = opts  # descriptor options (XDP_PKT_CONTD), kept only once they are used
        self._token = token
        self._source = source
        self._spent = False
        self._views: list[memoryview] = []
        # cdata pointers to _addrs/_lens, made on first use
        self._addrs_c: CData | None = None
        self._lens_c: CData | None = None
        self._bufs: _Buffers | None = None  # set once the batch is reused (into=)

    # --- the library's inner interface ---------------------------------------------------------
    # What xsk's own modules use of a batch, and nothing else: the C views of its arrays
    # (c_addrs, c_lens) and the arrays themselves (raw_addrs, raw_lens), its UMEM (umem), its
    # socket (source), a check that it still owns its frames (check_live). The data path that
    # hands frames over (Socket.recv/send/release/fill, Umem.take/release) also reads and sets
    # the slots _addrs, _lens, _opts, _addrs_c, _lens_c, _token, _spent and _views directly and
    # calls _consume, _reusable and _refilled: a property or method per batch there would cost
    # instructions per packet (tools/instructions).

    @property
    def umem(self) -> FrameArea:
        """The UMEM the frames belong to."""
        return self._umem

    def check_live(self) -> None:
        """Raise unless the batch still owns its frames (not spent, not the parent's after fork())."""
        self._live()

    def raw_addrs(self) -> np.ndarray:
        """The addresses array itself (no check, no read-only view: a per-batch helper that has
        checked the batch with :meth:`check_live` reads it without paying for ``addrs``)."""
        return self._addrs

    def raw_lens(self) -> np.ndarray:
        """The lengths array itself (see :meth:`raw_addrs`); the C units may write new lengths into it."""
        return self._lens

    def c_addrs(self) -> CData:
        """The addresses as a C ``uint64_t[]`` over the batch's own array, for the C units' per-batch
        calls (valid while the batch holds these frames)."""
        c = self._addrs_c
        if c is None:
            c = self._addrs_c = ffi.from_buffer("uint64_t[]", self._addrs)
        return c

    def c_lens(self) -> CData:
        """The lengths as a C ``uint32_t[]`` over the batch's own array (see :meth:`c_addrs`)."""
        c = self._lens_c
        if c is None:
            c = self._lens_c = ffi.from_buffer("uint32_t[]", self._lens)
        return c

    def _reusable(self, umem: FrameArea, capacity: int, with_opts: bool) -> _Buffers:
        """This batch's buffers for refilling it with up to ``capacity`` frames (``into=``).

        Only a batch that owns nothing may be refilled: frames are never dropped by reuse."""
        if self._umem is not umem:
            raise FrameOwnershipError("into=: this batch belongs to another UMEM")
        if not self._spent and len(self._addrs):
            raise FrameOwnershipError(
                f"into=: this batch still owns {len(self._addrs)} frames; send, release or fill them first"
            )
        bufs = self._bufs
        if bufs is None or bufs.capacity < capacity or (with_opts and bufs.opts is None):
            bufs = self._bufs = _Buffers(max(capacity, bufs.capacity if bufs else 0), with_opts)
        return bufs

    def _refilled(self, bufs: _Buffers, n: int, token: int, source: Holder | None, with_opts: bool) -> Batch:
        """The C call wrote ``n`` frames for ``token`` into ``bufs``: this batch now owns them."""
        if n != bufs.n:  # the views of the first n entries are kept: a steady batch size makes none
            bufs.views(n)
        self._addrs = bufs.addrs_n
        self._lens = bufs.lens_n
        self._opts = bufs.opts_n if with_opts else None
        self._addrs_c, self._lens_c = bufs.addrs_c, bufs.lens_c
        self._token = token
        self._source = source
        self._spent = False
        return self

    # --- ownership ---------------------------------------------------------------------------
    @property
    def source(self) -> Holder | None:
        """The socket that received these frames (None for frames from ``Umem.take``)."""
        return self._source

    @property
    def spent(self) -> bool:
        """True once the frames were handed over; the batch then owns nothing."""
        return self._spent

    def _live(self) -> None:
        if forked_away(self._umem.pid):
            raise ClosedError("this batch belongs to the parent process: after fork() the child has no UMEM")
        if self._spent:
            raise FrameOwnershipError(
                "this batch was already handed over (sent, released or filled); "
                "its frames belong to someone else now"
            )

    def _release_views(self) -> None:
        for view in self._views:
            with contextlib.suppress(BufferError):  # a numpy array still exports it: nothing more to do
                view.release()
        self._views.clear()

    def _consume(self, k: int) -> None:
        """The first ``k`` frames were handed over: keep the rest, or become spent if none are left."""
        if k == 0:
            return
        if self._views:
            self._release_views()
        if k >= len(self._addrs):
            self._spent = True  # the arrays stay as they are: a spent batch reads nothing
            return
        self._addrs = self._addrs[k:]
        self._lens = self._lens[k:]
        if self._addrs_c is not None:
            self._addrs_c += k
        if self._lens_c is not None:
            self._lens_c += k
        if self._opts is not None:
            self._opts = self._opts[k:]

    def release(self) -> None:
        """Give the frames back: a received batch to its socket's fill ring, a taken one to the pool."""
        self._live()
        if self._source is not None and not self._source.closed:
            self._source.release(self)
        else:
            self._umem.release(self)

    def split(self, k: int) -> Batch:
        """Move the first ``k`` frames into a new batch (with a token of its own) and return it."""
        self._live()
        if not 0 <= k <= len(self._addrs):
            raise ValueError(f"split({k}) of a batch of {len(self._addrs)}")
        mask = np.zeros(len(self._addrs), dtype=bool)
        mask[:k] = True
        return self.select(mask)

    def select(self, mask: np.ndarray) -> Batch:
        """Move the frames where ``mask`` is true into a new batch (in order) and return it.

        The new batch has a token of its own, so each frame stays reachable through exactly
        one batch; the frames where ``mask`` is false stay in this one, in order. Their
        addresses and options move to the front of this batch's arrays (an ``addrs`` view or
        ``options`` array read before shows them so); lengths get a new array, so a
        ``Headers`` parsed before keeps the lengths it was parsed with.
        """
        self._live()
        if mask.__class__ is not np.ndarray or mask.dtype is not _BOOL or not mask.flags.c_contiguous:
            mask = np.ascontiguousarray(mask, dtype=np.bool_)
        n = len(self._addrs)
        if mask.shape != (n,):
            raise ValueError(f"mask of shape {mask.shape} for a batch of {n}")
        umem = self._umem
        ledger = umem.ledger
        token = next(ledger.tokens())
        sel_a = np.empty(n, np.uint64)
        lens = np.empty(2 * n, np.uint32)  # the selected ones' in [0, n), the rest's from n: one allocation
        sel_ac = _from_buffer("uint64_t[]", sel_a)
        lens_c = _from_buffer("uint32_t[]", lens)
        opts = self._opts
        if opts is None:
            sel_o = None
            k = _select(ledger.c, self.c_addrs(), self.c_lens(), _NULL, _from_buffer("uint8_t[]", mask), n,
                        self._token, token, sel_ac, lens_c, _NULL, lens_c + n, ledger.bad_unread)
        else:
            sel_o = np.empty(n, np.uint32)
            k = _select(ledger.c, self.c_addrs(), self.c_lens(), _from_buffer("uint32_t[]", opts),
                        _from_buffer("uint8_t[]", mask), n, self._token, token, sel_ac, lens_c,
                        _from_buffer("uint32_t[]", sel_o), lens_c + n, ledger.bad_unread)
        if k < 0:
            ledger.raise_refused(k, self.c_addrs(), n, self._token, "split")
        if self._views:
            self._release_views()
        r = n - k
        # the rest: addresses at the front of this batch's array (its pointer stays valid, and the
        # view keeps the array alive), lengths in the new array, whose view keeps it alive
        self._addrs = self._addrs[:r]
        self._lens = lens[n:n + r]
        self._lens_c = lens_c + n if r else None
        if opts is not None:
            self._opts = opts[:r]
        selected = Batch(umem, sel_a[:k] if r else sel_a, lens[:k], token, self._source,
                         sel_o if sel_o is None or not r else sel_o[:k])
        selected._addrs_c, selected._lens_c = sel_ac, lens_c
        return selected

    def __del__(self) -> None:
        """A batch dropped while it still owns frames gives them back to the pool, with a warning:
        frames are never lost to a forgotten batch (but the code that dropped it has a bug)."""
        try:
            if self._spent or not len(self._addrs) or self._umem.closed or forked_away(self._umem.pid):
                return
            n = len(self._addrs)
            self._umem.release(self)
        except Exception:  # interpreter shutdown (the ledger checks make anything else impossible)
            return
        warnings.warn(
            f"a Batch of {n} frames was dropped without send(), release() or fill(); its frames went "
            "back to the pool", ResourceWarning, stacklevel=2,
        )

    # --- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return 0 if self._spent else len(self._addrs)

    def __repr__(self) -> str:
        state = "spent" if self._spent else f"{len(self._addrs)} frames"
        return f"<xsk.Batch {state}>"

    @property
    def addrs(self) -> np.ndarray:
        """UMEM offsets of each frame's data (read-only)."""
        self._live()
        view: np.ndarray = self._addrs.view()
        view.flags.writeable = False
        return view

    @property
    def lens(self) -> np.ndarray:
        """Length of each frame in bytes; writable, checked against the frame size on send."""
        self._live()
        return self._lens

    @property
    def options(self) -> np.ndarray:
        """Descriptor options of each frame (writable): ``XDP_PKT_CONTD`` marks a fragment that
        the next frame of the same packet continues (multi-buffer sockets, see ``Socket``);
        ``XDP_TX_METADATA`` a packet with a TX metadata request (set by ``request_tx``)."""
        self._live()
        if self._opts is None:
            self._opts = np.zeros(len(self._addrs), dtype=np.uint32)
        return self._opts

    def request_tx(self, *, checksum: bool | tuple[int | np.ndarray, int | np.ndarray] | None = None,
                   timestamp: bool = False) -> None:
        """Ask the kernel (or the device) for TX offloads for every packet of the batch, on its next send.

        For a UMEM made with ``tx_metadata=True`` (see :mod:`xsk.txmeta`): one C call writes a
        request in the metadata area in front of each packet's first frame and sets
        ``XDP_TX_METADATA`` in its ``options``. ``timestamp``: a completion timestamp, read
        with ``Socket.tx_timestamps()`` once the completion is reaped. ``checksum=True``: the
        frame's UDP/TCP checksum over IPv4/IPv6, found by its headers; its field is set now to
        the pseudo-header sum, which the device completes. ``checksum=(csum_start,
        csum_offset)``: the sum from ``csum_start`` bytes into the frame to its end, stored at
        ``csum_start + csum_offset`` (ints for all frames, or arrays of one per frame); the
        field is summed as it is, so seed it. Neither: the requests are withdrawn.

        The batch must own its frames, with their final lengths (the checksum's place is
        checked against them). All or nothing: a frame that can't carry the request raises
        ConfigError naming it, and nothing is written. The requests go with the frames: a
        ``split`` or a partial send keeps them with the frames they were made for.
        """
        self._live()
        umem = self._umem
        md = umem.tx_metadata_len
        if not md:
            raise ConfigError("request_tx: TX metadata needs room in front of each frame; make the UMEM with "
                              "Umem(tx_metadata=True)")
        n = len(self._addrs)
        mode, starts, offsets, per_frame = self._checksum_place(checksum, n)
        opts = self.options  # made on first use: zeros
        bad = ffi.new("uint32_t *")
        rc = _request(umem.area_pointer(), umem.size, umem.frame_size, md, self.c_addrs(), self.c_lens(),
                      _from_buffer("uint32_t[]", opts), n, 1 if timestamp else 0, mode,
                      _NULL if starts is None else _from_buffer("uint16_t[]", starts),
                      _NULL if offsets is None else _from_buffer("uint16_t[]", offsets), per_frame, bad)
        if rc < 0:
            i = int(bad[0])
            raise ConfigError(f"request_tx: frame {i} of the batch can't carry a TX metadata request: "
                              + _REQUEST_ERRORS[rc].format(md=md))

    @staticmethod
    def _checksum_place(checksum: object, n: int) -> tuple[int, np.ndarray | None, np.ndarray | None, int]:
        """``checksum=`` as xsk_txmd_request takes it: (mode, csum_start, csum_offset, per frame)."""
        if checksum is None or checksum is False:
            return int(lib.XSK_TXMD_CSUM_NONE), None, None, 0
        if checksum is True:
            return int(lib.XSK_TXMD_CSUM_L4), None, None, 0
        if not isinstance(checksum, tuple) or len(checksum) != 2:
            raise ConfigError(f"True (the UDP/TCP checksum, found by the headers), (csum_start, csum_offset) "
                              f"or None, got {checksum!r}", argument="checksum")
        cols = [np.asarray(c) for c in checksum]
        if any(c.dtype.kind not in "iu" or c.ndim > 1 for c in cols):
            raise ConfigError(f"(csum_start, csum_offset) must be integers or integer arrays, got {checksum!r}",
                              argument="checksum")
        per_frame = any(c.ndim == 1 for c in cols)
        if per_frame and any(c.ndim == 1 and len(c) != n for c in cols):
            raise ConfigError(f"one (csum_start, csum_offset) per frame: arrays of {n}", argument="checksum")
        shaped = [np.broadcast_to(c, (n,)) if per_frame else c.reshape(1) for c in cols]
        if any(int(c.min(initial=0)) < 0 or int(c.max(initial=0)) > 0xFFFF for c in shaped):
            raise ConfigError(f"csum_start and csum_offset are 16-bit offsets (0..65535), got {checksum!r}",
                              argument="checksum")
        start, offset = (np.ascontiguousarray(c, dtype=np.uint16) for c in shaped)
        return int(lib.XSK_TXMD_CSUM_GIVEN), start, offset, 1 if per_frame else 0

    def packet_starts(self) -> np.ndarray:
        """Index of the first frame of each packet in the batch (each frame is a packet unless
        ``options`` chain fragments together with XDP_PKT_CONTD)."""
        self._live()
        if self._opts is None:
            return np.arange(len(self._addrs))
        cont = (self._opts & XDP_PKT_CONTD) != 0
        return np.flatnonzero(np.concatenate(([True], ~cont[:-1]))) if len(cont) else np.arange(0)

    @property
    def frame_indices(self) -> np.ndarray:
        self._live()
        return self._umem.frames_of(self._addrs)

    @property
    def offsets(self) -> np.ndarray:
        """Offset of each frame's data inside its UMEM frame."""
        self._live()
        return self._umem.offsets_of(self._addrs)

    def set_offsets(self, offsets: int | np.ndarray) -> None:
        """Start each frame's data ``offsets[i]`` bytes into its UMEM frame (one value for all).

        For frames about to be sent: room in front of the data (to prepend a header later,
        or to test the kernel's descriptor checks). Bytes are not moved; the frames stay the
        same frames, so ownership is unchanged. On a UMEM with TX metadata, an offset below
        ``Umem.tx_metadata_len`` is refused by ``send`` (the request goes there).
        """
        self._live()
        offs = np.broadcast_to(np.asarray(offsets, dtype=np.int64), (len(self),))
        if len(self) and (int(offs.min()) < 0 or int(offs.max()) >= self._umem.frame_size):
            raise FrameTooLargeError(f"offsets must lie inside a {self._umem.frame_size}-byte frame")
        base = self._umem.frames_of(self._addrs).astype(np.uint64) * np.uint64(self._umem.frame_size)
        self._addrs[:] = base + offs.astype(np.uint64)

    def metadata(self, width: int) -> np.ndarray:
        """A copy of the ``width`` bytes in front of each frame's data, as (n, width) uint8.

        That is where an XDP program's ``bpf_xdp_adjust_meta`` metadata lands in received
        frames (the kernel copies it along in copy mode); its layout is the program's to define.
        """
        self._live()
        if len(self) and int(self._umem.offsets_of(self._addrs).min()) < width:
            raise FrameTooLargeError(f"{width} bytes of metadata would start before a frame's beginning")
        rows: np.ndarray = self._umem.array[(self._addrs.astype(np.int64) - width)[:, None] + np.arange(width)]
        return rows

    def rx_metadata(self) -> RxMetadata:
        """The driver's RX hints for every frame (hash, timestamp, VLAN tag, each with a mask of
        the frames it was given for), from a socket opened with ``rx_metadata``; see :mod:`xsk._rxmeta`."""
        from . import _rxmeta as rxmeta

        return rxmeta.read(self)

    @property
    def rx_hash(self) -> np.ma.MaskedArray:
        """Each frame's RX hash (uint32), masked where the driver gave none (see :meth:`rx_metadata`)."""
        m = self.rx_metadata()
        return np.ma.MaskedArray(m.hash, mask=~m.has_hash)

    @property
    def rx_timestamp(self) -> np.ma.MaskedArray:
        """Each frame's hardware RX timestamp (uint64 ns), masked where the driver gave none."""
        m = self.rx_metadata()
        return np.ma.MaskedArray(m.timestamp, mask=~m.has_timestamp)

    @property
    def rx_vlan(self) -> np.ma.MaskedArray:
        """Each frame's VLAN id (uint16, the TCI's low 12 bits), masked where it had no tag the
        driver took out (see :meth:`rx_metadata` for the protocol and priority)."""
        m = self.rx_metadata()
        return np.ma.MaskedArray(m.vlan_id, mask=~m.has_vlan)

    def room(self, i: int) -> int:
        """Bytes available from frame ``i``'s data start to the end of its UMEM frame."""
        self._live()
        return self._umem.frame_size - int(self._addrs[i]) % self._umem.frame_size

    def data(self, i: int) -> memoryview:
        """Zero-copy, writable view of frame ``i``'s ``lens[i]`` bytes, valid while the batch owns it."""
        self._live()
        start, length = int(self._addrs[i]), int(self._lens[i])
        if length > self.room(i):
            raise FrameTooLargeError(
                f"lens[{i}] = {length} runs past the end of its {self._umem.frame_size}-byte frame"
            )
        view = self._umem.view(start, start + length)
        self._views.append(view)
        return view

    def packet(self, i: int) -> Packet:
        """Frame ``i`` dissected by scapy (``Ether``), a copy: for tests and inspection, not the data path."""
        from scapy.layers.l2 import Ether

        return Ether(bytes(self.data(i)))

    def to_scapy(self) -> list[Packet]:
        """Every frame dissected by scapy, copies (see ``packet``)."""
        return [self.packet(i) for i in range(len(self))]

    def payloads(self) -> list[bytes]:
        """A copy of every frame's bytes (for inspection; not for the data path)."""
        return [bytes(self.data(i)) for i in range(len(self))]

    def write(self, i: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into frame ``i`` and set its length."""
        self._live()
        n = len(data)
        if n > self.room(i):
            raise FrameTooLargeError(
                f"{n}-byte frame does not fit: {self.room(i)} bytes of room in a "
                f"{self._umem.frame_size}-byte UMEM frame"
            )
        start = int(self._addrs[i])
        self._umem.array[start : start + n] = np.frombuffer(data, dtype=np.uint8)
        self._lens[i] = n

    def write_template(self, template: bytes | np.ndarray) -> None:
        """Copy the same bytes into every frame of the batch and set every length (vectorised)."""
        self._live()
        tpl = np.frombuffer(template, dtype=np.uint8) if isinstance(template, (bytes, bytearray)) else template
        n = len(tpl)
        if len(self) and n > int(self.room_all().min()):
            raise FrameTooLargeError(f"{n}-byte template does not fit in a {self._umem.frame_size}-byte frame")
        self._umem.write_rows(self._addrs, tpl)
        self._lens[:] = n

    def fill(self, template: bytes | np.ndarray) -> None:
        """Deprecated name of :meth:`write_template` (``fill`` is the fill ring's word: ``Socket.fill``)."""
        warnings.warn("Batch.write_template(template) is deprecated: it is Batch.write_template(template) now "
                      "(Socket.fill puts frames on the fill ring)", DeprecationWarning, stacklevel=2)
        self.write_template(template)

    def gather(self, length: int | None = None) -> np.ndarray:
        """A copy of the first ``length`` bytes of every frame as an (n, length) uint8 array."""
        self._live()
        if length is None:
            length = int(self._lens.max()) if len(self) else 0
        return self._umem.read_rows(self._addrs, length)

    def read_at(self, offsets: int | np.integer | np.ndarray, width: int) -> np.ndarray:
        """A copy of ``width`` bytes at ``offsets`` (one per frame, or one for all) as (n, width)."""
        self._live()
        rows: np.ndarray = self._umem.array[self._spots(offsets, width)]
        return rows

    def write_at(self, offsets: int | np.integer | np.ndarray, values: np.ndarray) -> None:
        """Write row ``values[i]`` ((n, width) or one (width,) row) at ``offsets[i]`` in frame i."""
        self._live()
        values = np.asarray(values, dtype=np.uint8)
        self._umem.array[self._spots(offsets, values.shape[-1])] = values

    def _spots(self, offsets: int | np.integer | np.ndarray, width: int) -> np.ndarray:
        """UMEM indices of ``width`` bytes at ``offsets`` in each frame, as (n, width); checked to
        stay inside each frame. One offset for all frames (the usual case, and every request of a
        one-frame batch) is checked with Python ints: numpy's per-call overhead was 40-50 us of a
        one-frame read_at."""
        n = len(self)
        if isinstance(offsets, (int, np.integer)):
            off = int(offsets)
            if n == 1:
                addr = int(self._addrs[0])
                if off < 0 or off + width > self._umem.frame_size - addr % self._umem.frame_size:
                    raise FrameTooLargeError(f"{width} bytes at offset {off} run past the end of the frame")
                return np.arange(addr + off, addr + off + width, dtype=np.int64)[None, :]
            if n and (off < 0 or off + width > int(self.room_all().min())):
                raise FrameTooLargeError(f"{width} bytes at offset {off} run past the end of a frame")
            return (self._addrs.astype(np.int64) + off)[:, None] + np.arange(width)
        offs = np.broadcast_to(np.asarray(offsets, dtype=np.int64), (n,))
        if n and (np.any(offs < 0) or np.any(offs + width > self.room_all())):
            raise FrameTooLargeError(f"{width} bytes at the given offsets run past the end of a frame")
        return (self._addrs.astype(np.int64) + offs)[:, None] + np.arange(width)

    def room_all(self) -> np.ndarray:
        """Bytes from each frame's data start to the end of its UMEM frame."""
        return self._umem.frame_size - self._umem.offsets_of(self._addrs).astype(np.int64)

    def patch(self, offset: int, values: np.ndarray) -> None:
        """Write row ``values[i]`` (bytes, as a uint8 (n, k) array) at ``offset`` in every frame."""
        self._live()
        values = np.asarray(values, dtype=np.uint8).reshape(len(self), -1)
        self.write_at(offset, values)


class _Buffers:
    """The arrays a reused batch fills in place, with their cdata pointers made once."""

    __slots__ = ("addrs", "addrs_c", "addrs_n", "capacity", "lens", "lens_c", "lens_n", "n", "opts", "opts_c",
                 "opts_n")

    def __init__(self, capacity: int, with_opts: bool) -> None:
        self.capacity = capacity
        self.addrs = np.empty(capacity, dtype=np.uint64)
        self.lens = np.empty(capacity, dtype=np.uint32)
        self.opts = np.empty(capacity, dtype=np.uint32) if with_opts else None
        self.addrs_c = ffi.from_buffer("uint64_t[]", self.addrs)
        self.lens_c = ffi.from_buffer("uint32_t[]", self.lens)
        self.opts_c = ffi.from_buffer("uint32_t[]", self.opts) if with_opts else ffi.NULL
        self.views(0)

    def views(self, n: int) -> None:
        """Make ``addrs_n``/``lens_n``/``opts_n``: views of the first ``n`` entries (a numpy slice
        costs about as much as a C call, so a batch refilled with the same count reuses them)."""
        self.n = n
        self.addrs_n = self.addrs[:n]
        self.lens_n = self.lens[:n]
        self.opts_n = None if self.opts is None else self.opts[:n]
