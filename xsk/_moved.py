"""Modules that moved: their old names still import, with a DeprecationWarning naming the new one.

``import xsk.socket`` (or ``from xsk.socket import Socket``) gives the module object of
``xsk._socket`` itself, so everything in it keeps working; the warning says where the public
names are imported from now (``xsk``, ``xsk.traffic``, ``xsk.testing``). One table, no stub
files: the package shows only where things are now.
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
    # the engine's implementation modules: their public names are re-exported from xsk
    "xsk.batch": "xsk._batch",
    "xsk.socket": "xsk._socket",
    "xsk.umem": "xsk._umem",
    "xsk.ledger": "xsk._ledger",
    "xsk.program": "xsk._program",
    "xsk.rxmeta": "xsk._rxmeta",
    "xsk.filter": "xsk._filter",
    "xsk.runner": "xsk._runner",
    "xsk.diagnose": "xsk._diagnose",
    # the generator's: re-exported from xsk.traffic
    "xsk.traffic.checksums": "xsk.traffic._checksum_count",
    "xsk.traffic.forwarder": "xsk.traffic._forwarder",
    "xsk.traffic.generator": "xsk.traffic._generator",
    "xsk.traffic.health": "xsk.traffic._health",
    "xsk.traffic.linkdown": "xsk.traffic._linkdown",
    "xsk.traffic.mix": "xsk.traffic._mix",
    "xsk.traffic.pacer": "xsk.traffic._pacer",
    "xsk.traffic.packet": "xsk.traffic._fields",
    "xsk.traffic.plan": "xsk.traffic._run_plan",
    "xsk.traffic.profile": "xsk.traffic._profile",
    "xsk.traffic.ranges": "xsk.traffic._ranges",
    "xsk.traffic.receiver": "xsk.traffic._receiver",
    "xsk.traffic.report": "xsk.traffic._report",
    "xsk.traffic.results": "xsk.traffic._results",
    "xsk.traffic.sender": "xsk.traffic._sender",
    "xsk.traffic.seqstats": "xsk.traffic._seqstats",
    "xsk.traffic.template": "xsk.traffic._template",
    "xsk.traffic.workers": "xsk.traffic._workers",
    "xsk.traffic.xdpgen": "xsk.traffic._xdpgen",
    # the harness's: re-exported from xsk.testing
    "xsk.testing.attach": "xsk.testing._attach",
    "xsk.testing.capture": "xsk.testing._capture",
    "xsk.testing.commands": "xsk.testing._commands",
    "xsk.testing.compile": "xsk.testing._compile",
    "xsk.testing.end": "xsk.testing._end",
    "xsk.testing.memory": "xsk.testing._memory",
    "xsk.testing.packets": "xsk.testing._compare",
    "xsk.testing.routed": "xsk.testing._routed",
    "xsk.testing.selfcheck": "xsk.testing._selfcheck",
    "xsk.testing.sender": "xsk.testing._frame_sender",
    "xsk.testing.veth": "xsk.testing._veth",
    "xsk.testing.xdp": "xsk.testing._xdp",
    # older moves (0.1)
    "xsk.rings": "xsk.testing._memory",
    "xsk.packet": "xsk.traffic._fields",
    "xsk.fastpatch": "xsk.traffic._fields",
    "xsk.xdpgen": "xsk.traffic._xdpgen",
    "xsk.pacer": "xsk.traffic._pacer",
    "xsk.ranges": "xsk.traffic._ranges",
    "xsk.template": "xsk.traffic._template",
    "xsk.seqstats": "xsk.traffic._seqstats",
    "xsk.procfork": "xsk._procfork",
    "xsk.privileges": "xsk._privileges",
}
"""Old module name -> the module it is now (internal: its public names are in ``public_home``)."""


def public_home(new: str) -> str:
    """Where a moved module's public names are imported from now: the package above it."""
    package, _, _ = new.rpartition(".")
    return package


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
        warnings.warn(f"{spec.name} is deprecated: import its public names from {public_home(new)} "
                      f"(the module is now the internal {new})",
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
