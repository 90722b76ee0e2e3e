"""The core of :mod:`xsk.jit` that the Runner needs without numba: the actions, FrameHandler and
its compilation (numba is imported only to compile, so ``import xsk`` does not pay for it)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import os
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from ._binding import lib
from .errors import CompileError, ConfigError, UnsupportedError
from .headers import _HDR

PASS = int(lib.XSK_JIT_PASS)
"""No reply: the frame goes back to the fill ring (counted ``returned``)."""
DROP = int(lib.XSK_JIT_DROP)
"""No reply, counted ``dropped`` (a malformed or unwanted request)."""
SEND = int(lib.XSK_JIT_SEND)
"""Send the frame as it is now, at its received length."""
INVALID = int(lib.XSK_JIT_INVALID)
"""What a helper returns when it can't build the reply (it would not fit the frame); returned by
the handler, the frame goes back and is counted ``invalid``."""
_RAISED = int(lib.XSK_JIT_RAISED)

_INSTALL = "compiled handlers need numba: pip install 'xsk[jit]'"
_UNSET: Any = object()
_numba: Any = _UNSET


def numba_or_none() -> Any:
    """numba (the optional extra xsk[jit]) as an untyped module, imported once, or None without it."""
    global _numba
    if _numba is _UNSET:
        try:
            _numba = importlib.import_module("numba")
        except ImportError:
            _numba = None
    return _numba


def _require_numba() -> Any:
    numba = numba_or_none()
    if numba is None:
        raise UnsupportedError(_INSTALL)
    return numba


def njit(fn: Callable[..., Any], cache: bool, *, inline: bool = False, boundscheck: bool | None = None,
         nrt: bool = True) -> Any:
    """numba.njit(fn) without the GIL, cached in __pycache__ when ``cache`` and numba finds a
    place for it (a read-only install without a writable user cache has none: then not cached).
    ``inline``: numba inlines it into every compiled caller (``inline='always'``), where it is
    compiled with the caller's options and costs no call (numba inlines at its own IR, slowly:
    for small functions only). ``nrt=False``: without numba's reference counting (no arrays made)."""
    numba = _require_numba()
    options = {"nogil": True, "inline": "always" if inline else "never", "boundscheck": boundscheck, "_nrt": nrt}
    try:
        return numba.njit(cache=cache, **options)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(**options)(fn)


class FrameHandler:
    """A frame handler (made by :func:`handler`): ``py_func(frame, length, h, *state)``, the
    arrays ``state`` it gets, and its compiled entry once :meth:`compile` made it."""

    def __init__(self, fn: Callable[..., Any], state: Sequence[np.ndarray] = (), *, boundscheck: bool = True) -> None:
        py_func = getattr(fn, "py_func", fn)  # a numba dispatcher: its Python
        if not callable(py_func):
            raise ConfigError(f"{fn!r} is not a function", argument="fn")
        arrays = []
        for i, a in enumerate(state):
            if not isinstance(a, np.ndarray) or not a.flags.c_contiguous or not a.flags.writeable:
                raise ConfigError(f"state[{i}] must be a writable C-contiguous numpy array, got {type(a).__name__}",
                                  argument="state")
            arrays.append(a)
        try:
            inspect.signature(py_func).bind(*range(3 + len(arrays)))
        except TypeError:
            raise ConfigError(f"{getattr(py_func, '__name__', py_func)!r} must take (frame, length, h) and then one "
                              f"argument per state array ({len(arrays)})", argument="fn") from None
        except ValueError:  # no signature to read (a builtin): numba will say
            pass
        self.py_func: Callable[..., Any] = py_func
        self.state: tuple[np.ndarray, ...] = tuple(arrays)
        self.boundscheck = boundscheck
        self.__name__ = getattr(py_func, "__name__", "handler")
        self.__doc__ = getattr(py_func, "__doc__", None)
        self._address: int | None = None
        self._keep: Any = None

    def __call__(self, frame: np.ndarray, length: int, h: Any) -> int:
        """Run the Python function on one frame (with this handler's state)."""
        return int(self.py_func(frame, length, h, *self.state))

    def __repr__(self) -> str:
        return f"<xsk.jit.FrameHandler {self.__name__}{' compiled' if self._address else ''}>"

    def compile(self) -> int:
        """Compile (once) and return the address of the C entry the loop calls. CompileError
        with numba's message if it can't; UnsupportedError without numba."""
        if self._address is None:
            self._address, self._keep = _compile(self)
        return self._address


@overload
def handler(fn: Callable[..., Any], /, *, state: Sequence[np.ndarray] = (), boundscheck: bool = True) -> FrameHandler:
    ...


@overload
def handler(*, state: Sequence[np.ndarray] = (), boundscheck: bool = True) -> Callable[[Callable[..., Any]],
                                                                                         FrameHandler]: ...


def handler(fn: Callable[..., Any] | None = None, /, *, state: Sequence[np.ndarray] = (),
            boundscheck: bool = True) -> FrameHandler | Callable[[Callable[..., Any]], FrameHandler]:
    """Make ``fn(frame, length, h, *state) -> action or length`` a frame handler for
    :class:`xsk.Runner` (``@jit.handler`` or ``@jit.handler(state=(...))``). ``boundscheck``:
    an index outside ``frame`` or a state array raises (counted ``raised``, the frame given
    back) instead of touching memory past it; False saves its cost for handlers you trust."""
    if fn is not None:
        return FrameHandler(fn, state, boundscheck=boundscheck)
    return lambda f: FrameHandler(f, state, boundscheck=boundscheck)


_ENTRY = '''
def entry(data, length, room, hdr, state):
    frame = frame_view(data, room)
    h = record_at(hdr)
{arrays}    try:
        return fn(frame, length, h{args})
    except Exception:
        return RAISED
'''


def _cacheable(fn: Callable[..., Any]) -> bool:
    """numba may cache a module-level function of a source file (not a closure, not typed in)."""
    code = getattr(fn, "__code__", None)
    return code is not None and not code.co_freevars and not code.co_filename.startswith("<")


def _compile_handler(fh: FrameHandler, argtypes: tuple[Any, ...], cache: bool, nrt: bool) -> Any:
    """The user's function compiled for the entry's argument types. A handler compiled once with
    reference counts is cached so; a later start that asks without them loads it and works."""
    with _handler_cache(cache) as where:
        user = njit(fh.py_func, where is not None, boundscheck=fh.boundscheck, nrt=nrt)
    user.compile(argtypes)
    return user


@contextlib.contextmanager
def _handler_cache(cache: bool) -> Iterator[str | None]:
    """numba's cache directory for handlers, while one is made: one per build of xsk.jit's code
    (its sources' digest and numba's version), or None (not cached).

    numba checks a cached function against its own source file only, but a handler's machine
    code contains the helpers it inlined: a handler cached against an earlier xsk.jit was loaded
    after the helpers changed, and crashed the process (a segfault seen here). So handlers are not
    cached beside their source but under ``$XDG_CACHE_HOME/xsk/handlers/DIGEST`` (within
    ``NUMBA_CACHE_DIR`` when that is set)."""
    numba = _require_numba()
    if not cache:
        yield None
        return
    digest = hashlib.sha256(numba.__version__.encode())
    for name in ("_jitcore.py", "_jitviews.py", "_jitwords.py", "jit.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    base = numba.config.CACHE_DIR or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                  os.path.expanduser("~/.cache"), "xsk")
    where = os.path.join(base, "handlers", digest.hexdigest()[:16])
    try:
        os.makedirs(where, exist_ok=True)
    except OSError:  # nowhere to write: not cached (numba would fall back to __pycache__)
        yield None
        return
    saved, numba.config.CACHE_DIR = numba.config.CACHE_DIR, where
    try:
        yield where
    finally:
        numba.config.CACHE_DIR = saved


def _compile(fh: FrameHandler) -> tuple[int, Any]:
    """The handler compiled, called from a C entry that wraps the frame, its headers and the
    state arrays without numba's reference counting (nothing there owns memory: see
    ``_jitviews``). The handler is compiled without it too, unless it slices or makes arrays;
    the helpers of xsk.jit count no references either."""
    numba = _require_numba()
    from ._jitviews import views

    types = numba.types
    numba_error = numba.core.errors.NumbaError
    record = numba.from_dtype(_HDR)
    argtypes = (types.Array(types.uint8, 1, "C"), types.uint32, record,
                *(types.Array(numba.from_dtype(a.dtype), a.ndim, "C") for a in fh.state))
    # numba's cache keys a function by its code and types, not by its options: only handlers with
    # bounds checks are cached, or one compiled without them could be loaded where they were asked
    cache = _cacheable(fh.py_func) and fh.boundscheck
    try:  # numba's errors name the handler's lines; its return type is checked before the entry
        try:  # without reference counts first (66 instructions a frame less for the echo example)
            user = _compile_handler(fh, argtypes, cache, nrt=False)
        except numba_error:  # it slices or makes arrays: numba needs them
            user = _compile_handler(fh, argtypes, cache, nrt=True)
        rt = user.overloads[argtypes].signature.return_type
    except numba_error as exc:
        message = str(exc)
        raise CompileError(f"numba could not compile the handler {fh.__name__}: {message}", output=message) from None
    if isinstance(rt, types.Boolean) or not isinstance(rt, types.Integer):
        raise CompileError(f"the handler {fh.__name__} returns {rt}: return jit.SEND, jit.PASS, jit.DROP or a "
                           "length (an int)", output=str(rt))
    v = views()
    # The handler is called, not inlined: numba's try/except catches what a call raises, but not a
    # raise inlined into the try block (it returned 0, PASS, and printed the error from the loop).
    ns: dict[str, Any] = {"frame_view": v["frame_view"], "record_at": v["record_at"], "RAISED": _RAISED,
                          "fn": user}
    arrays = ""
    for i, a in enumerate(fh.state):
        ns[f"view{i}"] = v["array_view"](numba.from_dtype(a.dtype), a.shape)
        arrays += f"    s{i} = view{i}(state[{i}])\n"
    src = _ENTRY.format(arrays=arrays, args="".join(f", s{i}" for i in range(len(fh.state))))
    exec(compile(textwrap.dedent(src), f"<xsk.jit entry of {fh.__name__}>", "exec"), ns)
    sig = types.int64(types.CPointer(types.uint8), types.uint32, types.uint32, types.CPointer(record),
                      types.CPointer(types.voidptr))
    try:
        entry = numba.cfunc(sig, nopython=True, _nrt=False)(ns["entry"])
    except numba_error as exc:
        message = str(exc)
        raise CompileError(f"numba could not compile the handler {fh.__name__}: {message}", output=message) from None
    return int(entry.address), entry
