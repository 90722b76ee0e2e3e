"""Test helpers: throwaway veth pairs in network namespaces, and a pytest plugin."""

from .veth import End, VethPair, leftover_namespaces

__all__ = ["End", "VethPair", "leftover_namespaces"]
