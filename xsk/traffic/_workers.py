"""Worker processes, one per queue, as ``Generator`` and ``Sink`` run them.

A ``Workers`` owns its processes from ``_spawn`` until ``stop()`` has reaped them (also from
``__exit__``, and killed from ``__del__`` if it never was). Each worker answers on a queue:
``("ready", queue)`` once its socket is bound, then ``("done", result)`` or ``("error",
XskError)``; a worker that dies without answering is counted as an error. ``_summarize``
turns the workers' results, in queue order, into the caller's summary.

Workers are spawned (a fresh interpreter: no fork of a parent holding threads or a UMEM) by
``context()``, a spawn context whose children never import the parent's ``__main__``: the
stdlib's spawn re-runs the main script in each child, which kills the workers of a script fed
on stdin (``python - < script.py``: there is no file ``<stdin>`` to run) and re-runs an
unguarded script (no ``if __name__ == "__main__"``) in every worker. A worker's target and
arguments are the package's own (pickled by module and name), so the main module is never needed.
"""

from __future__ import annotations

import io
import os
import queue as queue_mod
import signal
import time
from collections.abc import Callable
from multiprocessing import popen_spawn_posix, resource_tracker, spawn, util
from multiprocessing.context import SpawnContext, SpawnProcess, reduction, set_spawning_popen  # type: ignore
from types import TracebackType
from typing import Any

from ..errors import XskError

_util: Any = util  # typeshed lacks close_fds
_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


def preparation_data(name: str) -> dict[str, Any]:
    """What a spawned child is told of its parent before it runs: the stdlib's data, without the
    parent's main module (so the child never imports or re-runs it)."""
    data: dict[str, Any] = spawn.get_preparation_data(name)
    for key in _MAIN_KEYS:
        data.pop(key, None)
    return data


class _Popen(popen_spawn_posix.Popen):
    """The stdlib's spawn (the same in 3.10-3.13), telling the child ``preparation_data``."""

    _fds: list[int]

    def _launch(self, process_obj: Any) -> None:
        tracker_fd: Any = resource_tracker.getfd()
        self._fds.append(tracker_fd)
        prep_data = preparation_data(process_obj._name)
        fp = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, fp)
            reduction.dump(process_obj, fp)
        finally:
            set_spawning_popen(None)
        parent_r = child_w = child_r = parent_w = None
        try:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            cmd = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
            self._fds.extend([child_r, child_w])
            self.pid = _util.spawnv_passfds(spawn.get_executable(), cmd, self._fds)
            self.sentinel = parent_r
            with open(parent_w, "wb", closefd=False) as f:
                f.write(fp.getbuffer())
        finally:
            parent_fds = [fd for fd in (parent_r, parent_w) if fd is not None]
            self.finalizer = _util.Finalize(self, _util.close_fds, parent_fds)
            for fd in (child_r, child_w):
                if fd is not None:
                    os.close(fd)


class _Process(SpawnProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)


class _Context(SpawnContext):
    Process = _Process


_CONTEXT = _Context()


def context() -> Any:
    """The multiprocessing context the traffic workers are started from (see the module's docstring)."""
    return _CONTEXT


class WorkerStop:
    """In a worker process: its parent's stop Event, a SIGINT or SIGTERM to the worker itself
    (Ctrl-C on a terminal and ``timeout`` signal the whole process group), or its parent gone
    (killed: nobody would ever set the Event, and the worker would hold its socket and XDP program
    for good; checked every ``PARENT_CHECK`` calls), any of which ends the worker's loop as a count
    would, so it still reports; a second signal interrupts as usual.
    Made in the worker (it installs the signal handlers there)."""

    PARENT_CHECK = 16  # calls between two getppid(): ~0.2 ns a frame at 64-frame batches; 0.8 s for an idle sink

    def __init__(self, event: Any) -> None:
        self.event = event
        self.signalled = False
        self.parent = os.getppid()
        self._calls = 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signalled:
            raise KeyboardInterrupt
        self.signalled = True  # a flag only: the Event's lock may be held by the interrupted code

    def is_set(self) -> bool:
        if self.signalled:
            return True
        self._calls += 1
        if self._calls >= self.PARENT_CHECK:
            self._calls = 0
            if os.getppid() != self.parent:  # reparented: the parent that would stop us is dead
                self.signalled = True
                return True
        return bool(self.event.is_set())


def answer(results: Any, work: Callable[[], dict[str, Any]]) -> None:
    """In a worker process: run ``work`` and put ``("done", result)`` on ``results``, or
    ``("error", XskError)`` whatever it raised: a worker always answers, or its parent would
    wait for nothing."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        results.put(("done", work()))
    except XskError as exc:
        results.put(("error", exc))
    except KeyboardInterrupt:
        results.put(("error", XskError("interrupted")))
    except BaseException as exc:
        results.put(("error", XskError(f"{type(exc).__name__}: {exc}")))


class Workers:
    """The process bookkeeping shared by Generator and Sink (see the module's docstring)."""

    what = "worker"  # how errors name one: "generator worker", "sink worker"

    def __init__(self) -> None:
        self.results: dict[str, Any] | None = None
        self._ctx = context()
        self._procs: list[Any] = []
        self._ready: list[int] = []
        self._done: list[dict[str, Any]] = []
        self._errors: list[BaseException] = []

    def _spawn(self, target: Any, args: list[tuple[Any, ...]], ifname: str, timeout: float) -> None:
        """Start a process per argument tuple (each followed by the answer queue and the stop
        event) and return once each is ready; stop them all and raise if one fails or is late."""
        if self._procs:
            raise XskError(f"this {type(self).__name__} was started already")
        self._results, self._stop = self._ctx.Queue(), self._ctx.Event()
        self._procs = [self._ctx.Process(target=target, args=(*a, self._results, self._stop), daemon=True)
                       for a in args]
        for p in self._procs:
            p.start()
        self._t0 = time.monotonic()
        deadline = time.monotonic() + timeout
        while len(self._ready) + len(self._done) < len(self._procs) and time.monotonic() < deadline:
            self._collect(0.05)
            if self._errors:
                self.stop()  # raises the worker's error
        if len(self._ready) + len(self._done) < len(self._procs):
            self.stop()
            raise XskError(f"the {self.what}s did not start on {ifname} within {timeout:g} s")

    def _collect(self, timeout: float) -> None:
        try:
            kind, payload = self._results.get(timeout=timeout)
        except queue_mod.Empty:
            if self._procs and not any(p.is_alive() for p in self._procs) and \
                    len(self._done) + len(self._errors) < len(self._procs):
                self._errors.append(XskError(f"a {self.what} exited without reporting"))
            return
        if kind == "ready":
            self._ready.append(payload)
        elif kind == "done":
            self._done.append(payload)
        else:
            self._errors.append(payload)

    @property
    def started(self) -> bool:
        """True once ``start()`` has started the workers (and ever after)."""
        return bool(self._procs)

    def finished(self) -> bool:
        """True once every worker has reported (its work ended) or failed."""
        self._collect(0.0)
        return len(self._done) + len(self._errors) >= len(self._procs)

    def _summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self) -> dict[str, Any]:
        """Stop every worker, reap it, and return the summary of their results."""
        if self.results is not None:
            return self.results
        if not self._procs:
            raise XskError(f"this {type(self).__name__} was not started")
        self._stop.set()
        deadline = time.monotonic() + 30
        while len(self._done) + len(self._errors) < len(self._procs) and time.monotonic() < deadline:
            self._collect(0.05)
        for p in self._procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
        if self._errors:
            self.results = {}
            raise self._errors[0]
        if len(self._done) < len(self._procs):
            self.results = {}
            raise XskError(f"a {self.what} did not report within 30 s of stop()")
        self.results = self._summarize(sorted(self._done, key=lambda r: r["queue"]))
        return self.results

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._procs and self.results is None:
            try:
                self.stop()
            except XskError:
                if exc_type is None:
                    raise

    def __del__(self) -> None:
        for p in getattr(self, "_procs", []):
            if p.is_alive():
                p.kill()


__all__ = ["WorkerStop", "Workers", "answer", "context", "preparation_data"]
