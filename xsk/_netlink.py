"""pyroute2's IPRoute that works inside a running asyncio event loop as well as outside one.

pyroute2 (0.9) runs its synchronous API on an asyncio loop of its own, which it cannot start in
a thread whose loop is already running ("This event loop is already running"); its author's
advice is to run the synchronous API in another thread. So inside a running loop,
:func:`iproute` opens the IPRoute in a helper thread that first enters the calling thread's
network namespace, and hands out a proxy that runs each method call there and returns its
result (generators are drained in the helper thread). Outside a loop it is IPRoute itself.

The helper thread lives for one ``with`` block; its namespace change dies with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import netns as netns_mod


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _InThread:
    """Calls an object's methods in one helper thread (see the module's docstring)."""

    def __init__(self, target: Any, pool: ThreadPoolExecutor) -> None:
        self._target = target
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._pool.submit(_drained, attr, args, kwargs).result()

        return call


def _drained(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = fn(*args, **kwargs)
    if hasattr(result, "__next__"):  # a lazy dump: read it here, where its socket lives
        return list(result)
    return result


@contextlib.contextmanager
def iproute() -> Iterator[Any]:
    """An IPRoute in the calling thread's network namespace, closed at the end of the block."""
    from pyroute2 import IPRoute  # half of ``import xsk``'s time: imported on first use

    if not _loop_running():
        with IPRoute() as ipr:
            yield ipr
        return
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xsk-netlink") as pool:
        try:
            pool.submit(netns_mod.enter_for_thread, here).result()
        finally:
            os.close(here)
        ipr = pool.submit(IPRoute).result()
        try:
            yield _InThread(ipr, pool)
        finally:
            pool.submit(ipr.close).result()


def call_outside_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, in a helper thread in this thread's namespace when an event loop runs here
    (for pyroute2 calls that are not IPRoute methods, such as ``pyroute2.netns.create``)."""
    if not _loop_running():
        return fn(*args)
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xsk-netlink") as pool:
            pool.submit(netns_mod.enter_for_thread, here).result()
            return pool.submit(fn, *args).result()
    finally:
        os.close(here)
