"""asyncio for sockets: waiting on the event loop's reader and writer callbacks over the socket's fd.

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
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import Batch
    from .socket import Socket

_SLICE = 0.1  # longest single wait: a deleted interface is noticed this fast
_FLUSH_NAP = (0.0001, 0.005)  # completions raise no fd event: nap between reaps, doubling


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def wait_fd(sock: Socket, writable: bool, timeout: float) -> None:
    """Until the socket is readable (writable) or ``timeout`` seconds pass, on the running loop."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    fd = sock.fd
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


def _remaining(deadline: float | None) -> float:
    return _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())


async def recv(sock: Socket, max: int, timeout: float | None, into: Batch | None) -> Batch:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        batch = sock.recv(max, timeout=0, into=into, _spin=True)
        if len(batch):
            return batch
        into = batch  # empty: it owns nothing, so it is refilled in place next time
        remaining = _remaining(deadline)
        if remaining <= 0:
            return batch
        sock._rx_wakeup()
        await wait_fd(sock, False, remaining)


async def send(sock: Socket, batch: Batch, timeout: float | None) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    sent = 0
    while True:
        sent += sock.send(batch)
        if not len(batch):
            return sent
        sock.complete()
        remaining = _remaining(deadline)
        if remaining <= 0:
            return sent
        await wait_fd(sock, True, remaining)
        sock._check_gone()


async def flush(sock: Socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    nap = _FLUSH_NAP[0]
    while True:
        sock.complete()
        pending = sock.outstanding()
        if not pending or time.monotonic() >= deadline:
            return not pending
        sock._kick()
        await asyncio.sleep(nap)
        nap = min(nap * 2, _FLUSH_NAP[1])


async def batches(sock: Socket, max: int) -> AsyncIterator[Batch]:
    while True:
        yield await recv(sock, max, None, None)
