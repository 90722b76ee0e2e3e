"""A socket's place on an interface queue: everything between its arguments and its rings.

:class:`Queue` checks a socket's arguments, chooses or joins the XDP program that steers the
queue's frames (xsk's redirect program, one pinned by an administrator, or the user's own),
creates the kernel's AF_XDP socket and binds it to the queue (retrying while an earlier
socket's asynchronous teardown holds it), puts it into the program's XSKMAP, and owns the
four rings until its teardown. ``xsk.Socket`` drives the data path over those rings;
``xsk.testing.MemorySocket`` uses a :class:`MemoryQueue`-like place whose rings are ordinary
memory, with the same members.

Ownership and lifetimes
-----------------------
* The place registers itself with its UMEM once its rings exist and deregisters in
  :meth:`Queue.teardown`; the UMEM keeps the frames on the fill ring and in flight on TX
  accounted to the ring owner of :class:`FillRings` until the kernel lets go of them.
* Sockets of one UMEM on one queue share one :class:`FillRings` (and the kernel's fill and
  completion rings); the last one to go returns their frames.
* The network namespace is held by file descriptor from bind to teardown, so teardown works
  even after the namespace's name is gone.
* Programs see the socket only as an endpoint with ``fd`` and ``closed``
  (:class:`xsk._program.Endpoint`): the place puts that endpoint into the XSKMAP and takes it
  out again.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable
from typing import Literal

import numpy as np

from . import _filter as filter_mod
from . import _privileges, link
from . import _rxmeta as rxmeta
from . import netns as netns_mod
from ._binding import CData, check, ffi, lib
from ._filter import Rule
from ._program import CustomProgram, Endpoint, RedirectProgram, XdpMode, queue_owner
from ._sockdiag import command_of, queue_holders
from ._umem import Umem
from .errors import ConfigError, QueueRangeError, UnsupportedError
from .pinned import PinnedProgram

Mode = Literal["auto", "copy", "zerocopy"]
STATISTICS = (
    "rx_dropped",
    "rx_invalid_descs",
    "tx_invalid_descs",
    "rx_ring_full",
    "rx_fill_ring_empty_descs",
    "tx_ring_empty_descs",
)
_BIND_RETRIES = 40
_BIND_RETRY_DELAY = 0.05
_DESC_SIZE = ffi.sizeof("struct xdp_desc")  # RX and TX ring entries
_ADDR_SIZE = ffi.sizeof("uint64_t")  # fill and completion ring entries


class FillRings:
    """The fill and completion rings of one interface queue in a UMEM, shared by the sockets bound there.

    ``owner`` is the ledger's ring owner of the frames on the fill ring and of TX frames in
    flight; they return to the pool when the last socket of the queue is gone (see Umem).
    ``c`` (struct xsk_fillq) is what the sockets' data paths share; its count of frames on
    the fill ring changes only in C, under the ledger's lock, so threads can share a queue.
    """

    __slots__ = ("c", "cq", "fq", "members", "owner", "shares_umem_fd", "txmd")

    def __init__(self, fq: CData, cq: CData, owner: int, shares_umem_fd: bool) -> None:
        self.fq, self.cq, self.owner, self.shares_umem_fd = fq, cq, owner, shares_umem_fd
        self.c = ffi.new("struct xsk_fillq *", {"fq": fq, "cq": cq, "owner": owner})
        self.members = 0
        self.txmd: TxLog | None = None  # a UMEM with TX metadata: its completion timestamps

    def log_tx_metadata(self, umem: Umem) -> None:
        """The queue's UMEM has TX metadata: reap its completions through a log (once per queue)."""
        if self.txmd is None:
            self.txmd = TxLog(umem)
            self.c.txmd = self.txmd.c


class TxLog:
    """One queue's log of completion timestamps (``struct xsk_txmd_log``): C writes it while it
    reaps completions and copies it out for ``Socket.tx_timestamps``, both under the ledger's lock.

    It keeps the newest ``cap`` entries, at least as many as the UMEM has frames, so a reader
    that reads after every send never misses one. Its arrays are owned here and lent to C for as
    long as the queue's rings live; it points into the UMEM, which outlives its sockets.
    """

    __slots__ = ("_keep", "addrs", "c", "cap", "ns")

    def __init__(self, umem: Umem) -> None:
        self.cap = 1 << (max(umem.frame_count, umem.comp_size, 64) - 1).bit_length()
        self.addrs = np.zeros(self.cap, dtype=np.uint64)
        self.ns = np.zeros(self.cap, dtype=np.uint64)
        self._keep = (ffi.from_buffer("uint64_t[]", self.addrs), ffi.from_buffer("uint64_t[]", self.ns))
        self.c = ffi.new("struct xsk_txmd_log *", {
            "area": umem.area_pointer(), "requested": umem.tx_requests_c(), "addrs": self._keep[0],
            "ns": self._keep[1], "cap": self.cap, "md_len": umem.tx_metadata_len})

    @property
    def in_fill(self) -> int:
        """Frames this process put on the fill ring that the kernel has not returned."""
        return int(self.c.in_fill)


def holder_hint(ifindex: int, queue: int) -> str:
    """Who holds the queue (EBUSY at bind), by pid and command: from the kernel's sock_diag where
    it has xsk_diag, else from what the xsk process holding it recorded in the redirect program."""
    holders = [(pid, cmd) for pid, cmd in queue_holders(ifindex, queue) if pid != os.getpid()]
    owner = queue_owner(ifindex, queue)
    if not holders and owner and owner != os.getpid():
        holders = [(owner, command_of(owner))]
    if not holders:
        return "another AF_XDP socket holds this queue"
    who = ", ".join(f"process {pid} ({cmd})" for pid, cmd in holders)
    return f"{who} holds this queue: pick another queue, or stop that process"


def check_ring_size(ring_size: object) -> None:
    """ConfigError unless ``ring_size`` is a power of two (what the kernel takes for a ring)."""
    if not isinstance(ring_size, int) or ring_size < 1 or ring_size & (ring_size - 1):
        raise ConfigError(f"must be a power of two, got {ring_size!r}", argument="ring_size")


def default_fill_frames(umem: Umem, fill_frames: int | None, ring_size: int, rx: bool, tx: bool) -> int:
    """How many frames a socket keeps on its fill ring: as asked, else at most one RX ring's worth
    (half the UMEM with TX on), so several sockets can share a UMEM without starving."""
    if fill_frames is None:
        fill_frames = min(umem.frame_count // 2 if tx else umem.frame_count, ring_size)
    return min(fill_frames, umem.fill_size) if rx else 0


class Queue:
    """A socket's place on ``ifname`` queue ``queue`` (see the module): made by binding, ended by
    :meth:`teardown`. ``Socket`` documents the arguments.

    Members (the same on ``xsk.testing``'s memory place): ``umem``, ``ifname``, ``queue``,
    ``netns``, ``ns_id``, ``ifindex``, ``ring_size``, ``rx_enabled``, ``tx_enabled``,
    ``need_wakeup``, ``multi_buffer``, ``busy_poll``, ``busy_poll_budget``, ``rx_metadata``,
    ``fd``, ``mode`` (what the kernel gave), ``group`` (:class:`FillRings`), ``rx``/``tx``
    (ring structs, NULL when disabled), ``wake``/``wake_ctx`` (NULL: the kernel is woken by
    syscalls), ``program`` (xsk's redirect program, None without RX or with the user's own),
    ``netns_fd``.
    """

    wake: CData = ffi.NULL  # a stand-in kernel's wake function and context (memory places only)
    wake_ctx: CData = ffi.NULL
    netns_fd: int | None  # the namespace, held open from bind to teardown

    def __init__(
        self,
        umem: Umem,
        ifname: str,
        queue: int = 0,
        mode: Mode = "auto",
        rx: bool = True,
        tx: bool = True,
        netns: str | None = None,
        ring_size: int = 2048,
        need_wakeup: bool = True,
        *,
        xdp_mode: XdpMode = "auto",
        filter: str | list[Rule] | None = None,
        program: CustomProgram | PinnedProgram | None = None,
        xskmap_key: int | None = None,
        busy_poll: int = 0,
        busy_poll_budget: int = 64,
        multi_buffer: bool = False,
        rx_metadata: Iterable[str] | bool = (),
    ) -> None:
        if mode not in ("auto", "copy", "zerocopy"):
            raise ConfigError(f"must be 'auto', 'copy' or 'zerocopy', got {mode!r}", argument="mode")
        if xdp_mode not in ("auto", "native", "skb"):
            raise ConfigError(f"must be 'auto', 'native' or 'skb', got {xdp_mode!r}", argument="xdp_mode")
        check_ring_size(ring_size)
        if not (rx or tx):
            raise ConfigError("a socket needs rx=True, tx=True or both")
        if not isinstance(queue, int) or queue < 0:
            raise ConfigError(f"must be a non-negative integer, got {queue!r}", argument="queue")
        rules = filter_mod.parse(filter)
        if rules and not rx:
            raise ConfigError("steers received frames: it needs rx=True", argument="filter")
        pinned = program if isinstance(program, PinnedProgram) else None
        if pinned is not None:
            if not rx:
                raise ConfigError("program= steers received frames: it needs rx=True")
            if xskmap_key is not None:
                raise ConfigError("xskmap_key= needs your own program: a pinned xsk program indexes by queue")
            program = None
        if program is not None:
            if not isinstance(program, CustomProgram):
                raise ConfigError(f"must be an xsk.CustomProgram or xsk.pinned.PinnedProgram, got "
                                  f"{type(program).__name__}", argument="program")
            if filter is not None:
                raise ConfigError("filter= configures xsk's own program; with program= your program steers")
            if not rx:
                raise ConfigError("program= steers received frames: it needs rx=True")
            program.check_usable()
        if not isinstance(busy_poll, int) or busy_poll < 0:
            raise ConfigError(f"must be microseconds (0: off), got {busy_poll!r}", argument="busy_poll")
        if not isinstance(busy_poll_budget, int) or not 0 < busy_poll_budget <= 65535:
            raise ConfigError(f"must be 1..65535 frames, got {busy_poll_budget!r}", argument="busy_poll_budget")
        if xskmap_key is not None and program is None:
            raise ConfigError("xskmap_key= needs program=: xsk's own program indexes its XSKMAP by queue")
        hints = rxmeta.check_fields(rx_metadata)
        if hints:
            if not rx:
                raise ConfigError("RX hints come with received frames: it needs rx=True", argument="rx_metadata")
            if program is not None or pinned is not None:
                raise ConfigError("xsk's redirect program writes the RX hints; with program= your program would "
                                  "(bpf_xdp_adjust_meta, as bpf/xsk_redirect.c does)", argument="rx_metadata")
            if xdp_mode == "skb":
                raise ConfigError("a program that reads the driver's RX hints runs in the driver: it needs "
                                  "xdp_mode='native' or 'auto'", argument="rx_metadata")
        umem.check_usable()
        _privileges.require_socket()
        if rx and pinned is None:  # a pinned program is already attached: the socket only joins it
            _privileges.require_program()
        self._init_members(umem, ifname, queue, netns=netns, ring_size=ring_size, rx=rx, tx=tx,
                           need_wakeup=need_wakeup, busy_poll=busy_poll, busy_poll_budget=busy_poll_budget,
                           multi_buffer=multi_buffer)
        self.rx_metadata = hints
        self.custom: CustomProgram | None = program
        self.pinned: PinnedProgram | None = pinned
        self.xskmap_key = queue if xskmap_key is None else xskmap_key
        # The namespace is held by fd, so teardown works even after its name is deleted.
        self.netns_fd = netns_mod.open_fd(netns) if netns else None
        try:
            with netns_mod.entered_fd(self.netns_fd):
                self._bind(mode, xdp_mode, filter, rules)
        except BaseException:
            self._close_netns_fd()
            raise

    def _init_members(self, umem: Umem, ifname: str, queue: int, *, netns: str | None, ring_size: int, rx: bool,
                      tx: bool, need_wakeup: bool, busy_poll: int, busy_poll_budget: int,
                      multi_buffer: bool) -> None:
        """Every member a place has before its rings exist (arguments already checked)."""
        self.umem = umem
        self.ifname = ifname
        self.queue = queue
        self.netns = netns
        self.ring_size = ring_size
        self.rx_enabled = rx
        self.tx_enabled = tx
        self.need_wakeup = need_wakeup
        self.busy_poll = busy_poll
        self.busy_poll_budget = busy_poll_budget
        self.multi_buffer = bool(multi_buffer)
        self.rx_metadata = frozenset[str]()
        self.netns_fd = None
        self.xsk = ffi.NULL
        self.program: RedirectProgram | None = None
        self.custom = None
        self.pinned = None
        self.endpoint: Endpoint | None = None  # what the program steers to (the socket), once steered
        self.xskmap_key = queue
        self.ifindex = 0
        self.ns_id = 0
        self.fd = -1
        self.mode = "unbound"
        self.closed = True

    def use_rings(self, group: FillRings, rx_ring: CData, tx_ring: CData, fd: int) -> None:
        """The rings exist: the place counts as one of its queue's and of its UMEM's."""
        group.members += 1
        if self.umem.tx_metadata_len:
            group.log_tx_metadata(self.umem)
        self.group = group
        self.rx, self.tx = rx_ring, tx_ring
        self.fd = fd
        self.closed = False
        self.umem.attach_member(self)

    def _bind(self, mode: Mode, xdp_mode: XdpMode, filter: str | list[Rule] | None, rules: list[Rule]) -> None:
        """Everything that needs the namespace; on any failure, undo what was done and re-raise."""
        ifname, queue, rx = self.ifname, self.queue, self.rx_enabled
        self.ifindex = link.ifindex(ifname, self.netns)
        rxq, txq = link.queue_counts(self.ifindex)
        limit = min(rxq, txq) if rx and self.tx_enabled else (rxq if rx else txq)
        if queue >= limit:
            raise QueueRangeError(
                f"queue {queue} is out of range: {ifname} has {rxq} RX and {txq} TX queues (valid: 0..{limit - 1})"
            )
        self.ns_id = netns_mod.current_id()
        custom = self.custom
        if custom is not None and (custom.ns_id, custom.ifindex) != (self.ns_id, self.ifindex):
            raise ConfigError(f"{custom!r} is attached to another interface than {ifname}")
        peer = None
        for other in self.umem.members():
            if isinstance(other, Queue) and (other.ns_id, other.ifindex, other.queue) == (
                    self.ns_id, self.ifindex, queue):
                if custom is None:
                    raise ConfigError(
                        f"{other!r} already uses {ifname} queue {queue} with this UMEM: one socket per queue "
                        "and UMEM (make it with rx=True, tx=True instead of two sockets), unless your own "
                        "XDP program (program=) picks between them"
                    )
                peer = other
        try:
            if rx and self.pinned is not None:
                self.program = self.pinned.acquire(self.ifindex, ifname)
            elif rx and custom is None:
                self.program = RedirectProgram.acquire(self.ifindex, ifname, xdp_mode, bool(self.rx_metadata))
            self._create(mode, peer)
            if self.program is not None:
                # only once the queue is ours: a bind refused (EBUSY) leaves its holder's rules alone
                if filter is not None or self.pinned is None:  # pinned: the admin's rules stay
                    self.program.set_rules(rules if filter is not None else [], queue)
                self.program.reset_hits(queue)
                self.program.claim(queue)
            self.mode = self._kernel_mode()
            if self.busy_poll:
                check(lib.xsk_sys_busy_poll(self.fd, self.busy_poll, self.busy_poll_budget),
                      "turning on busy polling", "SO_BUSY_POLL above net.core.busy_read needs CAP_NET_ADMIN")
            self._dontfork_rings()
        except BaseException:
            self.teardown(ffi.NULL)
            raise

    def _create(self, mode: Mode, peer: Queue | None) -> None:
        """The kernel's socket on the queue, with its rings (sharing ``peer``'s fill and completion rings)."""
        umem = self.umem
        rx_ring = ffi.new("struct xsk_ring_cons *") if self.rx_enabled else ffi.NULL
        tx_ring = ffi.new("struct xsk_ring_prod *") if self.tx_enabled else ffi.NULL
        cfg = ffi.new("struct xsk_socket_config *")
        cfg.rx_size = self.ring_size if self.rx_enabled else 0
        cfg.tx_size = self.ring_size if self.tx_enabled else 0
        cfg.libxdp_flags = lib.XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD
        cfg.xdp_flags = 0
        bind = {"auto": 0, "copy": lib.XDP_COPY, "zerocopy": lib.XDP_ZEROCOPY}[mode]
        cfg.bind_flags = bind | (lib.XDP_USE_NEED_WAKEUP if self.need_wakeup else 0) | (
            lib.XDP_USE_SG if self.multi_buffer else 0)
        pp = ffi.new("struct xsk_socket **")
        first = not umem.registered
        if peer is not None:  # same queue: libxdp and the kernel share the peer's fill/completion rings
            group = peer.group
        elif first:
            group = FillRings(*umem.register(), umem.ledger.new_ring_owner(), True)
        else:
            group = FillRings(ffi.new("struct xsk_ring_prod *"), ffi.new("struct xsk_ring_cons *"),
                              umem.ledger.new_ring_owner(), False)
        name = self.ifname.encode()
        kernel_umem = umem.kernel_umem()
        rc = 0
        for _ in range(_BIND_RETRIES):  # the kernel tears the previous socket down asynchronously
            if first:
                rc = lib.xsk_socket__create(pp, name, self.queue, kernel_umem, rx_ring, tx_ring, cfg)
            else:
                rc = lib.xsk_socket__create_shared(
                    pp, name, self.queue, kernel_umem, rx_ring, tx_ring, group.fq, group.cq, cfg
                )
            if rc != -errno.EBUSY:
                break
            time.sleep(_BIND_RETRY_DELAY)
        if rc < 0:
            if first:
                umem.detach_member(self, group.owner, True)
            where = f"{self.ifname} queue {self.queue}"
            if -rc == errno.EOPNOTSUPP and mode == "zerocopy":
                check(rc, f"binding in zero-copy mode to {where} (driver {link.driver_name(self.ifname)})",
                      "the driver has no zero-copy AF_XDP: use mode='copy' or 'auto'")
            if -rc in (errno.EINVAL, errno.EOPNOTSUPP) and self.multi_buffer:  # EINVAL: a kernel before 6.6
                raise UnsupportedError.from_errno(
                    -rc, f"binding with multi-buffer AF_XDP (XDP_USE_SG) to {where}",
                    f"it needs Linux 6.6+ and, in zero-copy mode, driver support; use multi_buffer=False and "
                    f"frames no larger than {umem.frame_size} bytes")
            check(rc, f"binding an AF_XDP socket to {where}", holder_hint(self.ifindex, self.queue)
                  if -rc == errno.EBUSY else "")
        self.xsk = pp[0]
        self.use_rings(group, rx_ring, tx_ring, int(lib.xsk_socket__fd(self.xsk)))

    def steer(self, endpoint: Endpoint) -> None:
        """Make ``endpoint`` (the socket) reachable from the XDP program: only once its fill ring
        holds frames, for a frame steered to it before would find that ring empty and be dropped
        (rx_fill_ring_empty_descs; ~50 frames at every start under 300k pps)."""
        self.endpoint = endpoint
        if self.program is not None:
            check(lib.xsk_socket__update_xskmap(self.xsk, self.program.map_fd),
                  f"putting the socket into the XSKMAP of {self.ifname}")
        elif self.custom is not None:
            self.custom.add_endpoint(endpoint, self.xskmap_key)

    def teardown(self, path: CData) -> None:
        """Out of the XSKMAP, the kernel's socket deleted, the queue's frames accounted back to the
        UMEM (now, or once the kernel lets go of them), the program let go of. ``path``: the
        socket's data path, to drain its RX ring while other sockets keep the queue (NULL before
        one exists). Runs inside the namespace (the caller enters it)."""
        if self.program is not None and self.xsk != ffi.NULL:
            self.program.unregister(self.queue)
        if self.custom is not None and self.endpoint is not None:
            self.custom.remove_endpoint(self.endpoint)
        if self.xsk != ffi.NULL:
            group = self.group
            if group.members > 1 and self.rx_enabled and path != ffi.NULL:
                # what waits on this socket's RX ring goes back to the pool now: the queue's other
                # sockets keep the fill ring, and those frames would wait for the last of them
                lib.xsk_path_drain_rx(path)
            lib.xsk_socket__delete(self.xsk)
            self.xsk = ffi.NULL
            group.members -= 1
            if group.members:  # the queue's other sockets still use the rings and their frames
                self.umem.detach_member(self, None, False)
            else:
                self.umem.detach_member(self, group.owner, group.shares_umem_fd)
        if self.program is not None:
            self.program.release()
            self.program = None
        self.closed = True

    def close(self, path: CData) -> None:
        """:meth:`teardown` inside the place's namespace, then let go of the namespace."""
        with netns_mod.entered_fd(self.netns_fd):
            self.teardown(path)
        self._close_netns_fd()

    def _close_netns_fd(self) -> None:
        if self.netns_fd is not None:
            os.close(self.netns_fd)
            self.netns_fd = None

    def _kernel_mode(self) -> str:
        flags = ffi.new("uint32_t *")
        check(lib.xsk_sys_options(self.fd, flags), "reading XDP_OPTIONS")
        return "zerocopy" if flags[0] & lib.XDP_OPTIONS_ZEROCOPY else "copy"

    def _dontfork_rings(self) -> None:
        rings = [(self.rx, _DESC_SIZE), (self.tx, _DESC_SIZE), (self.group.fq, _ADDR_SIZE),
                 (self.group.cq, _ADDR_SIZE)]
        for ring, size in rings:
            if ring != ffi.NULL and ring.ring != ffi.NULL:
                check(lib.xsk_sys_ring_dontfork(ring, size), "madvise(MADV_DONTFORK) on a ring")

    @property
    def xdp_mode(self) -> str | None:
        """How the redirect program is attached ("native" or "skb"), None without one."""
        return self.program.mode if self.program else None

    def statistics(self) -> dict[str, int]:
        """The kernel's XDP_STATISTICS counters for the socket, by name."""
        out = ffi.new("uint64_t[6]")
        check(lib.xsk_sys_statistics(self.fd, out), "reading XDP_STATISTICS")
        return {name: int(out[i]) for i, name in enumerate(STATISTICS)}

    def mtu(self) -> int | None:
        """The interface's MTU, read in its namespace (None if it has none to report)."""
        with netns_mod.entered_fd(self.netns_fd):
            return link.mtu(self.ifname)

    def __repr__(self) -> str:
        where = f"{self.netns}:" if self.netns else ""
        return f"<xsk.Socket {where}{self.ifname} queue {self.queue}{' closed' if self.closed else ''}>"
