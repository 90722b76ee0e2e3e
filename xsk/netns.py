"""Entering a named network namespace for the current thread only.

``setns`` moves just the calling thread, and unlike ``ip netns exec`` it does not
remount /sys, so bpffs stays visible. Interface names, ifindexes, netlink sockets and
AF_XDP sockets all resolve in the namespace the thread is in when they are made.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterator

from .errors import NoSuchNamespaceError, PrivilegeError, error_for

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PrivilegeError("entering a network namespace needs CAP_SYS_ADMIN (run as root)", errno=err)
        raise error_for(err, "entering a network namespace (setns)")


def path_of(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path_of(name))


def current_id() -> int:
    """The inode of the calling thread's network namespace: equal inodes, same namespace."""
    return os.stat("/proc/thread-self/ns/net").st_ino


def open_fd(name: str) -> int:
    """A file descriptor for namespace ``name``; it keeps working after the name is deleted."""
    try:
        return os.open(path_of(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NoSuchNamespaceError(
            f"no network namespace named {name!r} (`ip netns list` shows the ones there are)"
        ) from None


def enter_for_thread(fd: int) -> None:
    """Move the calling thread into the namespace behind ``fd`` for the rest of its life
    (for a helper thread that does work in another thread's namespace, then ends)."""
    _setns(fd)


@contextlib.contextmanager
def entered_fd(fd: int | None) -> Iterator[None]:
    """Run the body in the namespace behind ``fd`` (or where we are, for None) and always come back."""
    if fd is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


@contextlib.contextmanager
def entered(name: str | None) -> Iterator[None]:
    """Run the body in namespace ``name`` (or where we are, for None) and always come back."""
    if name is None:
        yield
        return
    fd = open_fd(name)
    try:
        with entered_fd(fd):
            yield
    finally:
        os.close(fd)
