"""The exception hierarchy.

Two families, kept apart as trio and h11 do: errors that mean *you* misused the API
(ownership, configuration) and errors that mean the system refused (privileges,
missing kernel features, a busy or vanished interface).
"""

from __future__ import annotations


class XskError(Exception):
    """Base class of every error raised by xsk."""


class FrameOwnershipError(XskError):
    """A frame or batch was used by someone who does not own it.

    Raised before anything changes: the ledger and the rings are as they were.
    """


class ConfigError(XskError, ValueError):
    """An argument is out of range or inconsistent (frame size, ring size, mode...)."""


class NoSuchInterfaceError(ConfigError):
    """The interface does not exist in the namespace it was looked up in."""


class NoSuchNamespaceError(ConfigError):
    """The named network namespace does not exist."""


class QueueRangeError(ConfigError):
    """The queue index is beyond the interface's queue count."""


class FrameTooLargeError(ConfigError):
    """A frame's length does not fit in its UMEM frame."""


class PrivilegeError(XskError, PermissionError):
    """A capability that AF_XDP or BPF needs is missing."""


class HugepagesUnavailableError(XskError):
    """Hugepages were required but none are free."""


class UnsupportedError(XskError):
    """The kernel or driver lacks a feature that was asked for (zero-copy, native XDP...)."""


class ResourceBusyError(XskError):
    """A resource is still in use (a UMEM with open sockets, a queue already bound...)."""


class ClosedError(XskError):
    """The object was closed, or belongs to the parent of a fork()."""


class KernelError(XskError, OSError):
    """A system call failed for a reason not covered by a more specific error."""

    def __init__(self, errno_: int, what: str, hint: str = "") -> None:
        import os

        message = f"{what}: {os.strerror(errno_)}"
        if hint:
            message += f" ({hint})"
        super().__init__(errno_, message)
        self.what = what

    def __str__(self) -> str:
        return str(self.args[1])


class InterfaceGoneError(KernelError):
    """The interface under an open socket was deleted (or its namespace was): close the socket."""
