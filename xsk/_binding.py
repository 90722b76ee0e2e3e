"""The one place that loads the compiled module and turns C failures into exceptions.

libxdp's and libbpf's int calls, and the C units', return -errno; their pointer-returning
calls give an error the caller reads with ``libxdp_get_error``/``libbpf_get_error`` (also
-errno). Everything else in the package hands that number to ``check`` (or to
``xsk.errors.error_for``, to raise it later), which picks the exception class by errno.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any, TypeAlias

import numpy as np

from .errors import NotBuiltError, error_for

try:
    from ._xsk_cffi import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise NotBuiltError(
        "the xsk C extension is not built: run `make` (or `pip install -e .`) in the repository; "
        f"import failed with: {exc}"
    ) from exc

__all__ = ["CData", "captured_log", "check", "error_for", "ffi", "lib", "struct_dtype"]

CData: TypeAlias = Any
"""A cffi pointer, array or struct: its type is C's, declared in xsk/_ffi and checked by cffi."""

_log = logging.getLogger("xsk.libxdp")
_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


_captures = threading.local()


@contextlib.contextmanager
def captured_log() -> Iterator[list[str]]:
    """What libbpf and libxdp print in this thread while the block runs, e.g. the verifier's log
    that libbpf prints when a program is refused. The caller reports it (in an exception), so
    while a capture is active those lines are logged at DEBUG only."""
    stack: list[list[str]] = getattr(_captures, "stack", [])
    _captures.stack = stack
    lines: list[str] = []
    stack.append(lines)
    try:
        yield lines
    finally:
        for i, held in enumerate(stack):
            if held is lines:  # by identity: two captures may hold equal lines
                del stack[i]
                break


def _log_from_c(level: int, msg: CData) -> None:
    """libxdp and libbpf print through here (xsk_py_log, see system.c) instead of onto stderr."""
    text = ffi.string(msg).decode(errors="replace").rstrip()
    captures = getattr(_captures, "stack", ())
    for lines in captures:
        lines.append(text)
    # libxdp tries its multi-program dispatcher first (which needs bpffs) and narrates the
    # fallback as warnings; xsk reports the outcome itself, so the narration stays at debug.
    lowered = text.lower()
    narration = any(word in lowered for word in ("dispatcher", "bpffs", "xdp_pass", "ulimit -l"))
    _log.log(logging.DEBUG if narration or captures else _LEVELS.get(level, logging.DEBUG), text)


ffi.def_extern(name="xsk_py_log")(_log_from_c)


lib.xsk_sys_route_logs()


def check(rc: int, what: str, hint: str = "") -> int:
    """Return ``rc`` if it is not negative, else raise ``error_for(-rc, what, hint)``."""
    if rc < 0:
        raise error_for(-rc, what, hint)
    return rc


_SCALARS = {
    "int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
    "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64, "uint64_t": np.uint64,
    "double": np.float64, "_Bool": np.bool_,
}


def struct_dtype(ctype: str) -> np.dtype[np.void]:
    """The numpy record dtype of a C struct, field for field, as the compiler laid it out.

    For arrays of structs that C writes and Python reads as columns: the layout comes from the
    extension itself, so it can't drift from the C declaration."""
    t = ffi.typeof(ctype)
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for name, field in t.fields:
        ft = field.type
        if ft.kind == "array":
            formats.append((_SCALARS[ft.item.cname], (ft.length,)))
        else:
            formats.append(_SCALARS[ft.cname])
        names.append(name)
        offsets.append(field.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": ffi.sizeof(t)})
