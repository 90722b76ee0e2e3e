"""Knowing whether we are the process that made a resource, or a fork()ed child of it.

After fork() the child inherits Python objects that describe the parent's UMEM and
sockets, but not the UMEM itself (MADV_DONTFORK) nor the right to tear the parent's
kernel objects down. Every resource remembers the pid that made it and turns into a
no-op in any other process: a child's close() or garbage collection must never detach
the parent's XDP program or delete its sockets.
"""

from __future__ import annotations

import os


def forked_away(owner_pid: int) -> bool:
    return os.getpid() != owner_pid
