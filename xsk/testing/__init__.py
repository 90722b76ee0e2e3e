"""The test harness: throwaway veth pairs (and ``a —— router —— b`` layouts) in network
namespaces, sockets over rings in ordinary memory, XDP programs run by the kernel on scapy
packets, packets compared layer by layer, and a pytest plugin (``xsk.testing.plugin``,
registered when xsk is installed).

Everything public is importable from here; the modules behind it (``xsk.testing._veth``,
``_xdp``...) are internal. The names that bring scapy along (``RoutedPair``, ``XdpProgram``,
``XdpResult``, ``assert_packet_equal``, ``packet_diff``, ``Capture``, ``FrameSender``) are
imported on first use, so ``import xsk.testing`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._compile import compile_bpf
from ._end import End
from ._memory import MemoryRing, MemorySocket
from ._veth import VethPair, leftover_namespaces

if TYPE_CHECKING:
    from ._capture import Capture
    from ._compare import assert_packet_equal, packet_diff
    from ._frame_sender import FrameSender
    from ._routed import RoutedPair
    from ._xdp import XdpProgram, XdpResult

__all__ = ["Capture", "End", "FrameSender", "MemoryRing", "MemorySocket", "RoutedPair", "VethPair", "XdpProgram",
           "XdpResult", "assert_packet_equal", "compile_bpf", "leftover_namespaces", "packet_diff"]

_LAZY = {"RoutedPair": "._routed", "XdpProgram": "._xdp", "XdpResult": "._xdp",
         "assert_packet_equal": "._compare", "packet_diff": "._compare", "Capture": "._capture",
         "FrameSender": "._frame_sender"}
"""Public name -> the internal module that holds it, imported on first use (they bring scapy)."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xsk.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
