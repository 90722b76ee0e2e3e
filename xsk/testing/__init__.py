"""Test helpers: throwaway veth pairs in network namespaces, sockets over rings in ordinary
memory, and a pytest plugin (``xsk.testing.plugin``, registered when xsk is installed)."""

from .memory import MemoryRing, MemorySocket
from .veth import End, VethPair, leftover_namespaces

__all__ = ["End", "MemoryRing", "MemorySocket", "VethPair", "leftover_namespaces"]
