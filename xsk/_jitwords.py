"""Word-wide loads and stores at any byte offset of a frame, for the helpers of :mod:`xsk.jit`.

``load16/32/64(frame, off)`` read the 2, 4 or 8 bytes at ``frame[off]`` as one unsigned word in
the machine's byte order, ``store16/32/64(frame, off, value)`` write one, ``be16/be32(value)``
turn a word between the machine's order and big-endian (network order) either way: a byte swap
on a little-endian machine, nothing on a big-endian one. Compiled by numba each is one
unaligned load or store (``align 1``: header fields sit at any offset) and ``be16``/``be32`` one
``bswap``, where indexing a uint8 array byte by byte costs a negative-index fix-up and a bounds
check for every byte.

They check no bounds: the callers in :mod:`xsk.jit` check a whole field once (``_in_frame``)
before touching it, so a helper given an offset past the frame raises IndexError whatever the
handler's ``boundscheck``. Without numba they are the same operations in plain Python (the
uncompiled path and machines without the ``jit`` extra).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from ._jitcore import numba_or_none

_LITTLE = sys.byteorder == "little"


def _py_load(n: int) -> Any:
    def load(frame: np.ndarray, off: int) -> int:
        return int.from_bytes(bytes(frame[off:off + n]), sys.byteorder)
    return load


def _py_store(n: int) -> Any:
    def store(frame: np.ndarray, off: int, value: int) -> None:
        frame[off:off + n] = np.frombuffer(int(value & ((1 << 8 * n) - 1)).to_bytes(n, sys.byteorder), np.uint8)
    return store


def _py_be(n: int) -> Any:
    def be(value: int) -> int:
        return int.from_bytes(int(value & ((1 << 8 * n) - 1)).to_bytes(n, sys.byteorder), "big")
    return be


def _compiled() -> dict[str, Any] | None:
    numba = numba_or_none()
    if numba is None:
        return None
    ir = importlib.import_module("llvmlite.ir")
    types, intrinsic = numba.types, numba.extending.intrinsic

    def pointer(context: Any, builder: Any, arr_ty: Any, arr: Any, off_ty: Any, off: Any, bits: int) -> Any:
        data = context.make_array(arr_ty)(context, builder, arr).data
        at = builder.gep(data, [context.cast(builder, off, off_ty, types.intp)])
        return builder.bitcast(at, ir.IntType(bits).as_pointer())

    def make_load(bits: int) -> Any:
        word = getattr(types, f"uint{bits}")

        def load(typingctx: Any, frame: Any, off: Any) -> Any:
            if not (isinstance(frame, types.Array) and frame.dtype == types.uint8 and isinstance(off, types.Integer)):
                return None
            sig = word(frame, off)

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                p = pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1], bits)
                return builder.load(p, align=1)
            return sig, codegen
        return intrinsic(load)

    def make_store(bits: int) -> Any:
        def store(typingctx: Any, frame: Any, off: Any, value: Any) -> Any:
            if not (isinstance(frame, types.Array) and frame.dtype == types.uint8 and isinstance(off, types.Integer)
                    and isinstance(value, types.Integer)):
                return None
            sig = types.void(frame, off, value)

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                p = pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1], bits)
                v = builder.trunc(args[2], ir.IntType(bits)) if signature.args[2].bitwidth > bits else \
                    context.cast(builder, args[2], signature.args[2], getattr(types, f"uint{bits}"))
                builder.store(v, p, align=1)
                return context.get_dummy_value()
            return sig, codegen
        return intrinsic(store)

    def make_be(bits: int) -> Any:
        word = getattr(types, f"uint{bits}")

        def be(typingctx: Any, value: Any) -> Any:
            if not isinstance(value, types.Integer):
                return None
            sig = word(value)

            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                v = args[0]
                width = signature.args[0].bitwidth
                v = builder.trunc(v, ir.IntType(bits)) if width > bits else \
                    builder.zext(v, ir.IntType(bits)) if width < bits else v
                return builder.bswap(v) if _LITTLE else v
            return sig, codegen
        return intrinsic(be)

    return {"load16": make_load(16), "load32": make_load(32), "load64": make_load(64),
            "store16": make_store(16), "store32": make_store(32), "store64": make_store(64),
            "be16": make_be(16), "be32": make_be(32)}


_ops = _compiled()
load16: Any = _ops["load16"] if _ops else _py_load(2)
load32: Any = _ops["load32"] if _ops else _py_load(4)
load64: Any = _ops["load64"] if _ops else _py_load(8)
store16: Any = _ops["store16"] if _ops else _py_store(2)
store32: Any = _ops["store32"] if _ops else _py_store(4)
store64: Any = _ops["store64"] if _ops else _py_store(8)
be16: Any = _ops["be16"] if _ops else _py_be(2)
be32: Any = _ops["be32"] if _ops else _py_be(4)

__all__ = ["be16", "be32", "load16", "load32", "load64", "store16", "store32", "store64"]
