"""Test your own XDP programs from pytest: load a BPF object, run its program on scapy packets
with the kernel's BPF_PROG_TEST_RUN, read the verdict and the packet it made, seed and read
its maps and global variables.

::

    from scapy.all import Ether, IP, UDP
    from xsk.testing._xdp import XdpProgram, assert_packet_equal, compile_bpf

    with XdpProgram.load(compile_bpf("port_firewall.c")) as prog:
        prog.maps["blocked_ports"][9000] = 1
        assert prog.run(Ether() / IP() / UDP(dport=9000)).action == "XDP_DROP"
        result = prog.run(Ether() / IP() / UDP(dport=53))
        assert result.action == "XDP_PASS"
        assert_packet_equal(result.packet, Ether() / IP() / UDP(dport=53))

The program runs in the kernel as it would on a NIC's receive path, on a copy of the packet:
nothing is sent. ``XDP_TX`` and ``XDP_REDIRECT`` are reported, not carried out (drive the
program on a veth pair for that). Metadata kfuncs (``bpf_xdp_metadata_rx_*``) return
``-EOPNOTSUPP`` in a test run; a program loaded bound to a device (``device=``) can't be
test-run at all, the kernel refuses (a ``ConfigError`` says so).

Ownership: an :class:`XdpProgram` owns its libbpf object, its maps and the loaded program; they
live until ``close()`` (or the end of its ``with`` block), which unloads everything. Nothing is
attached to any interface.
"""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .. import _privileges, link
from .. import netns as netns_mod
from .._binding import CData, captured_log, ffi, lib
from .._btf import Btf
from .._program import BPF_F_XDP_DEV_BOUND_ONLY
from ..errors import (
    ClosedError,
    ConfigError,
    FrameTooLargeError,
    ProgramRejectedError,
    QueueRangeError,
    error_for,
)
from ..maps import Globals, Maps
from ._compare import as_frame, assert_packet_equal, packet_diff
from ._compile import compile_bpf

__all__ = ["ACTIONS", "XdpProgram", "XdpResult", "assert_packet_equal", "compile_bpf", "packet_diff"]

ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}
ETH_HLEN = 14
META_PORTABLE = 32  # metadata every kernel takes; 6.x takes up to its headroom less struct xdp_frame (216)
# What a test run takes in its linear part on x86-64 with 4 KiB pages: a page less XDP's
# headroom (256) and the aligned skb_shared_info (320); larger packets go into fragments.
LINEAR_MAX = 4096 - 256 - 320
MAX_FRAGS = 17  # MAX_SKB_FRAGS
_LOG_BEGIN, _LOG_END = "-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --"
_VERIFIER_LINES = 20


@dataclass(frozen=True)
class XdpResult:
    """What one run of the program did.

    ``action``: "XDP_PASS", "XDP_DROP", "XDP_TX", "XDP_REDIRECT" or "XDP_ABORTED" (the number
    for any other return value); ``retval`` the number. ``data``: the packet as the program left
    it, ``meta`` the metadata area in front of it (``bpf_xdp_adjust_meta``), ``duration_ns``
    the kernel's time per run (averaged over ``repeat``).
    """

    action: str | int
    retval: int
    data: bytes
    meta: bytes
    duration_ns: int

    @property
    def packet(self) -> Packet:
        """The output packet as scapy dissects it (an ``Ether``)."""
        return as_frame(self.data)

    def __repr__(self) -> str:
        return (f"XdpResult({self.action}, {len(self.data)} bytes{f', {len(self.meta)} of meta' if self.meta else ''}, "
                f"{self.duration_ns} ns)")


def _program_list(obj: CData) -> list[tuple[str, str, int, CData]]:
    out = []
    p = lib.bpf_object__next_program(obj, ffi.NULL)
    while p != ffi.NULL:
        out.append((ffi.string(lib.bpf_program__name(p)).decode(),
                    ffi.string(lib.bpf_program__section_name(p)).decode(), int(lib.bpf_program__type(p)), p))
        p = lib.bpf_object__next_program(obj, p)
    return out


def _verifier_log(lines: list[str]) -> str:
    text = "\n".join(lines)
    if _LOG_BEGIN not in text:
        return ""
    return text.split(_LOG_BEGIN, 1)[1].split(_LOG_END, 1)[0].strip("\n")


class XdpProgram:
    """One XDP program of a BPF object, loaded into the kernel (not attached): make it with
    :meth:`load`. See the module's docstring for what a run does and who owns what."""

    path: str
    name: str
    """The program's name (its C function's)."""
    section: str
    """Its ELF section: "xdp" or "xdp.frags"."""
    fd: int
    """The loaded program's file descriptor (owned: closed by ``close()``)."""
    maps: Maps
    """Its object's maps by name (see :mod:`xsk.maps`)."""
    globals: Globals
    """Its global variables by name (see :mod:`xsk.maps`)."""

    def __init__(self) -> None:  # use XdpProgram.load
        self._obj: CData = ffi.NULL
        self._prog: CData = ffi.NULL
        self._btf: Btf | None = None
        self._loaded = False
        self.device_bound = False

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, name: str | None = None,
             constants: Mapping[str, Any] | None = None, device: str | None = None,
             netns: str | None = None) -> XdpProgram:
        """Open the BPF object at ``path`` (a ``.c`` file is compiled first, see
        :func:`compile_bpf`) and load its XDP program ``name`` (default: its only one).

        ``constants``: global variables to set before loading, ``.rodata`` (``const volatile``)
        ones included, which the verifier then treats as constants. ``device``: bind the program
        to that interface (in ``netns``), as metadata kfuncs need; such a program can't be
        test-run, only attached. Nothing is left loaded when this raises.
        """
        given = Path(os.fspath(path))
        if not given.is_file():
            raise ConfigError(f"no BPF object file {str(given)!r} (compile C with compile_bpf, or clang "
                              "-O2 -g -target bpf -c prog.c)", argument="path")
        source = compile_bpf(given) if given.suffix == ".c" else given
        _privileges.require_bpf_load()
        self = cls()
        self.path = str(given)  # what messages name: the user's file, not the cache's
        obj = lib.bpf_object__open_file(str(source).encode(), ffi.NULL)
        err = lib.libbpf_get_error(obj)
        if err:
            text = ffi.new("char[]", 128)
            lib.libbpf_strerror(int(err), text, 128)
            raise ConfigError(f"{self.path} is not a BPF object libbpf can open ({ffi.string(text).decode()}): "
                              "build it with clang -O2 -g -target bpf", argument="path")
        self._obj = obj
        try:
            self._choose(name)
            btf_ptr = lib.bpf_object__btf(obj)
            self._btf = Btf(btf_ptr) if btf_ptr != ffi.NULL else None
            self.globals = Globals(self, obj, self._btf)
            for var, value in (constants or {}).items():
                self.globals[var] = value
            if device is not None:
                with netns_mod.entered(netns):
                    lib.bpf_program__set_ifindex(self._prog, link.ifindex(device, netns))
                lib.bpf_program__set_flags(self._prog, lib.bpf_program__flags(self._prog) | BPF_F_XDP_DEV_BOUND_ONLY)
                self.device_bound = True
            with captured_log() as log, netns_mod.entered(netns if device is not None else None):
                rc = lib.bpf_object__load(obj)  # a device-bound load finds its device in this namespace
            if rc < 0:
                verifier = _verifier_log(log)
                if verifier:
                    last = "\n".join(verifier.splitlines()[-_VERIFIER_LINES:])
                    raise ProgramRejectedError(
                        f"the verifier refused program {self.name!r} of {self.path}; the end of its log:\n{last}",
                        log=verifier)
                raise error_for(-rc, f"loading {self.path}", "; ".join(log[-3:]))
            self._loaded = True
            self.fd = int(lib.bpf_program__fd(self._prog))
            self.maps = Maps(self, obj, self._btf)
        except BaseException:
            self.close()
            raise
        return self

    def _choose(self, name: str | None) -> None:
        programs = _program_list(self._obj)
        listed = ", ".join(f"{n} (SEC(\"{s}\"))" for n, s, _, _ in programs) or "no programs"
        if name is None:
            xdp = [p for p in programs if p[2] == lib.BPF_PROG_TYPE_XDP]
            if len(xdp) != 1:
                raise ConfigError(f"{self.path} has {len(xdp)} XDP programs: say which with name= "
                                  f"(it has {listed})", argument="name")
            chosen = xdp[0]
        else:
            found = [p for p in programs if p[0] == name]
            if not found:
                raise ConfigError(f"{self.path} has no program named {name!r} (it has {listed})", argument="name")
            chosen = found[0]
            if chosen[2] != lib.BPF_PROG_TYPE_XDP:
                raise ConfigError(f"program {name!r} of {self.path} is SEC(\"{chosen[1]}\"), not an XDP program "
                                  "(SEC(\"xdp\") or SEC(\"xdp.frags\"))", argument="name")
        self.name, self.section, _, self._prog = chosen
        for _n, _s, _t, other in programs:
            if other != self._prog:
                lib.bpf_program__set_autoload(other, False)

    @property
    def closed(self) -> bool:
        return bool(self._obj == ffi.NULL)

    @property
    def loaded(self) -> bool:
        return self._loaded

    def run(self, packet: Packet | bytes, *, ingress_ifindex: int | str | None = None,
            rx_queue: int | None = None, meta: bytes | None = None, repeat: int = 1,
            netns: str | None = None) -> XdpResult:
        """Run the program once on ``packet`` (``repeat`` times, for a timing) and say what it did.

        ``ingress_ifindex`` (an index or an interface name) and ``rx_queue`` set what the
        program reads in ``ctx->ingress_ifindex`` and ``ctx->rx_queue_index``: the interface
        must exist in ``netns`` (default: this thread's namespace). ``meta`` fills the metadata
        area in front of the packet (a multiple of 4 bytes; 32 on any kernel, more on 6.x).

        With ``repeat`` the kernel runs the program that many times on the same buffer, each
        run seeing what the one before left (the result is the last run's): for timing a
        program that does not change the packet.
        """
        if self.closed:
            raise ClosedError(f"{self!r} is closed")
        if self.device_bound:
            raise ConfigError(
                f"{self.name!r} was loaded bound to a device (device=): the kernel's BPF_PROG_TEST_RUN refuses "
                "device-bound programs; attach it to a veth pair and send it packets instead", argument="device")
        if isinstance(packet, Packet) and not isinstance(packet, Ether):
            raise ConfigError(f"an XDP program sees Ethernet frames: give Ether()/{packet.summary()}, not "
                              f"{type(packet).__name__} alone", argument="packet")
        data = bytes(packet)
        head = bytes(meta or b"")
        if len(data) < ETH_HLEN:
            raise ConfigError(f"a packet is at least {ETH_HLEN} bytes (an Ethernet header), got {len(data)}",
                              argument="packet")
        if len(head) % 4:
            raise ConfigError(f"the metadata area is a multiple of 4 bytes; got {len(head)}", argument="meta")
        if len(data) + len(head) > LINEAR_MAX + MAX_FRAGS * 4096:
            raise FrameTooLargeError(f"{len(data)} bytes is more than a test run takes: {LINEAR_MAX} linear "
                                     f"+ {MAX_FRAGS} fragments of 4096", argument="packet")
        if repeat < 1:
            raise ConfigError(f"must be at least 1, got {repeat}", argument="repeat")
        if rx_queue is not None and ingress_ifindex is None:
            raise ConfigError("rx_queue needs ingress_ifindex: a queue is a queue of an interface",
                              argument="rx_queue")
        with netns_mod.entered(netns):
            index = link.ifindex(ingress_ifindex, netns) if isinstance(ingress_ifindex, str) else ingress_ifindex
            return self._run(data, head, index or 0, rx_queue or 0, repeat, ingress_ifindex, netns)

    def _run(self, data: bytes, head: bytes, ifindex: int, queue: int, repeat: int, named: object,
             netns: str | None) -> XdpResult:
        inp = head + data
        out = ffi.new("char[]", len(inp) + 8192)
        ctx_in = ffi.new("struct xdp_md *")
        ctx_in.data, ctx_in.data_end = len(head), len(inp)
        ctx_in.ingress_ifindex, ctx_in.rx_queue_index = ifindex, queue
        ctx_out = ffi.new("struct xdp_md *")
        opts = ffi.new("struct bpf_test_run_opts *")
        opts.sz = ffi.sizeof("struct bpf_test_run_opts")
        keep = ffi.from_buffer("char[]", inp)
        opts.data_in, opts.data_size_in = keep, len(inp)
        opts.data_out, opts.data_size_out = out, len(out)
        opts.ctx_in, opts.ctx_size_in = ctx_in, ffi.sizeof("struct xdp_md")
        opts.ctx_out, opts.ctx_size_out = ctx_out, ffi.sizeof("struct xdp_md")
        opts.repeat = repeat
        rc = lib.bpf_prog_test_run_opts(self.fd, opts)
        if rc < 0:
            e = -rc
            where = f"in network namespace {netns!r}" if netns else "in this network namespace"
            if e == errno.ENODEV and ifindex:
                raise error_for(e, f"ingress_ifindex {named!r}: no such interface {where}", "pass netns=")
            if e == errno.EINVAL and ifindex:
                raise QueueRangeError(f"rx_queue {queue} of interface {named!r}: the kernel refused it (out of "
                                      "range, or the queue has no XDP receive info)", errno=e)
            if e == errno.EINVAL and len(head) > META_PORTABLE:
                raise ConfigError(f"this kernel refused a {len(head)}-byte metadata area (every kernel takes "
                                  f"{META_PORTABLE}; Linux 6.x up to 216)", argument="meta")
            if e == errno.ENOSPC:
                raise error_for(e, f"running {self.name!r}: its output packet is larger than {len(out)} bytes")
            raise error_for(e, f"running {self.name!r} on a {len(data)}-byte packet")
        size = int(opts.data_size_out)
        meta_len = int(ctx_out.data)
        got = ffi.buffer(out, size)[:]
        retval = int(opts.retval)
        return XdpResult(ACTIONS.get(retval, retval), retval, got[meta_len:], got[:meta_len], int(opts.duration))

    def run_many(self, packets: Iterable[Packet | bytes], **kwargs: Any) -> list[XdpResult]:
        """``run`` on each packet in turn (same keyword arguments), a result each."""
        return [self.run(p, **kwargs) for p in packets]

    def close(self) -> None:
        """Unload the program and free its maps (idempotent)."""
        if self._obj != ffi.NULL:
            if hasattr(self, "globals"):
                self.globals.close()
            lib.bpf_object__close(self._obj)
            self._obj = ffi.NULL
            self._loaded = False

    def __enter__(self) -> XdpProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_obj", ffi.NULL) != ffi.NULL:
            warnings.warn(f"unclosed {self!r}: closing it", ResourceWarning, stacklevel=1)
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "loaded"
        return f"<xsk.testing.XdpProgram {getattr(self, 'name', '?')} ({state})>"
