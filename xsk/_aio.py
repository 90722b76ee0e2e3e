"""asyncio for sockets: waiting on the event loop's reader and writer callbacks over the socket's fd
(``Socket.recv_async``, ``send_async``, ``flush_async`` and ``batches`` wait here).

poll() on an AF_XDP socket reports RX ready when its RX ring has frames and TX room when its
TX ring has room, so the loop's selector (epoll, or uvloop's) wakes a coroutine exactly as
``recv`` and ``send`` would be woken: no thread, and no core burnt while idle. When frames
flow, each call first re-reads the ring for a few hundred iterations (``recv(timeout=0)``)
before it waits, as the blocking calls do.

Ownership is as for the blocking calls. A cancelled await takes nothing: a wait is only ever
entered with no frame in hand, and a partial ``send_async`` leaves the unsent frames in the
caller's batch. One coroutine at a time may wait on a socket's RX (and one on its TX): the
loop keeps one reader and one writer callback per fd.
"""

from __future__ import annotations

import asyncio
import time

_SLICE = 0.1  # longest single wait: a deleted interface is noticed this fast
FLUSH_NAP = (0.0001, 0.005)  # completions raise no fd event: nap between reaps, doubling


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def wait_fd(fd: int, writable: bool, timeout: float) -> None:
    """Until ``fd`` is readable (writable) or ``timeout`` seconds pass, on the running loop (its
    reader or writer callback; never a thread)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    if writable:
        loop.add_writer(fd, _wake, fut)
    else:
        loop.add_reader(fd, _wake, fut)
    handle = loop.call_later(timeout, _wake, fut)
    try:
        await fut
    finally:
        handle.cancel()
        if writable:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def remaining(deadline: float | None) -> float:
    """The next wait: a slice, or what is left until ``deadline`` if that is less."""
    return _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
