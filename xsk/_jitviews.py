"""Arrays and records over raw pointers for the compiled entry of a frame handler, without numba's
reference counting (NRT).

The C loop hands the entry a frame's first byte, its room, the frame's ``struct xsk_hdr`` and the
state arrays' data pointers. ``numba.carray`` would wrap them, but it is an overload that returns
an array, which numba allows only with NRT on, and with NRT every call that passes the frame on
increments and decrements a reference count nobody holds (the memory is the UMEM's, owned by the
Umem, not by numba). ``frame_view``, ``array_view`` and ``record_at`` build the same views with no
owner, so the entry compiles with NRT off and passes the frame on with no count to keep.

Ownership: a view owns nothing and lives for one call of the entry, which the C loop makes while
the frame is the loop's (USER) and the state arrays are kept alive by their FrameHandler.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from ._jitcore import _require_numba


def _views() -> dict[str, Any]:
    numba = _require_numba()
    types, intrinsic = numba.types, numba.extending.intrinsic
    cgutils = importlib.import_module("numba.core.cgutils")
    arrayobj = importlib.import_module("numba.np.arrayobj")
    make_array, populate_array = arrayobj.make_array, arrayobj.populate_array

    def view_value(context: Any, builder: Any, arrty: Any, data: Any, shape: list[Any], strides: list[Any],
                   itemsize: Any) -> Any:
        ary = make_array(arrty)(context, builder)
        populate_array(ary, data=builder.bitcast(data, ary.data.type), shape=cgutils.pack_array(builder, shape),
                       strides=cgutils.pack_array(builder, strides), itemsize=itemsize, meminfo=None)
        return ary._getvalue()

    def frame_view(typingctx: Any, data: Any, room: Any) -> Any:
        """``data[0:room]`` as a writable 1-D uint8 array owned by nobody."""
        arrty = types.Array(types.uint8, 1, "C")

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            one = context.get_constant(types.intp, 1)
            room = context.cast(builder, args[1], signature.args[1], types.intp)
            return view_value(context, builder, arrty, args[0], [room], [one], one)
        return arrty(data, room), codegen

    def array_view(dtype: Any, shape: tuple[int, ...]) -> Any:
        """An intrinsic: a void* as a C-contiguous array of ``dtype`` and ``shape``, owned by nobody."""
        arrty = types.Array(dtype, len(shape), "C")

        def view(typingctx: Any, data: Any) -> Any:
            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                intp = context.get_value_type(types.intp)
                itemsize = context.get_abi_sizeof(context.get_data_type(dtype))
                strides: list[int] = []
                step = itemsize
                for dim in reversed(shape):
                    strides.insert(0, step)
                    step *= dim
                return view_value(context, builder, arrty, args[0], [intp(d) for d in shape],
                                  [intp(s) for s in strides], intp(itemsize))
            return arrty(data), codegen
        return intrinsic(view)

    def record_at(typingctx: Any, ptr: Any) -> Any:
        """The record ``ptr`` points to (a record is passed by reference: its fields are read in place)."""
        rec = ptr.dtype

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(rec))
        return rec(ptr), codegen

    return {"frame_view": intrinsic(frame_view), "array_view": array_view, "record_at": intrinsic(record_at)}


@functools.cache
def views() -> dict[str, Any]:
    """``frame_view``, ``array_view`` (a factory) and ``record_at``, made once (needs numba)."""
    return _views()


__all__ = ["views"]
