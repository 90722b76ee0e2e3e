"""xsk's redirect program pinned in bpffs, so that workers without root can receive.

A privileged step attaches the program once and pins it (``xsk prog attach IFACE --pin DIR``,
or :func:`attach`): the bpf_link that keeps it attached, its XSKMAP and its per-queue filter
maps, owned by the user or group the workers run as. A worker then needs only CAP_NET_RAW for
its AF_XDP socket: ``Socket(umem, ifname, queue=q, program=xsk.PinnedProgram(DIR))`` opens the
pinned maps (Linux 6.5+ allows that to unprivileged users as the files' permissions allow),
puts its socket into the XSKMAP and its filter into its queue's rules, and loads or attaches
nothing. Its UMEM counts against RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK.

The program stays attached while the pin exists: :func:`detach` (``xsk prog detach``) removes
the pins, and the kernel detaches the program once no process holds its link either.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from dataclasses import dataclass

from . import _privileges, link
from . import netns as netns_mod
from ._binding import ffi, lib
from ._program import _MAPS, RedirectProgram, XdpMode
from .errors import ConfigError

BPFFS = "/sys/fs/bpf"
_PINS = ("link", *_MAPS)


@dataclass(frozen=True)
class Pinned:
    """What a pin directory holds: the interface (by index, in its namespace) and the program."""

    path: str
    ifindex: int
    prog_id: int


def _check_dir(pin_dir: str) -> str:
    path = os.path.abspath(pin_dir)
    if not (path == BPFFS or path.startswith(BPFFS + "/")):
        raise ConfigError(f"{pin_dir!r} is not under {BPFFS} (bpffs): pins live there, e.g. {BPFFS}/xsk/eth0",
                          argument="pin")
    return path


def attach(ifname: str, pin_dir: str, *, netns: str | None = None, xdp_mode: XdpMode = "auto",
           owner: str | int | None = None, group: str | int | None = None) -> Pinned:
    """Attach (or join) the redirect program on ``ifname`` and pin it in ``pin_dir`` (created),
    readable and writable by ``owner`` (and ``group``): privileged, once."""
    _privileges.require_program()
    path = _check_dir(pin_dir)
    uid = -1 if owner is None else (owner if isinstance(owner, int) else _uid(owner))
    gid = -1 if group is None else (group if isinstance(group, int) else _gid(group))
    if os.path.exists(os.path.join(path, "link")):
        raise ConfigError(f"{path} already holds a pinned program: detach it first (xsk.pinned.detach, "
                          "`xsk prog detach` in the shell)", argument="pin")
    os.makedirs(path, exist_ok=True)
    with netns_mod.entered(netns):
        index = link.ifindex(ifname, netns)
        prog = RedirectProgram.acquire(index, ifname, xdp_mode)
        try:
            prog.pin(path)
            prog_id = ffi.new("uint32_t *")
            ifx = ffi.new("uint32_t *")
            lib.xsk_bpflink_info(prog.link_fd, prog_id, ifx)
        except BaseException:
            _unpin(path)
            raise
        finally:
            prog.release()  # the pinned link holds it from now on
    mode = 0o660 if gid != -1 else 0o600
    for name in _PINS:
        os.chown(os.path.join(path, name), uid, gid)
        os.chmod(os.path.join(path, name), mode)
    os.chown(path, uid, gid)
    os.chmod(path, 0o750 if gid != -1 else 0o700)
    return Pinned(path, index, int(prog_id[0]))


def detach(pin_dir: str) -> None:
    """Remove the pins (the kernel detaches the program once no process holds its link)."""
    path = _check_dir(pin_dir)
    if not os.path.exists(os.path.join(path, "link")):
        raise ConfigError(f"no pinned program in {path}", argument="pin")
    _unpin(path)


def _unpin(path: str) -> None:
    for name in _PINS:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(path, name))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def pinned(root: str = BPFFS) -> list[Pinned]:
    """Every pin directory under ``root`` holding one of our programs (reading the links needs root)."""
    found = []
    for dirpath, _dirs, files in os.walk(root):
        if "link" in files and "xsks_map" in files:
            fd = int(lib.bpf_obj_get(os.path.join(dirpath, "link").encode()))
            if fd < 0:
                continue
            try:
                prog_id, ifindex = ffi.new("uint32_t *"), ffi.new("uint32_t *")
                if lib.xsk_bpflink_info(fd, prog_id, ifindex) == 0:
                    found.append(Pinned(dirpath, int(ifindex[0]), int(prog_id[0])))
            finally:
                os.close(fd)
    return found


def _uid(name: str) -> int:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ConfigError(f"no user named {name!r}", argument="owner") from None


def _gid(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(f"no group named {name!r}", argument="group") from None


class PinnedProgram:
    """The redirect program pinned in ``pin_dir`` by :func:`attach`, for ``Socket(program=...)``.

    Opening it needs no privilege beyond the pins' file permissions; a socket made with it
    needs CAP_NET_RAW only. ``filter=`` on such a socket sets its queue's rules, as with xsk's
    own program. The sockets share one set of map descriptors, closed with the last of them.
    """

    def __init__(self, pin_dir: str | os.PathLike[str]) -> None:
        self.path = _check_dir(os.fspath(pin_dir))
        if not os.path.isdir(self.path):
            raise ConfigError(f"no pin directory {self.path}: make it with xsk.pinned.attach (`xsk prog attach` "
                              "in the shell), as root", argument="pin")
        self._program: RedirectProgram | None = None

    def acquire(self, ifindex: int, ifname: str) -> RedirectProgram:
        """The program's maps for a socket on ``ifindex`` (opened once, counted per socket; each
        socket's queue place calls it when it binds and ``RedirectProgram.release`` at teardown)."""
        prog = self._program
        if prog is None or prog.closed:
            prog = self._program = RedirectProgram.from_pins(self.path, ifindex, ifname)
        elif prog.ifindex != ifindex:
            raise ConfigError(f"{self!r} serves another interface than {ifname}", argument="program")
        prog._users += 1
        return prog

    def __repr__(self) -> str:
        return f"<xsk.PinnedProgram {self.path}>"

