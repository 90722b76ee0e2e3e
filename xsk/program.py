"""The XDP redirect program: loaded from bpf/xsk_redirect.c's object, attached through libxdp.

One program per interface (per namespace) serves every socket bound to that interface's
queues: its XSKMAP is indexed by RX queue, and a queue with no socket passes frames
on to the kernel stack. The program is attached when the first receiving socket binds
and detached when the last one closes; a TX-only socket loads nothing.

libxdp uses its multi-program dispatcher when bpffs is mounted and the kernel accepts
it, and otherwise attaches the program alone; ``RedirectProgram.multiprog`` says which.
Native (driver) mode is tried first, generic (skb) mode is the fallback, unless a mode
is asked for. A program of ours left attached by a process that was killed (SIGKILL gives
no chance to detach) is recognised and removed by the next attach.
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
from typing import TYPE_CHECKING, ClassVar, Literal

from . import _privileges, link
from . import netns as netns_mod
from ._binding import CData, check, ffi, lib
from ._btf import Btf
from ._procfork import current_pid
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
from .filter import MAX_RULES, Rule
from .maps import Globals, Maps

if TYPE_CHECKING:
    from .socket import Socket

XdpMode = Literal["auto", "native", "skb"]
_MODES = {"native": lib.XDP_MODE_NATIVE, "skb": lib.XDP_MODE_SKB}
PROGRAM_NAME = "xsk_redirect"
log = logging.getLogger("xsk.program")
_MAPS = ("xsks_map", "xsk_rules", "xsk_config", "xsk_hits")


def object_path() -> str:
    path = resources.files("xsk") / "_bpf" / f"{PROGRAM_NAME}.o"
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
    needle = f"prog_id:\t{prog_id}\n"
    own = f"/proc/{os.getpid()}/"
    for fdinfo in glob.glob("/proc/[0-9]*/fdinfo/*"):
        if fdinfo.startswith(own):
            continue
        try:
            with open(fdinfo) as f:
                if needle in f.read():
                    return True
        except OSError:  # the process or fd went away while we looked
            continue
    return False


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


class RedirectProgram(_Attachment):
    """The redirect program on one interface, shared (reference-counted) by its sockets.

    (Called ``XdpProgram`` before 0.2; that name still imports, with a DeprecationWarning, as
    ``xsk.testing.xdp.XdpProgram`` is now the XDP program a test loads.)"""

    _attached: ClassVar[dict[tuple[int, int], RedirectProgram]] = {}

    def __init__(self, ifindex: int, ifname: str, mode: XdpMode) -> None:
        super().__init__(object_path(), ifindex, ifname, mode, ours=PROGRAM_NAME)
        self._users = 0
        try:
            fds = self.map_fds(_MAPS)
        except ConfigError as exc:
            self.detach()
            raise NotBuiltError(f"{exc.reason}: rebuild it with `make`") from None
        self.map_fd, self._rules_fd, self._config_fd, self._hits_fd = (fds[name] for name in _MAPS)
        self.rules: list[Rule] = []

    @classmethod
    def acquire(cls, ifindex: int, ifname: str, mode: XdpMode) -> RedirectProgram:
        """The program on this interface (in the calling thread's namespace), attaching it if needed."""
        _privileges.require_program()
        key = (netns_mod.current_id(), ifindex)
        prog = cls._attached.get(key)
        if prog is None or prog._pid != current_pid():
            prog = cls(ifindex, ifname, mode)
            cls._attached[key] = prog
        elif mode != "auto" and mode != prog.mode:
            raise ConfigError(
                f"{ifname} already carries our XDP program in {prog.mode} mode; "
                f"sockets on one interface share it, so ask for xdp_mode={prog.mode!r} or 'auto'",
                argument="xdp_mode")
        prog._users += 1
        return prog

    def release(self) -> None:
        """One socket is done with the program; the last one detaches it (call inside its namespace)."""
        if self._pid != current_pid():
            return
        self._users -= 1
        if self._users == 0:
            self._attached.pop((self.ns_id, self.ifindex), None)
            self.detach()

    def set_rules(self, rules: list[Rule]) -> None:
        """Replace the steering rules at run time (no re-attach); [] steers every frame to the sockets.

        The rules are written first and the count last, so the program never sees a
        half-written table: at worst it uses the old count with the new rules for one frame.
        """
        if len(rules) > MAX_RULES:
            raise ConfigError(f"at most {MAX_RULES} rules, got {len(rules)}", argument="filter")
        key = ffi.new("uint32_t *")
        for i, rule in enumerate(rules):
            key[0] = i
            packed = rule.pack()
            check(lib.bpf_map_update_elem(self._rules_fd, key, packed, 0), f"writing steering rule {i}")
        key[0] = 0
        count = ffi.new("uint32_t *", len(rules))
        check(lib.bpf_map_update_elem(self._config_fd, key, count, 0), "writing the steering rule count")
        self.rules = list(rules)

    def hits(self) -> list[int]:
        """Frames matched by each rule (summed over CPUs), then the frames passed to the stack."""
        ncpu = int(lib.libbpf_num_possible_cpus())
        values = ffi.new("uint64_t[]", max(ncpu, 1))
        key = ffi.new("uint32_t *")
        out = []
        for i in range(MAX_RULES + 1):
            key[0] = i
            check(lib.bpf_map_lookup_elem(self._hits_fd, key, values), "reading steering counters")
            out.append(sum(values[c] for c in range(ncpu)))
        return [*out[: len(self.rules)], out[MAX_RULES]]

    def unregister(self, queue: int) -> None:
        """Take the socket on ``queue`` out of the XSKMAP: its frames go back to the stack."""
        key = ffi.new("uint32_t *", queue)
        lib.bpf_map_delete_elem(self.map_fd, key)


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
        self._sockets: dict[int, Socket] = {}
        self._slots: dict[int, Socket] = {}
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

    def place(self, key: int, sock: Socket) -> None:
        """Put ``sock`` (a socket made with ``program=`` this) at ``key`` of the XSKMAP, replacing
        what was there: traffic the program sends to ``key`` goes to ``sock`` from now on."""
        self._usable()
        if self._sockets.get(id(sock)) is not sock or sock.closed:
            raise ConfigError(f"{sock!r} is not an open socket of {self!r}", argument="sock")
        self._put(key, sock)

    def _put(self, key: int, sock: Socket) -> None:
        k = ffi.new("uint32_t *", key)
        v = ffi.new("uint32_t *", sock.fd)
        check(lib.bpf_map_update_elem(self.xskmap_fd, k, v, 0), f"putting a socket into {self.name}'s XSKMAP")
        self._slots[key] = sock

    def _add_socket(self, sock: Socket, key: int) -> None:
        self._usable()
        if self.xskmap_fd < 0:
            raise ConfigError(f"{self!r} was loaded with xskmap=None: it has no XSKMAP to put sockets in",
                              argument="program")
        self._put(key, sock)
        self._sockets[id(sock)] = sock

    def _remove_socket(self, sock: Socket) -> None:
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
        warnings.warn("xsk.program.XdpProgram is now xsk.program.RedirectProgram", DeprecationWarning, stacklevel=2)
        return RedirectProgram
    raise AttributeError(f"module 'xsk.program' has no attribute {name!r}")
