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
import struct

AF_XDP = 44
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
XDP_SHOW_INFO = 1
XDP_DIAG_INFO = 1
_NLMSGHDR = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBHII8x")  # struct xdp_diag_req (cookie left zero)
_MSG = struct.Struct("=BBHI8x")  # struct xdp_diag_msg
_NLATTR = struct.Struct("=HH")
_INFO = struct.Struct("=II")  # struct xdp_diag_info: ifindex, queue_id


def socket_inodes(ifindex: int, queue: int) -> list[int]:
    """Inodes of the AF_XDP sockets bound to ``ifindex``/``queue`` in the calling thread's namespace."""
    request = _REQ.pack(AF_XDP, 0, 0, 0, XDP_SHOW_INFO)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY,
                            NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    found: list[int] = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(1.0)
            nl.send(header + request)
            while True:
                data = nl.recv(65536)
                offset = 0
                while offset + _NLMSGHDR.size <= len(data):
                    length, kind, _, _, _ = _NLMSGHDR.unpack_from(data, offset)
                    if kind in (NLMSG_DONE, NLMSG_ERROR) or length < _NLMSGHDR.size:
                        return found
                    body = offset + _NLMSGHDR.size
                    _, _, _, inode = _MSG.unpack_from(data, body)
                    if _bound_to(data, body + _MSG.size, offset + length, ifindex, queue):
                        found.append(inode)
                    offset += (length + 3) & ~3
    except OSError:
        return found


def _bound_to(data: bytes, at: int, end: int, ifindex: int, queue: int) -> bool:
    while at + _NLATTR.size <= end:
        length, kind = _NLATTR.unpack_from(data, at)
        if length < _NLATTR.size:
            return False
        if kind & 0x3FFF == XDP_DIAG_INFO and length >= _NLATTR.size + _INFO.size:
            return _INFO.unpack_from(data, at + _NLATTR.size) == (ifindex, queue)
        at += (length + 3) & ~3
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
