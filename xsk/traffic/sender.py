"""The multi-stream send loop: a profile's streams out of one socket, paced per stream.

One loop for the command line (``xsk gen --profile``) and the Python ``Generator``. The
caller owns the UMEM and the socket (opened, bound, closed by it); the loop owns the frames
it takes, and every one is back in the pool or on the completion path when it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import HostError
from . import linkdown
from .mix import Mix, StreamPlan

if TYPE_CHECKING:
    from ..socket import Socket
    from ..umem import Umem


def send_streams(plans: list[StreamPlan], umem: Umem, sock: Socket, *, batch: int, q: int = 0, nqueues: int = 1,
                 count: int | None = None, duration: float | None = None,
                 stop: Callable[[], bool] | None = None,
                 tick: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Send until every stream is done, or ``count`` packets, ``duration`` seconds or ``stop()``.

    ``tick(progress)`` is called between batches with ``{"packets", "mix"}`` (the ``Mix``, for
    per-stream counts; the caller decides how often to look). Returns the totals,
    the seconds taken, ``streams`` (per stream its id, packets, bytes and rates) and
    ``link_down_seconds`` (how long the interface was down under it: see ``linkdown``).
    """
    mix = Mix(plans, umem, batch, q=q, nqueues=nqueues)
    sent = 0
    link_down = 0.0  # seconds spent waiting for the interface to come back up (linkdown)
    deadline_ns = None if duration is None else int(duration * 1e9)
    deadline = None if duration is None else time.monotonic() + duration  # the same, for linkdown
    b = umem.take(0)  # one batch, refilled in place every round (into=)
    now = mix.now()
    while True:
        if (count is not None and sent >= count) or (stop is not None and stop()):
            break
        now = mix.now()
        if deadline_ns is not None and now >= deadline_ns:
            break
        if tick is not None:
            tick({"packets": sent, "mix": mix})
        want = mix.due(now)
        if count is not None:
            want = min(want, count - sent)
        if not want:
            if not mix.wait(now):
                break  # every stream has finished
            continue
        b = umem.take(want, into=b)
        if not len(b):
            sock.complete()
            sock.poll(0.001, rx=False, tx=True)
            continue
        filled = mix.fill(b, now)
        try:
            k = sock.send(b)
        except HostError as exc:
            k, waited = linkdown.ride_out(exc, sock, stop, deadline)
            link_down += waited
        if len(b):  # the socket took k: the rest go back, their packets sent again next round
            mix.unsend(k, filled)
            umem.release(b)
        sent += k
    linkdown.flush(sock, timeout=2)
    seconds = mix.now() / 1e9
    streams = mix.results()
    for r in streams:
        span = (r["last_s"] - r["first_s"]) if r["packets"] > 1 else 0.0
        r["pps"] = round((r["packets"] - 1) / span, 1) if span > 0 else None
    return {"packets": sent, "bytes": sum(r["bytes"] for r in streams), "seconds": seconds, "streams": streams,
            "link_down_seconds": round(link_down, 3)}


__all__ = ["send_streams"]
