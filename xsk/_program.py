"""XDP programs on interfaces: xsk's redirect program, and your own (CustomProgram).

The redirect program (bpf/xsk_redirect.c) is one per interface (per namespace) and serves
every socket bound to that interface's queues, in every xsk process: its XSKMAP and its
filter rules are indexed by RX queue, and a queue with no socket passes frames on to the
kernel stack. It is attached by a bpf_link when the first receiving socket binds; other
processes join it, and the kernel detaches it when the last process holding the link
closes it or dies (SIGKILL included). A TX-only socket loads nothing. Native (driver) mode
is tried first, generic (skb) mode is the fallback, unless a mode is asked for. A program
of ours that an older xsk attached by netlink and left behind when it was killed is
recognised and removed.

A CustomProgram is attached through libxdp (its dispatcher when the kernel accepts it,
else alone) and detached by ``close()``.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import warnings
from collections.abc import Callable
from importlib import resources
from typing import ClassVar, Literal, Protocol

from . import _privileges, link
from . import netns as netns_mod
from ._binding import CData, check, ffi, lib
from ._btf import Btf
from ._filter import MAX_RULES, Rule
from ._procfork import current_pid
from ._sockdiag import command_of
from .errors import (
    ClosedError,
    ConfigError,
    NotBuiltError,
    ResourceBusyError,
    StillInUseError,
    UnsupportedError,
    XskError,
    error_for,
)
from .maps import Globals, Maps


class Endpoint(Protocol):
    """What a program needs of a socket it steers frames to: its fd for the XSKMAP, and whether it
    is closed. ``xsk.Socket`` is one; programs never need more of it."""

    @property
    def fd(self) -> int: ...

    @property
    def closed(self) -> bool: ...


XdpMode = Literal["auto", "native", "skb"]
_MODES = {"native": lib.XDP_MODE_NATIVE, "skb": lib.XDP_MODE_SKB}
PROGRAM_NAME = "xsk_redirect"
META_PROGRAM_NAME = "xsk_redirect_md"  # the same, also writing the driver's RX hints (bpf/xsk_redirect_md.c)
_OURS = (PROGRAM_NAME, META_PROGRAM_NAME)
BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6  # uapi linux/bpf.h, Linux 6.3+ (libbpf 1.1.2's headers lack it)
log = logging.getLogger("xsk._program")
_MAPS = ("xsks_map", "xsk_rules", "xsk_config", "xsk_hits")
_HITS = MAX_RULES + 1  # counters per queue: one per rule, then the frames passed on
_LINK_FLAGS = {"native": lib.XDP_FLAGS_DRV_MODE, "skb": lib.XDP_FLAGS_SKB_MODE}
_ATTACH_RACES = 5  # attach/join attempts while other processes attach or detach at once


def object_path(name: str = PROGRAM_NAME) -> str:
    path = resources.files("xsk") / "_bpf" / f"{name}.o"
    if not path.is_file():
        raise NotBuiltError(
            f"the XDP program object {path} is missing: build it with `make` "
            "(or `python bpf/build.py`) in the repository"
        )
    return str(path)


def _attached_program(ifindex: int, detach_if: Callable[[str, int], bool] | None = None) -> tuple[str, int] | None:
    """(name, id) of the XDP program on the interface, or None; ``detach_if(name, id)`` true detaches it."""
    mp = lib.xdp_multiprog__get_from_ifindex(ifindex)
    if mp == ffi.NULL or lib.libxdp_get_error(mp):
        return None
    try:
        main = lib.xdp_multiprog__main_prog(mp)
        if main == ffi.NULL:
            return None
        found = ffi.string(lib.xdp_program__name(main)).decode(), int(lib.xdp_program__id(main))
        if detach_if is not None and detach_if(*found) and lib.xdp_multiprog__detach(mp) < 0:
            return None
        return found
    finally:
        lib.xdp_multiprog__close(mp)


def _existing_program(ifindex: int) -> str:
    found = _attached_program(ifindex)
    return f"{found[0]!r} (id {found[1]})" if found else ""


def _held_by_a_process(prog_id: int) -> bool:
    """Does another process have a file descriptor for BPF program ``prog_id``? (from /proc/*/fdinfo)

    This process is left out: looking the program up opened a descriptor of our own, and
    what this process attached is known to the registry below.
    """
    return bool(_holders_of_program(prog_id))


def _remove_stale_program(ifindex: int, ifname: str, ours: str) -> bool:
    """Detach our redirect program if a process that died (SIGKILL) left it attached; True if it did.

    A program attached by netlink outlives its process. It is ours by name, and stale when no
    process holds a file descriptor for it any more (a live xsk process always does).
    """
    removed = []

    def stale(name: str, prog_id: int) -> bool:
        if name != ours or _held_by_a_process(prog_id):
            return False
        removed.append(prog_id)
        return True

    if _attached_program(ifindex, detach_if=stale) is None or not removed:
        return False
    log.warning("removed the XDP program %r (id %d) from %s: the process that attached it is gone",
                ours, removed[0], ifname)
    return True


class _Attachment:
    """One BPF object's XDP program opened by libxdp and attached to one interface.

    Attaching happens in the calling thread's namespace; ``detach`` must run in the same one.
    """

    def __init__(self, path: str, ifindex: int, ifname: str, mode: XdpMode, ours: str | None) -> None:
        self.ifindex = ifindex
        self.ifname = ifname
        self.ns_id = netns_mod.current_id()
        self._pid = current_pid()
        self._ours = ours  # the program name a dead process of ours may have left attached
        self._prog = ffi.NULL
        prog = lib.xdp_program__open_file(path.encode(), ffi.NULL, ffi.NULL)
        err = lib.libxdp_get_error(prog)
        if err:
            hint = "is it a BPF object with an XDP program (SEC(\"xdp\")), built with clang -target bpf?"
            raise error_for(-err, f"loading the XDP program {path}", hint)
        self._prog = prog
        self.name = ffi.string(lib.xdp_program__name(prog)).decode()
        self.mode = self._attach(mode)
        self.multiprog = self._is_multiprog()

    def _attach(self, mode: XdpMode) -> str:
        tries = ["native", "skb"] if mode == "auto" else [mode]
        rc = 0
        for name in tries:
            rc = lib.xdp_program__attach(self._prog, self.ifindex, _MODES[name], 0)
            if (-rc in (errno.EEXIST, errno.EBUSY) and self._ours
                    and _remove_stale_program(self.ifindex, self.ifname, self._ours)):
                rc = lib.xdp_program__attach(self._prog, self.ifindex, _MODES[name], 0)
            if rc == 0:
                return name
            if -rc in (errno.EEXIST, errno.EBUSY):
                break
        lib.xdp_program__close(self._prog)
        self._prog = ffi.NULL
        if -rc in (errno.EEXIST, errno.EBUSY):
            raise ResourceBusyError(
                f"{self.ifname} already has an XDP program {_existing_program(self.ifindex)} that is not "
                f"ours to replace; remove it with `xdp-loader unload {self.ifname} --all` or "
                f"`ip link set dev {self.ifname} xdp off` if nothing uses it", errno=-rc)
        if -rc == errno.EOPNOTSUPP:
            raise UnsupportedError(f"{self.ifname} does not support XDP in {mode} mode", errno=-rc)
        raise error_for(-rc, f"attaching the XDP program to {self.ifname} ({'/'.join(tries)} mode)")

    def _is_multiprog(self) -> bool:
        mp = lib.xdp_multiprog__get_from_ifindex(self.ifindex)
        if mp == ffi.NULL or lib.libxdp_get_error(mp):
            return False
        try:
            return not lib.xdp_multiprog__is_legacy(mp)
        finally:
            lib.xdp_multiprog__close(mp)

    def bpf_object(self) -> CData:
        """The libbpf object of the attached program (owned by libxdp's program: valid until detach)."""
        return lib.xdp_program__bpf_obj(self._prog)

    def map_fds(self, names: tuple[str, ...], argument: str = "xskmap") -> dict[str, int]:
        """File descriptors of the object's maps by name; ConfigError naming any that are missing
        (``argument``: the parameter that named them)."""
        obj = lib.xdp_program__bpf_obj(self._prog)
        fds = {name: int(lib.bpf_object__find_map_fd_by_name(obj, name.encode())) for name in names}
        missing = [name for name, fd in fds.items() if fd < 0]
        if missing:
            raise ConfigError(f"the XDP program {self.name!r} has no map named {', '.join(missing)}",
                              argument=argument)
        return fds

    def detach(self) -> None:
        if self._prog != ffi.NULL:
            lib.xdp_program__detach(self._prog, self.ifindex, _MODES[self.mode], 0)
            lib.xdp_program__close(self._prog)
            self._prog = ffi.NULL


class RedirectProgram:
    """The redirect program on one interface, shared by the sockets of every xsk process there.

    Attached through a bpf_link: each process that uses it holds a file descriptor of the
    link, so the kernel detaches it when the last one closes it or exits, SIGKILL included.
    A process that finds it attached (one process per queue is the usual deployment) opens
    the same link and maps by id and puts its sockets into the same XSKMAP, its queue's
    filter rules into the same rule table, which is indexed by queue. Within a process,
    its sockets share one instance (reference-counted by ``acquire``/``release``).

    (Called ``XdpProgram`` before 0.2; that name still imports, with a DeprecationWarning, as
    ``xsk.testing.XdpProgram`` is now the XDP program a test loads.)"""

    _attached: ClassVar[dict[tuple[int, int], RedirectProgram]] = {}
    multiprog = False  # a bpf_link attachment never goes through libxdp's dispatcher

    def __init__(self, ifindex: int, ifname: str, mode: XdpMode, rx_metadata: bool = False) -> None:
        self.ifindex = ifindex
        self.ifname = ifname
        self.name = META_PROGRAM_NAME if rx_metadata else PROGRAM_NAME
        self.rx_metadata = rx_metadata  # the attached program writes RX hints (whoever attached it)
        self.ns_id = netns_mod.current_id()
        self._pid = current_pid()
        self._users = 0
        self._obj = ffi.NULL  # the loaded object when this process attached the program
        self._fds: list[int] = []  # link and map fds opened by id when it joined another's
        self.link_fd = -1
        self.joined = False
        self.keep_rules = False  # pinned (from_pins): the queues' rules are the admin's, left in place
        self.rules: dict[int, list[Rule]] = {}
        for _ in range(_ATTACH_RACES):
            if self._join(mode, rx_metadata) or self._attach_new(mode, rx_metadata):
                break
        else:
            raise ResourceBusyError(f"attaching the XDP program to {ifname} kept racing with other processes",
                                    errno=errno.EBUSY)

    # --- attaching or joining -------------------------------------------------------------
    def _join(self, mode: XdpMode, rx_metadata: bool) -> bool:
        """Share the program another process attached; False when the interface has none."""
        prog_id, attached = ffi.new("uint32_t *"), ffi.new("uint32_t *")
        check(lib.xsk_bpflink_query(self.ifindex, prog_id, attached), f"reading {self.ifname}'s XDP program")
        if prog_id[0] == 0:
            return False
        name = ffi.new("char[32]")
        if lib.xsk_bpflink_prog_name(prog_id[0], name, 32) < 0:
            return False  # detached while we looked: attach it ourselves
        found = ffi.string(name).decode()
        if found not in _OURS:
            raise ResourceBusyError(
                f"{self.ifname} already has an XDP program {found!r} (id {prog_id[0]}) that is not ours; "
                f"remove it with `xdp-loader unload {self.ifname} --all` or "
                f"`ip link set dev {self.ifname} xdp off` if nothing uses it", errno=errno.EBUSY)
        link_fd = int(lib.xsk_bpflink_open(prog_id[0], self.ifindex))
        if link_fd == -errno.ENOENT:  # attached by netlink: an older xsk's, alive or left behind
            holders = _holders_of_program(int(prog_id[0]))
            if holders:
                raise ResourceBusyError(
                    f"{self.ifname} carries our XDP program attached the old way (netlink) by "
                    f"{_describe(holders)}: stop that process, or run the same xsk version there",
                    errno=errno.EBUSY)
            _remove_stale_program(self.ifindex, self.ifname, found)
            return False
        if rx_metadata and found != META_PROGRAM_NAME:
            holders = _holders_of_program(int(prog_id[0]))
            raise ResourceBusyError(
                f"{self.ifname} carries xsk's redirect program without RX metadata, shared by "
                f"{_describe(holders) if holders else 'other processes'}: sockets of one interface share one "
                "program, so open them all with rx_metadata, or none", errno=errno.EBUSY)
        if link_fd < 0:
            check(link_fd, f"opening the bpf_link of {self.ifname}'s XDP program")
        self._fds.append(link_fd)
        self.link_fd = link_fd
        try:
            fds = []
            for map_name in _MAPS:
                fd = int(lib.xsk_bpflink_prog_map(prog_id[0], map_name.encode()))
                if fd < 0:
                    raise NotBuiltError(f"the XDP program on {self.ifname} has no map {map_name!r}: it is from "
                                        "another xsk version; stop the processes using it")
                self._fds.append(fd)
                fds.append(fd)
        except BaseException:
            self._close_fds()
            raise
        self.map_fd, self._rules_fd, self._config_fd, self._hits_fd = fds
        self.mode = {int(lib.XDP_ATTACHED_DRV): "native", int(lib.XDP_ATTACHED_SKB): "skb"}.get(
            int(attached[0]), "native")
        if mode != "auto" and mode != self.mode:
            self._close_fds()
            raise ConfigError(
                f"{self.ifname} already carries our XDP program in {self.mode} mode (shared with other "
                f"processes); ask for xdp_mode={self.mode!r} or 'auto'", argument="xdp_mode")
        self.joined = True
        self.name = found
        self.rx_metadata = found == META_PROGRAM_NAME
        log.debug("joined the XDP program on %s (id %d, %s mode)", self.ifname, prog_id[0], self.mode)
        return True

    def _attach_new(self, mode: XdpMode, rx_metadata: bool) -> bool:
        """Load and attach the program by a new bpf_link; False when another process was first.

        With ``rx_metadata`` the program calls the driver's metadata kfuncs, so it is loaded
        bound to this device and can only be attached natively."""
        path = object_path(self.name)
        obj = lib.bpf_object__open_file(path.encode(), ffi.NULL)
        err = lib.libbpf_get_error(obj)
        if err:
            raise error_for(-err, f"opening the XDP program {path}", "rebuild it with `make`")
        try:
            prog = lib.bpf_object__find_program_by_name(obj, self.name.encode())
            if prog == ffi.NULL:
                raise NotBuiltError(f"{path} is not the redirect program this xsk expects: rebuild it with `make`")
            if rx_metadata:
                lib.bpf_program__set_ifindex(prog, self.ifindex)
                lib.bpf_program__set_flags(prog, lib.bpf_program__flags(prog) | BPF_F_XDP_DEV_BOUND_ONLY)
            rc = int(lib.bpf_object__load(obj))
            if rc < 0 and rx_metadata:
                raise UnsupportedError.from_errno(
                    -rc, f"loading the XDP program that reads {self.ifname}'s RX metadata (bound to that device)",
                    "it needs Linux 6.3+ (VLAN tags 6.8+) and native XDP on the device; open the socket "
                    "without rx_metadata")
            check(rc, f"loading the XDP program {path}")
            fds = [int(lib.bpf_object__find_map_fd_by_name(obj, n.encode())) for n in _MAPS]
            if min(fds) < 0:
                raise NotBuiltError(f"{path} is not the redirect program this xsk expects: rebuild it with `make`")
            tries = ["native"] if rx_metadata else ["native", "skb"] if mode == "auto" else [mode]
            rc = 0
            for name in tries:
                rc = int(lib.xsk_bpflink_create(lib.bpf_program__fd(prog), self.ifindex, _LINK_FLAGS[name]))
                if rc >= 0:
                    self.mode = name
                    break
                if -rc in (errno.EEXIST, errno.EBUSY):
                    lib.bpf_object__close(obj)
                    return False  # someone attached first: join theirs
            if rc < 0:
                if -rc == errno.EOPNOTSUPP:
                    raise UnsupportedError(f"{self.ifname} does not support XDP in {mode} mode", errno=-rc)
                raise error_for(-rc, f"attaching the XDP program to {self.ifname} ({'/'.join(tries)} mode)")
        except BaseException:
            lib.bpf_object__close(obj)
            raise
        self._obj = obj
        self.link_fd = rc
        self._fds.append(rc)
        self.map_fd, self._rules_fd, self._config_fd, self._hits_fd = fds
        return True

    def _close_fds(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        self.link_fd = -1

    @property
    def closed(self) -> bool:
        return not self._fds and self._obj == ffi.NULL

    # --- pinned for unprivileged workers (xsk.pinned) ----------------------------------------
    def pin(self, pin_dir: str) -> None:
        """Pin the link (which keeps the program attached without any process) and the maps in
        ``pin_dir``, an existing directory in bpffs."""
        for name, fd in (("link", self.link_fd), *zip(_MAPS, self._map_fds(), strict=True)):
            path = os.path.join(pin_dir, name).encode()
            check(lib.bpf_obj_pin(fd, path), f"pinning {name} at {pin_dir}")

    def _map_fds(self) -> tuple[int, int, int, int]:
        return self.map_fd, self._rules_fd, self._config_fd, self._hits_fd

    @classmethod
    def from_pins(cls, pin_dir: str, ifindex: int, ifname: str) -> RedirectProgram:
        """The program as pinned in ``pin_dir``: its maps opened from their pins (bpffs file
        permissions decide who may), nothing loaded or attached. Letting go of it closes only
        this process's descriptors; the pinned link keeps the program attached."""
        self = cls.__new__(cls)
        self.ifindex, self.ifname, self.name = ifindex, ifname, PROGRAM_NAME
        self.ns_id = netns_mod.current_id()
        self._pid = current_pid()
        self._users = 0
        self._obj = ffi.NULL
        self._fds = []
        self.link_fd = -1
        self.joined = True
        self.keep_rules = True
        self.rules = {}
        try:
            for name in _MAPS:
                fd = int(lib.bpf_obj_get(os.path.join(pin_dir, name).encode()))
                if fd < 0:
                    err = -fd
                    raise error_for(err, f"opening the pinned map {os.path.join(pin_dir, name)}",
                                    "the pins' owner or group must include this user (xsk.pinned.attach owner= or "
                                    "group=, `xsk prog attach` in the shell), and Linux 6.5+ lets unprivileged users "
                                    "open pins"
                                    if err in (errno.EPERM, errno.EACCES) else
                                    "pin the program first, as root: xsk.pinned.attach (`xsk prog attach`)")
                self._fds.append(fd)
        except BaseException:
            self._close_fds()
            raise
        self.map_fd, self._rules_fd, self._config_fd, self._hits_fd = self._fds
        prog_id, attached = ffi.new("uint32_t *"), ffi.new("uint32_t *")
        mode = "native"
        if lib.xsk_bpflink_query(ifindex, prog_id, attached) == 0 and int(attached[0]) == int(lib.XDP_ATTACHED_SKB):
            mode = "skb"
        self.mode = mode
        return self

    def detach(self) -> None:
        """Give up this process's hold: the kernel detaches the program when no process holds it."""
        self._close_fds()
        if self._obj != ffi.NULL:
            lib.bpf_object__close(self._obj)
            self._obj = ffi.NULL

    # --- sharing within the process --------------------------------------------------------
    @classmethod
    def acquire(cls, ifindex: int, ifname: str, mode: XdpMode, rx_metadata: bool = False) -> RedirectProgram:
        """The program on this interface (in the calling thread's namespace), attaching it if
        needed; with ``rx_metadata``, the one that also writes the driver's RX hints."""
        _privileges.require_program()
        key = (netns_mod.current_id(), ifindex)
        prog = cls._attached.get(key)
        if prog is None or prog._pid != current_pid():
            prog = cls(ifindex, ifname, mode, rx_metadata)
            cls._attached[key] = prog
        elif rx_metadata and not prog.rx_metadata:
            raise ConfigError(
                f"{ifname} already carries xsk's redirect program without RX metadata (another socket of this "
                "process): sockets of one interface share one program, so open them all with rx_metadata, or none",
                argument="rx_metadata")
        elif mode != "auto" and mode != prog.mode:
            raise ConfigError(
                f"{ifname} already carries our XDP program in {prog.mode} mode; "
                f"sockets on one interface share it, so ask for xdp_mode={prog.mode!r} or 'auto'",
                argument="xdp_mode")
        prog._users += 1
        return prog

    def release(self) -> None:
        """One socket is done with the program; the last one of this process lets go of it."""
        if self._pid != current_pid():
            return
        self._users -= 1
        if self._users == 0:
            key = (self.ns_id, self.ifindex)
            if self._attached.get(key) is self:  # a pinned one (from_pins) is not in the registry
                del self._attached[key]
            self.detach()

    # --- per-queue steering ----------------------------------------------------------------
    def set_rules(self, rules: list[Rule], queue: int = 0) -> None:
        """Replace ``queue``'s steering rules at run time (no re-attach); [] steers every frame of
        the queue to its socket. The other queues' rules (other processes' too) are untouched.

        The rules are written first and the count last, so the program never sees a
        half-written table: at worst it uses the old count with the new rules for one frame.
        """
        if len(rules) > MAX_RULES:
            raise ConfigError(f"at most {MAX_RULES} rules, got {len(rules)}", argument="filter")
        key = ffi.new("uint32_t *")
        for i, rule in enumerate(rules):
            key[0] = queue * MAX_RULES + i
            packed = rule.pack()
            check(lib.bpf_map_update_elem(self._rules_fd, key, packed, 0), f"writing steering rule {i}")
        self._write_config(queue, nrules=len(rules))
        self.rules[queue] = list(rules)

    def _write_config(self, queue: int, *, nrules: int | None = None, owner: int | None = None) -> None:
        """Update ``queue``'s rule count and/or owner pid, keeping the other field."""
        key = ffi.new("uint32_t *", queue)
        value = ffi.new("uint32_t[2]")
        check(lib.bpf_map_lookup_elem(self._config_fd, key, value), "reading the steering configuration")
        if nrules is not None:
            value[0] = nrules
        if owner is not None:
            value[1] = owner
        check(lib.bpf_map_update_elem(self._config_fd, key, value, 0), "writing the steering configuration")

    def claim(self, queue: int) -> None:
        """Record this process as the holder of ``queue`` (for other processes' messages)."""
        self._write_config(queue, owner=os.getpid())

    def reset_hits(self, queue: int) -> None:
        """Zero ``queue``'s counters (a new socket there starts from nothing)."""
        ncpu = max(int(lib.libbpf_num_possible_cpus()), 1)
        zeros = ffi.new("uint64_t[]", ncpu)
        key = ffi.new("uint32_t *")
        for i in range(_HITS):
            key[0] = queue * _HITS + i
            check(lib.bpf_map_update_elem(self._hits_fd, key, zeros, 0), "resetting steering counters")

    def hits(self, queue: int = 0) -> list[int]:
        """``queue``'s frames matched by each rule (summed over CPUs), then its frames passed to the stack."""
        ncpu = max(int(lib.libbpf_num_possible_cpus()), 1)
        values = ffi.new("uint64_t[]", ncpu)
        key = ffi.new("uint32_t *")
        out = []
        for i in range(_HITS):
            key[0] = queue * _HITS + i
            check(lib.bpf_map_lookup_elem(self._hits_fd, key, values), "reading steering counters")
            out.append(sum(values[c] for c in range(ncpu)))
        return [*out[: self._nrules(queue)], out[MAX_RULES]]

    def _nrules(self, queue: int) -> int:
        """The queue's rule count as the program sees it (another process may have set the rules)."""
        value = ffi.new("uint32_t[2]")
        check(lib.bpf_map_lookup_elem(self._config_fd, ffi.new("uint32_t *", queue), value),
              "reading the steering configuration")
        return int(value[0])

    def unregister(self, queue: int) -> None:
        """Take the socket on ``queue`` out of the XSKMAP (its frames go back to the stack) and
        clear the queue's rules, so whoever binds the queue next starts from none."""
        key = ffi.new("uint32_t *", queue)
        lib.bpf_map_delete_elem(self.map_fd, key)
        with contextlib.suppress(XskError):
            if not self.keep_rules:
                self.set_rules([], queue)
            self._write_config(queue, owner=0)


def queue_owner(ifindex: int, queue: int) -> int:
    """The pid of the live xsk process whose socket holds ``queue`` of the interface (in the
    calling thread's namespace), from the redirect program's configuration; 0 when none is known."""
    prog_id, attached = ffi.new("uint32_t *"), ffi.new("uint32_t *")
    if lib.xsk_bpflink_query(ifindex, prog_id, attached) < 0 or not prog_id[0]:
        return 0
    fd = int(lib.xsk_bpflink_prog_map(prog_id[0], b"xsk_config"))
    if fd < 0:
        return 0
    try:
        value = ffi.new("uint32_t[2]")
        if lib.bpf_map_lookup_elem(fd, ffi.new("uint32_t *", queue), value) < 0:
            return 0
        pid = int(value[1])
    finally:
        os.close(fd)
    return pid if pid and os.path.exists(f"/proc/{pid}") else 0


def _holders_of_program(prog_id: int) -> list[tuple[int, str]]:
    """(pid, command) of the other processes holding a file descriptor of BPF program ``prog_id``."""
    needle = f"prog_id:\t{prog_id}\n"
    found: dict[int, str] = {}
    for fdinfo in glob.glob("/proc/[0-9]*/fdinfo/*"):
        pid = int(fdinfo.split("/")[2])
        if pid == os.getpid() or pid in found:
            continue
        try:
            with open(fdinfo) as f:
                if needle in f.read():
                    found[pid] = command_of(pid)
        except OSError:
            continue
    return sorted(found.items())


def _describe(holders: list[tuple[int, str]]) -> str:
    return ", ".join(f"process {pid} ({cmd})" for pid, cmd in holders)


class CustomProgram:
    """Your own XDP program, from a BPF object file, attached to ``ifname`` for sockets to use.

    The object must define an XSKMAP (``xskmap``, default "xsks_map"; None for a program that
    redirects to no socket, e.g. one under test on a veth pair). A Socket made with
    ``program=`` this puts its fd into that map at ``xskmap_key`` (default: its queue) after
    binding and takes it out again on close, so the program decides which frames reach which
    socket. Attached (native mode, else skb, unless ``xdp_mode`` says) inside ``netns`` when
    made; detached by ``close()`` or the end of a ``with`` block, which refuses while sockets
    still use it. After fork() the child can't detach the parent's program.
    """

    def __init__(self, path: str | os.PathLike[str], ifname: str, *, netns: str | None = None,
                 xdp_mode: XdpMode = "auto", xskmap: str | None = "xsks_map") -> None:
        if xdp_mode not in ("auto", "native", "skb"):
            raise ConfigError(f"must be 'auto', 'native' or 'skb', got {xdp_mode!r}", argument="xdp_mode")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ConfigError(f"no BPF object file {path!r}: build it with clang -O2 -g -target bpf -c prog.c",
                              argument="path")
        _privileges.require_program()
        self.ifname = ifname
        self.netns = netns
        self._sockets: dict[int, Endpoint] = {}
        self._slots: dict[int, Endpoint] = {}
        self._maps: Maps | None = None
        self._globals: Globals | None = None
        self._btf: Btf | None = None
        # held by fd (this thread's namespace when none is named): close() detaches where we attached
        self._netns_fd: int | None = netns_mod.open_fd(netns) if netns else os.open(
            "/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            with netns_mod.entered_fd(self._netns_fd):
                self.ifindex = link.ifindex(ifname, netns)
                self._attachment = _Attachment(path, self.ifindex, ifname, xdp_mode, ours=None)
                try:
                    self.xskmap_fd = self._attachment.map_fds((xskmap,))[xskmap] if xskmap else -1
                except ConfigError:
                    self._attachment.detach()
                    raise
        except BaseException:
            self._close_netns_fd()
            raise
        self.name = self._attachment.name
        self.mode = self._attachment.mode
        self.ns_id = self._attachment.ns_id

    @property
    def closed(self) -> bool:
        return bool(self._attachment._prog == ffi.NULL)

    def check_usable(self) -> None:
        """ClosedError if the program was closed (or belongs to the parent of this fork()ed process)."""
        self._usable()

    def _usable(self) -> None:
        if self.closed:
            raise ClosedError(f"{self!r} is closed")

    @property
    def loaded(self) -> bool:
        return not self.closed

    @property
    def maps(self) -> Maps:
        """The program's maps by name, in Python values (see :mod:`xsk.maps`); valid until ``close``."""
        self._usable()
        if self._maps is None:
            obj = self._attachment.bpf_object()
            btf = lib.bpf_object__btf(obj)
            self._btf = Btf(btf) if btf != ffi.NULL else None
            self._maps = Maps(self, obj, self._btf)
        return self._maps

    @property
    def globals(self) -> Globals:
        """The program's global variables by name (``.data``, ``.bss``; ``.rodata`` read-only)."""
        self._usable()
        if self._globals is None:
            obj = self._attachment.bpf_object()
            btf = lib.bpf_object__btf(obj)
            self._globals = Globals(self, obj, Btf(btf) if btf != ffi.NULL else None)
        return self._globals

    def map_fd(self, name: str) -> int:
        """The fd of one of the program's maps (valid until ``close``), for bpf_map_* calls of your own."""
        self._usable()
        return self._attachment.map_fds((name,), argument="name")[name]

    def update(self, map_name: str, key: int, value: bytes) -> None:
        """Set ``map_name[key] = value`` (a u32 key; ``value`` exactly the map's value size)."""
        k = ffi.new("uint32_t *", key)
        buf = ffi.from_buffer(bytes(value))
        check(lib.bpf_map_update_elem(self.map_fd(map_name), k, buf, 0), f"updating {map_name}[{key}]")

    def lookup(self, map_name: str, key: int, size: int) -> bytes:
        """The ``size``-byte value of ``map_name[key]`` (for per-CPU maps: one value per possible CPU)."""
        k = ffi.new("uint32_t *", key)
        buf = ffi.new("uint8_t[]", size)
        check(lib.bpf_map_lookup_elem(self.map_fd(map_name), k, buf), f"reading {map_name}[{key}]")
        return bytes(ffi.buffer(buf))

    def place(self, key: int, sock: Endpoint) -> None:
        """Put ``sock`` (a socket made with ``program=`` this) at ``key`` of the XSKMAP, replacing
        what was there: traffic the program sends to ``key`` goes to ``sock`` from now on."""
        self._usable()
        if self._sockets.get(id(sock)) is not sock or sock.closed:
            raise ConfigError(f"{sock!r} is not an open socket of {self!r}", argument="sock")
        self._put(key, sock)

    def _put(self, key: int, sock: Endpoint) -> None:
        k = ffi.new("uint32_t *", key)
        v = ffi.new("uint32_t *", sock.fd)
        check(lib.bpf_map_update_elem(self.xskmap_fd, k, v, 0), f"putting a socket into {self.name}'s XSKMAP")
        self._slots[key] = sock

    def add_endpoint(self, sock: Endpoint, key: int) -> None:
        """Put a socket made with ``program=`` this at ``key`` (called when it binds)."""
        self._usable()
        if self.xskmap_fd < 0:
            raise ConfigError(f"{self!r} was loaded with xskmap=None: it has no XSKMAP to put sockets in",
                              argument="program")
        self._put(key, sock)
        self._sockets[id(sock)] = sock

    def remove_endpoint(self, sock: Endpoint) -> None:
        """Take ``sock`` out of every XSKMAP slot it holds (called when it closes)."""
        self._sockets.pop(id(sock), None)
        for key in [k for k, s in self._slots.items() if s is sock]:
            del self._slots[key]
            if not self.closed:
                lib.bpf_map_delete_elem(self.xskmap_fd, ffi.new("uint32_t *", key))

    def close(self) -> None:
        """Detach the program; raises StillInUseError while sockets still use it (close them first)."""
        if self.closed:
            return
        if self._attachment._pid != current_pid():  # the parent's program: a child must not detach it
            self._attachment._prog = ffi.NULL
            self._close_netns_fd()
            return
        if self._sockets:
            names = ", ".join(repr(s) for s in self._sockets.values())
            raise StillInUseError(f"close the sockets that use {self!r} first: {names}")
        if self._globals is not None:
            self._globals.close()
            self._globals = None
        self._maps = None
        with netns_mod.entered_fd(self._netns_fd):
            self._attachment.detach()
        self._close_netns_fd()

    def _close_netns_fd(self) -> None:
        if self._netns_fd is not None:
            os.close(self._netns_fd)
            self._netns_fd = None

    def __enter__(self) -> CustomProgram:
        return self

    def __del__(self) -> None:
        if getattr(self, "_attachment", None) is not None and not self.closed and not self._sockets:
            warnings.warn(f"unclosed {self!r}: detaching it", ResourceWarning, stacklevel=1)
            with contextlib.suppress(XskError, OSError):
                self.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{self.netns}:" if self.netns else ""
        state = " closed" if self.closed else f" ({self.mode})"
        return f"<xsk.CustomProgram {getattr(self, 'name', '?')} on {where}{self.ifname}{state}>"


def __getattr__(name: str) -> object:
    if name == "XdpProgram":
        warnings.warn("xsk.program.XdpProgram is deprecated: it is xsk's redirect program, RedirectProgram, "
                      "internal now (xsk._program); a program of your own is xsk.CustomProgram",
                      DeprecationWarning, stacklevel=2)
        return RedirectProgram
    raise AttributeError(f"module 'xsk._program' has no attribute {name!r}")
