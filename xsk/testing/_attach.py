"""An XDP program under test attached to an interface, for as long as a test needs it.

``attach`` puts a loaded :class:`~xsk.testing.XdpProgram` (or one it loads from a path)
on an interface with the kernel's netlink call (``bpf_xdp_attach``), refusing to replace a
program that is already there. The same loaded program can be test-run, attached, and
attached to several interfaces at once: its maps are shared by all of them.

On veth, frames that a native-mode program sends back out (``XDP_TX``) or redirects into
another veth reach the receiving end only if that end runs NAPI, which it does while it has
an XDP program of its own (on Linux 6.18, turning GRO on is not enough). :func:`pass_program`
is the smallest such program, two instructions returning ``XDP_PASS``, loaded without clang;
:meth:`xsk.testing.End.attach` puts it on the peer when the peer has nothing attached.

Ownership: an :class:`Attachment` owns the attachment (detached by ``close()``, or the end of
its ``with`` block) and the program when it loaded it from a path (closed then too); a
program passed in stays the caller's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from .. import link
from .. import netns as netns_mod
from .._binding import ffi, lib
from ..errors import ConfigError, ResourceBusyError, UnsupportedError, error_for
from ..maps import Globals, Maps
from ._xdp import XdpProgram

AttachMode = Literal["native", "skb"]
# r0 = XDP_PASS (2); exit
_PASS_INSNS = bytes.fromhex("b700000002000000" "9500000000000000")


class Loaded(Protocol):
    """What an attachment needs of a loaded program."""

    name: str
    fd: int

    def close(self) -> None: ...


class PassProgram:
    """A loaded two-instruction XDP program that passes every frame to the stack (owns its fd)."""

    name = "xsk_napi_pass"

    def __init__(self) -> None:
        insns = ffi.from_buffer(_PASS_INSNS)
        fd = lib.bpf_prog_load(lib.BPF_PROG_TYPE_XDP, self.name.encode(), b"GPL",
                               ffi.cast("struct bpf_insn *", insns), 2, ffi.NULL)
        if fd < 0:
            raise error_for(-fd, "loading the XDP_PASS program that keeps a veth peer receiving")
        self.fd = int(fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Attachment:
    """One XDP program attached to one interface; see the module's docstring for ownership."""

    def __init__(self, program: Loaded, ifname: str, netns: str | None, mode: AttachMode, *,
                 owned: bool) -> None:
        self.program = program
        self.ifname = ifname
        self.netns = netns
        self.mode = mode
        self._owned = owned
        self._flags = lib.XDP_FLAGS_DRV_MODE if mode == "native" else lib.XDP_FLAGS_SKB_MODE
        self._attached = False
        with netns_mod.entered(netns):
            self.ifindex = link.ifindex(ifname, netns)
            rc = lib.bpf_xdp_attach(self.ifindex, program.fd, self._flags | lib.XDP_FLAGS_UPDATE_IF_NOEXIST,
                                    ffi.NULL)
            if rc < 0:
                self._refused(-rc)
            prog_id = ffi.new("__u32 *")
            lib.bpf_xdp_query_id(self.ifindex, self._flags, prog_id)
            self.prog_id = int(prog_id[0])
        self._attached = True

    def _refused(self, e: int) -> None:
        where = f"{self.netns}:{self.ifname}" if self.netns else self.ifname
        if e in (errno.EBUSY, errno.EEXIST):
            raise ResourceBusyError(f"{where} already has an XDP program: detach it first (`ip -n {self.netns} link "
                                    f"set dev {self.ifname} xdp off`)", errno=e)
        if e == errno.EOPNOTSUPP:
            raise UnsupportedError(f"{where} does not support XDP in {self.mode} mode; try mode='skb'", errno=e)
        raise error_for(e, f"attaching {self.program.name!r} to {where} in {self.mode} mode")

    @property
    def maps(self) -> Maps:
        """The program's maps (shared with every other attachment and test run of it)."""
        return self._xdp().maps

    @property
    def globals(self) -> Globals:
        """The program's global variables."""
        return self._xdp().globals

    def _xdp(self) -> XdpProgram:
        if not isinstance(self.program, XdpProgram):
            raise ConfigError(f"{self.program.name} has no maps or globals")
        return self.program

    @property
    def closed(self) -> bool:
        return not self._attached

    def close(self) -> None:
        """Detach the program (if it is still the one attached), restore the peer's GRO, and
        close the program if this attachment loaded it. Quiet if the interface is gone."""
        if self._attached:
            self._attached = False
            with contextlib.suppress(OSError), netns_mod.entered(self.netns):  # OSError: the namespace went first
                current = ffi.new("__u32 *")
                if lib.bpf_xdp_query_id(self.ifindex, self._flags, current) == 0 and current[0] == self.prog_id:
                    lib.bpf_xdp_detach(self.ifindex, self._flags, ffi.NULL)
        if self._owned:
            self.program.close()

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_attached", False):
            warnings.warn(f"unclosed {self!r}: detaching it", ResourceWarning, stacklevel=1)
            self.close()

    def __repr__(self) -> str:
        where = f"{self.netns}:{self.ifname}" if self.netns else self.ifname
        return f"<xsk.testing._attach.Attachment {self.program.name} on {where} ({self.mode})>"


def attach(program: XdpProgram | str | os.PathLike[str], ifname: str, *, netns: str | None = None,
           mode: AttachMode = "native", name: str | None = None,
           constants: Mapping[str, Any] | None = None) -> Attachment:
    """Attach ``program`` (an XdpProgram, or a ``.c``/``.o`` path loaded with ``name`` and
    ``constants``) to ``ifname`` in ``netns``, in ``mode`` ("native" or "skb")."""
    if mode not in ("native", "skb"):
        raise ConfigError(f"must be 'native' or 'skb', got {mode!r}", argument="mode")
    if isinstance(program, XdpProgram):
        if name is not None or constants:
            raise ConfigError("name= and constants= are for loading from a path; this program is loaded already",
                              argument="program")
        return Attachment(program, ifname, netns, mode, owned=False)
    loaded = XdpProgram.load(program, name=name, constants=constants)
    try:
        return Attachment(loaded, ifname, netns, mode, owned=True)
    except BaseException:
        loaded.close()
        raise


def attach_pass(ifname: str, netns: str | None) -> Attachment:
    """Attach :class:`PassProgram` (native mode) so a veth end receives XDP frames; owned."""
    program = PassProgram()
    try:
        return Attachment(program, ifname, netns, "native", owned=True)
    except BaseException:
        program.close()
        raise
