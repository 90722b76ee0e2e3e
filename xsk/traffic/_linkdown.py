"""Senders that ride out a link going down, as traffic generators do.

A socket's TX wakeup fails with ENETDOWN while its interface is down (``Socket.send`` and
``forward`` raise a HostError whose ``accepted`` frames went on the TX ring all the same; they
leave when the link is up again). ``xsk gen`` and ``xsk fwd`` don't end there: they wait for
the link with :func:`wait_until_up`, count the seconds and say so in their summary
(``link_down_seconds``). A deleted
interface (InterfaceGoneError) still ends them: the socket is gone for good.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import HostError, InterfaceGoneError

if TYPE_CHECKING:
    from .._socket import Socket

POLL = 0.05  # seconds between tries while the link is down


def is_link_down(exc: BaseException) -> bool:
    """True for a TX wakeup refused because the interface is down (not deleted)."""
    return isinstance(exc, HostError) and exc.errno == errno.ENETDOWN and not isinstance(exc, InterfaceGoneError)


def wait_until_up(sock: Socket, stop: Callable[[], bool] | None = None, deadline: float | None = None) -> float:
    """Wake ``sock``'s TX ring every POLL seconds until the kernel takes its frames again (the
    link is up), ``stop()`` is true or the ``deadline`` (monotonic) passes; returns the seconds
    waited. Raises InterfaceGoneError if the interface is deleted meanwhile."""
    t0 = time.monotonic()
    while not (stop is not None and stop()) and not (deadline is not None and time.monotonic() >= deadline):
        try:
            sock.flush(timeout=POLL)
            break
        except HostError as exc:
            if not is_link_down(exc):
                raise
            time.sleep(POLL)
    return time.monotonic() - t0


def ride_out(exc: HostError, sock: Socket, stop: Callable[[], bool] | None = None,
             deadline: float | None = None) -> tuple[int, float]:
    """For ``sock.send`` or ``forward`` having raised ``exc``: re-raise it unless the link is
    down, else wait until it is up; returns (frames the call put on the TX ring all the same,
    seconds waited). Called from the ``except`` of a send loop, so the loop itself pays nothing."""
    if not is_link_down(exc):
        raise exc
    return exc.accepted or 0, wait_until_up(sock, stop, deadline)


def flush(sock: Socket, timeout: float) -> bool:
    """``sock.flush(timeout)`` at the end of a run; False, not an error, when the link is down
    (what is left on the TX ring goes when it is up, or back to the pool at close)."""
    try:
        return sock.flush(timeout=timeout)
    except HostError as exc:
        if not is_link_down(exc):
            raise
        return False
