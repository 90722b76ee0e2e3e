"""Modules that moved: their old names still import, with a DeprecationWarning naming the new one.

``import xsk.rings`` (or ``from xsk.rings import MemorySocket``) gives the module object of
``xsk.testing.memory`` itself, so everything in it keeps working; the warning says where to
import it from. One table, no stub files: the package shows only where things are now.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "xsk.rings": "xsk.testing.memory",
    "xsk.packet": "xsk.traffic.packet",
    "xsk.fastpatch": "xsk.traffic.packet",
    "xsk.xdpgen": "xsk.traffic.xdpgen",
    "xsk.pacer": "xsk.traffic.pacer",
    "xsk.ranges": "xsk.traffic.ranges",
    "xsk.template": "xsk.traffic.template",
    "xsk.seqstats": "xsk.traffic.seqstats",
    "xsk.procfork": "xsk._procfork",
    "xsk.privileges": "xsk._privileges",
}
"""Old module name -> the module it is now."""


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of ``MOVED`` and loads them as the modules they are now."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        # stacklevel 2 names the import statement: warnings skips the import machinery's own frames
        warnings.warn(f"{spec.name} is deprecated: it moved to {new}, import it from there",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the old name's spec on the module: give it back its own
        module.__spec__ = self._specs.get(module.__name__, module.__spec__)


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
