"""The exception hierarchy: two families under ``XskError``, kept apart as trio and h11 do.

``UsageError``: the calling code used the API wrongly (an argument, the order of calls, a frame
it does not own). Nothing was changed; fixing the call fixes it, retrying it never will.

``HostError``: the call was right, but the host refused it or lacks something it needs
(privileges, an interface, hugepages, a kernel feature), or a system call failed. It is an
``OSError`` (Python's environment-error family) and carries ``errno`` when the kernel gave one.

::

    XskError
    ├── UsageError
    │   ├── ConfigError (also ValueError)      an argument is out of range or inconsistent
    │   │   ├── FrameTooLargeError             a frame's length does not fit its UMEM frame
    │   │   └── NoSuchMapError (also KeyError) a BPF map or global variable name the object lacks
    │   ├── ProgramRejectedError               the verifier refused a BPF program (``log``)
    │   ├── CompileError                       clang refused a BPF program's C source (``output``)
    │   ├── FrameOwnershipError                a frame used by someone who does not own it
    │   ├── ClosedError                        used after close(), or in a fork()ed child
    │   └── StillInUseError                    close() while open sockets still use it
    ├── HostError (also OSError)
    │   ├── PrivilegeError (also PermissionError)
    │   ├── NoSuchInterfaceError, NoSuchNamespaceError, QueueRangeError
    │   ├── HugepagesUnavailableError, UnsupportedError, ResourceBusyError, NotBuiltError
    │   └── KernelError                        a system call failed (no class above names why)
    │       └── InterfaceGoneError             the interface was deleted under an open socket
    └── IntegrityError                         the ownership ledger failed its own check

The one place an errno becomes an exception class is ``error_for`` (``xsk._binding.check`` raises
what it gives): EPERM gives PrivilegeError, EBUSY ResourceBusyError, EOPNOTSUPP UnsupportedError,
ENODEV NoSuchInterfaceError, anything else KernelError. (EACCES is a KernelError: from ``bpf()``
it mostly means the verifier refused a program, not a missing capability.)

Changed in 0.2, where 0.1 raised another class (every name stays):

* NoSuchInterfaceError, NoSuchNamespaceError and QueueRangeError are HostErrors (what was named
  does not exist on this host), no longer ConfigErrors.
* ``Umem.close()`` and ``CustomProgram.close()`` with sockets open raise StillInUseError, no longer
  ResourceBusyError. Asking a socket for another ``xdp_mode`` than the program its interface
  already carries in this process raises ConfigError (argument ``xdp_mode``), no longer
  ResourceBusyError.
* A system call failing with EPERM, EBUSY, EOPNOTSUPP or ENODEV raises the class above (binding a
  queue that another socket holds: ResourceBusyError; registering a UMEM without the right to pin
  it: PrivilegeError), no longer KernelError. Every one is still a HostError and an OSError
  with ``errno``.
* Errors the library raised as bare XskError are specific: ``CustomProgram`` misuse is ConfigError
  or ClosedError, a missing build NotBuiltError, a broken ledger IntegrityError.
* ``KernelError`` is made like every HostError, ``KernelError(message, errno=...)``; the 0.1 form
  ``KernelError(errno, what, hint)`` still works. ``args`` holds the message alone, and
  ``strerror`` is the system's text for ``errno``.
"""

from __future__ import annotations

import errno as errnos
import os
from typing import Any


class XskError(Exception):
    """Base class of every error raised by xsk."""


# --- the calling code misused the API ----------------------------------------------------------


class UsageError(XskError):
    """The calling code used the API wrongly; nothing was changed. Fix the call: retrying won't help."""


class ConfigError(UsageError, ValueError):
    """An argument is out of range or inconsistent (frame size, ring size, mode...).

    ``argument``: the name of the parameter it is about, when there is one (a command line
    names its own option for it); the message then starts with it. ``reason``: the message
    without that name.
    """

    def __init__(self, reason: str, *, argument: str | None = None) -> None:
        super().__init__(f"{argument}: {reason}" if argument else reason)
        self.reason = reason
        self.argument = argument

    def __reduce__(self) -> Any:
        return _rebuild_config_error, (type(self), self.reason, self.argument)


class FrameTooLargeError(ConfigError):
    """A frame's length does not fit in its UMEM frame."""


class NoSuchMapError(ConfigError, KeyError):
    """A BPF map or global variable was asked for by a name the object does not have (also a
    KeyError, as ``prog.maps[name]`` is a mapping); the message lists the names it has."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProgramRejectedError(UsageError):
    """The kernel's verifier refused a BPF program. ``log``: the verifier's log (its last lines
    are in the message); the program's code must change, retrying won't help."""

    def __init__(self, message: str, *, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class CompileError(UsageError):
    """clang could not compile a BPF program's C source. ``output``: what clang printed."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class FrameOwnershipError(UsageError):
    """A frame or batch was used by someone who does not own it.

    Raised before anything changes: the ledger and the rings are as they were.
    """


class ClosedError(UsageError):
    """The object was closed, or belongs to the parent of a fork()."""


class StillInUseError(UsageError):
    """close() was called on a UMEM or program that open sockets still use: close those first."""


# --- the host refused, or lacks something --------------------------------------------------------


class HostError(XskError, OSError):
    """The host refused or lacks something the call needs, or a system call failed.

    ``errno``: the kernel's error number when a system call said so, else None.
    ``accepted``: for ``Socket.send`` and ``forward`` failing as they woke the kernel, how many
    frames went on the TX ring all the same (None otherwise).
    """

    accepted: int | None = None

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.strerror = os.strerror(errno) if errno is not None else None

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> Any:
        return _rebuild_host_error, (type(self), str(self), self.errno, dict(self.__dict__))

    @classmethod
    def from_errno(cls, errno: int, what: str, hint: str = "") -> HostError:
        """``what`` failed with ``errno``: the message says what, why (strerror) and, if given, what to do."""
        message = f"{what}: {os.strerror(errno)}"
        if hint:
            message += f" ({hint})"
        return cls(message, errno=errno)


class PrivilegeError(HostError, PermissionError):
    """A capability that AF_XDP or BPF needs is missing."""


class NoSuchInterfaceError(HostError):
    """The interface does not exist in the namespace it was looked up in."""


class NoSuchNamespaceError(HostError):
    """The named network namespace does not exist."""


class QueueRangeError(HostError):
    """The queue index is beyond the interface's queue count."""


class HugepagesUnavailableError(HostError):
    """Hugepages were required but none are free."""


class UnsupportedError(HostError):
    """The kernel or driver lacks a feature that was asked for (zero-copy, native XDP...)."""


class ResourceBusyError(HostError):
    """Something else holds the resource: another socket on the queue, another XDP program."""


class NotBuiltError(HostError):
    """A compiled part of xsk (the C extension or a BPF object) is missing: build it with ``make``."""


class KernelError(HostError):
    """A system call failed for a reason none of the other HostErrors names (``errno`` says which)."""

    def __init__(self, *args: Any, errno: int | None = None) -> None:
        if len(args) in (2, 3) and isinstance(args[0], int):  # 0.1's KernelError(errno, what[, hint])
            number, what, *hint = args
            message = f"{what}: {os.strerror(number)}" + (f" ({hint[0]})" if hint and hint[0] else "")
            super().__init__(message, errno=number)
        else:
            super().__init__(*args, errno=errno)


class InterfaceGoneError(KernelError):
    """The interface under an open socket was deleted (or its namespace was): close the socket."""


# --- neither: a broken invariant -------------------------------------------------------------------


class IntegrityError(XskError):
    """The frame-ownership ledger failed its consistency check (``Umem.verify``).

    Not something to catch and carry on from: either the kernel returned descriptors that
    named frames it did not hold, or the ledger's memory was overwritten.
    """


_BY_ERRNO: dict[int, type[HostError]] = {
    errnos.EPERM: PrivilegeError,
    errnos.EBUSY: ResourceBusyError,
    errnos.EOPNOTSUPP: UnsupportedError,
    errnos.ENODEV: NoSuchInterfaceError,
}


def error_for(errno: int, what: str, hint: str = "") -> HostError:
    """The exception for ``what`` failing with ``errno`` (positive), its class chosen by errno.

    The message says what failed, why (strerror) and, with ``hint``, what to do."""
    return _BY_ERRNO.get(errno, KernelError).from_errno(errno, what, hint)


def _rebuild_config_error(cls: type[ConfigError], reason: str, argument: str | None) -> ConfigError:
    return cls(reason, argument=argument)


def _rebuild_host_error(cls: type[HostError], message: str, errno: int | None, state: dict[str, Any]) -> HostError:
    exc = cls(message, errno=errno)
    exc.__dict__.update(state)
    return exc
