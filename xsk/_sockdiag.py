"""Which processes hold the AF_XDP socket on an interface's queue, for error messages.

The kernel lists a namespace's AF_XDP sockets with their interface and queue through
sock_diag (NETLINK_SOCK_DIAG, family AF_XDP, the ``xsk_diag`` module; ``ss --xdp`` asks the
same); the socket's inode then leads to the processes that have it open (/proc/*/fd).
Best effort: an empty list when the kernel has no xsk_diag or a process went away.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket

from ._binding import CData, ffi, lib

# The uapi structs and constants come from the kernel's headers through cffi (sockdiag.cdef)
_HDR = ffi.sizeof("struct nlmsghdr")
_MSG = ffi.sizeof("struct xdp_diag_msg")
_ATTR = ffi.sizeof("struct nlattr")
_INFO = ffi.sizeof("struct xdp_diag_info")


def _align(n: int, to: int) -> int:
    return (n + to - 1) & ~(to - 1)


def _request() -> bytes:
    """A dump request for every AF_XDP socket of the namespace, with its interface and queue."""
    req = ffi.new("struct xdp_diag_req *", {"sdiag_family": lib.AF_XDP, "xdiag_show": lib.XDP_SHOW_INFO})
    hdr = ffi.new("struct nlmsghdr *", {"nlmsg_len": _HDR + ffi.sizeof(req[0]), "nlmsg_type": lib.SOCK_DIAG_BY_FAMILY,
                                        "nlmsg_flags": lib.NLM_F_REQUEST | lib.NLM_F_DUMP, "nlmsg_seq": 1})
    return bytes(ffi.buffer(hdr)) + bytes(ffi.buffer(req))


def socket_inodes(ifindex: int, queue: int) -> list[int]:
    """Inodes of the AF_XDP sockets bound to ``ifindex``/``queue`` in the calling thread's namespace."""
    found: list[int] = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, lib.NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(1.0)
            nl.send(_request())
            while True:
                data = nl.recv(65536)
                buf = ffi.from_buffer(data)
                offset = 0
                while offset + _HDR <= len(data):
                    hdr = ffi.cast("struct nlmsghdr *", buf + offset)
                    length = int(hdr.nlmsg_len)
                    if hdr.nlmsg_type in (lib.NLMSG_DONE, lib.NLMSG_ERROR) or length < _HDR \
                            or offset + length > len(data):
                        return found
                    body = offset + _HDR
                    if length >= _HDR + _MSG:
                        msg = ffi.cast("struct xdp_diag_msg *", buf + body)
                        if _bound_to(buf, body + _MSG, offset + length, ifindex, queue):
                            found.append(int(msg.xdiag_ino))
                    offset += _align(length, lib.NLMSG_ALIGNTO)
    except OSError:
        return found


def _bound_to(buf: CData, at: int, end: int, ifindex: int, queue: int) -> bool:
    """Does the reply's XDP_DIAG_INFO attribute (in ``buf[at:end]``) name ``ifindex``/``queue``?"""
    while at + _ATTR <= end:
        attr = ffi.cast("struct nlattr *", buf + at)
        length = int(attr.nla_len)
        if length < _ATTR:
            return False
        if attr.nla_type & lib.NLA_TYPE_MASK == lib.XDP_DIAG_INFO and length >= _ATTR + _INFO \
                and at + _ATTR + _INFO <= end:
            info = ffi.cast("struct xdp_diag_info *", buf + at + _ATTR)
            return (int(info.ifindex), int(info.queue_id)) == (ifindex, queue)
        at += _align(length, lib.NLA_ALIGNTO)
    return False


def processes_with(inodes: list[int]) -> list[tuple[int, str]]:
    """(pid, command line) of the processes that have a socket with one of these inodes open."""
    links = {f"socket:[{inode}]" for inode in inodes}
    found: dict[int, str] = {}
    if not links:
        return []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) in links:
                pid = int(fd.split("/")[2])
                found.setdefault(pid, command_of(pid))
    return sorted(found.items())


def command_of(pid: int) -> str:
    """A process's command line, shortened for messages ("?" if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    return text if len(text) <= 80 else text[:77] + "..."


def queue_holders(ifindex: int, queue: int) -> list[tuple[int, str]]:
    """(pid, command) of the processes holding an AF_XDP socket on ``ifindex``/``queue``."""
    return processes_with(socket_inodes(ifindex, queue))
