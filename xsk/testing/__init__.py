"""Test helpers: throwaway veth pairs (and ``a —— router —— b`` layouts) in network
namespaces, sockets over rings in ordinary memory, XDP programs run on scapy packets
(``xsk.testing.xdp``), and a pytest plugin (``xsk.testing.plugin``, registered when xsk is
installed)."""

from .end import End
from .memory import MemoryRing, MemorySocket
from .veth import VethPair, leftover_namespaces

__all__ = ["End", "MemoryRing", "MemorySocket", "RoutedPair", "VethPair", "leftover_namespaces"]


def __getattr__(name: str) -> object:
    if name == "RoutedPair":  # imported on first use: it brings scapy and the XDP harness along
        from .routed import RoutedPair

        return RoutedPair
    raise AttributeError(f"module 'xsk.testing' has no attribute {name!r}")
