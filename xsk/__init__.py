"""xsk: an AF_XDP kernel-bypass packet engine for Python.

A hugepage-backed UMEM shared with the kernel, four rings driven in batches from
Python, and a ledger that gives every frame exactly one owner at every moment.
"""

from . import _moved
from ._batch import XDP_PKT_CONTD, Batch
from ._filter import Rule
from ._ledger import Accounting
from ._program import CustomProgram
from ._runner import Runner, RunnerStats
from ._rxmeta import RxMetadata
from ._socket import STATISTICS, Readiness, Socket
from ._umem import Umem
from .errors import (
    ClosedError,
    CompileError,
    ConfigError,
    FrameOwnershipError,
    FrameTooLargeError,
    HostError,
    HugepagesUnavailableError,
    IntegrityError,
    InterfaceGoneError,
    KernelError,
    NoSuchInterfaceError,
    NoSuchMapError,
    NoSuchNamespaceError,
    NotBuiltError,
    PrivilegeError,
    ProgramRejectedError,
    QueueRangeError,
    ResourceBusyError,
    StillInUseError,
    UnsupportedError,
    UsageError,
    XskError,
)
from .pinned import PinnedProgram

__all__ = [
    "STATISTICS",
    "XDP_PKT_CONTD",
    "Accounting",
    "Batch",
    "ClosedError",
    "CompileError",
    "ConfigError",
    "CustomProgram",
    "FrameOwnershipError",
    "FrameTooLargeError",
    "HostError",
    "HugepagesUnavailableError",
    "IntegrityError",
    "InterfaceGoneError",
    "KernelError",
    "NoSuchInterfaceError",
    "NoSuchMapError",
    "NoSuchNamespaceError",
    "NotBuiltError",
    "PinnedProgram",
    "PrivilegeError",
    "ProgramRejectedError",
    "QueueRangeError",
    "Readiness",
    "ResourceBusyError",
    "Rule",
    "Runner",
    "RunnerStats",
    "RxMetadata",
    "Socket",
    "StillInUseError",
    "Umem",
    "UnsupportedError",
    "UsageError",
    "XskError",
]
__version__ = "0.2.0"

_moved.install()
