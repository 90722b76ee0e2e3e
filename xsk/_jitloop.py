"""The C loop's side of an xsk.jit handler: its ``struct xsk_jit`` (entry, state, counts).

``FrameLoop`` is what ``Runner`` makes of a :class:`xsk.jit.FrameHandler`: the compiled entry
(numba's cfunc) or, with ``compiled=False``, a cffi callback into the handler's Python, called
by the same C loop (xsk/_ffi/jit.c) so that both give the same results. The callback turns an
exception into the RAISED action, keeps it (``error``) and asks the loop to stop; the Runner
raises it once every frame of the batch went out or back.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np

from ._binding import CData, ffi, lib
from ._jitcore import FrameHandler
from .errors import ConfigError
from .headers import _HDR

_HDR_SIZE = _HDR.itemsize
_RAISED = int(lib.XSK_JIT_RAISED)
MAX_BATCH = int(lib.XSK_JIT_MAX_BATCH)


class FrameLoop:
    """One Runner's loop over ``handler``: the C struct the data path runs, and its counts."""

    def __init__(self, handler: FrameHandler, *, compiled: bool, batch: int, verify_checksums: bool,
                 send_retries: int) -> None:
        if not 1 <= batch <= MAX_BATCH:
            raise ConfigError(f"a compiled handler's batch is 1..{MAX_BATCH}, got {batch}", argument="batch")
        self.handler = handler
        self.compiled = compiled
        self.error: BaseException | None = None
        self._keep: list[Any] = [ffi.from_buffer(a, require_writable=True) for a in handler.state]
        self._state = ffi.new("void *[]", [ffi.cast("void *", p) for p in self._keep] or [ffi.NULL])
        if compiled:
            self._fn = ffi.cast("xsk_jit_fn", handler.compile())
        else:
            self._fn = ffi.callback("xsk_jit_fn", self._python_entry(), error=_RAISED, onerror=self._caught)
        self.c: CData = ffi.new("struct xsk_jit *", {
            "fn": self._fn, "state": self._state, "batch": batch, "verify": 1 if verify_checksums else 0,
            "send_retries": send_retries})

    def _python_entry(self) -> Any:
        fn, state, name = self.handler.py_func, self.handler.state, self.handler.__name__

        def entry(data: CData, length: int, room: int, hdr: CData, _state: CData) -> int:
            frame = np.frombuffer(ffi.buffer(data, room), dtype=np.uint8)
            h = np.frombuffer(ffi.buffer(hdr, _HDR_SIZE), dtype=_HDR).view(np.recarray)[0]
            r = fn(frame, length, h, *state)
            if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)):
                raise ConfigError(f"the handler {name} returned {r!r}: return jit.SEND, jit.PASS, jit.DROP or a "
                                  "length (an int)")
            r = int(r)
            return r if -(2**63) <= r < 2**63 else int(lib.XSK_JIT_INVALID)

        return entry

    def _caught(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if self.error is None:
            self.error = exc.with_traceback(tb)
        self.c.stop = 1

    def stop(self) -> None:
        self.c.stop = 1

    def counts(self) -> dict[str, int]:
        c = self.c.c
        return {name: int(getattr(c, name)) for name in (
            "received", "replied", "returned", "dropped", "invalid", "raised", "tx_dropped", "batches", "busy_ns")}
