"""Knowing whether we are the process that made a resource, or a fork()ed child of it.

After fork() the child inherits Python objects that describe the parent's UMEM and
sockets, but not the UMEM itself (MADV_DONTFORK) nor the right to tear the parent's
kernel objects down. Every resource remembers the pid that made it and turns into a
no-op in any other process: a child's close() or garbage collection must never detach
the parent's XDP program or delete its sockets.

The current pid is cached and refreshed in every child by an at-fork hook, because
getpid() is a real system call (over 300 ns on this kind of VM) and the check sits
on the data path.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


def current_pid() -> int:
    return _pid


def forked_away(owner_pid: int) -> bool:
    """True in any process other than the one with ``owner_pid`` (e.g. a fork()ed child)."""
    return owner_pid != _pid
