"""The engine under a run across hosts: Dask distributed, imported only when a run needs it.

Why Dask distributed and not Ray (measured on this project's 2-core machine, 3 workers plus a
scheduler, or a Ray head plus 3 nodes from ``ray.cluster_utils.Cluster``): start-up 8 s against
16 s, 231 MiB of memory (PSS) against 1,005 MiB, 70 MB installed against 376 MB, and a killed
worker reported to the controller at once (OSError "Unable to contact Actor's worker", then
RuntimeError "Worker holding Actor was lost" on every later call) where Ray took ~3 s to raise
ActorUnavailableError. Placement is the same idea in both: a worker advertises resources, an
actor asks for one.

``connect(scheduler)``: a ``distributed.Client`` for an address, a scheduler file or an
existing client (which stays the caller's). ``worker_addresses(client)``: the workers the
scheduler knows now, asked directly. ``engine_lost(exc)``: does an exception from an
actor call mean its worker (the host) is gone, rather than an error of the call itself?
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError, UnsupportedError, XskError

INSTALL_HINT = "install the cluster extra: pip install 'xsk[cluster]'"


def distributed() -> Any:
    """The ``distributed`` package, or UnsupportedError saying how to install it."""
    try:
        import distributed as dist
    except ImportError:
        raise UnsupportedError(f"runs across hosts need Dask distributed, which is not installed: {INSTALL_HINT}") \
            from None
    return dist


def connect(scheduler: Any, timeout: float = 30.0) -> tuple[Any, bool]:
    """A Client for ``scheduler`` (``"tcp://host:port"``, a scheduler file's path, or a Client) and
    whether it was made here (then the caller closes it)."""
    dist = distributed()
    if isinstance(scheduler, dist.Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler:
        raise XskError(f"scheduler {scheduler!r}: an address (tcp://HOST:PORT), a scheduler file or a Client")
    if "://" not in scheduler and not os.path.isfile(scheduler):  # the engine would wait for it for ever
        raise ConfigError(f"scheduler file {scheduler}: no such file; give the file the scheduler writes its "
                          "address to, or the address itself (tcp://HOST:PORT)")
    try:
        if "://" in scheduler:
            return dist.Client(scheduler, timeout=timeout, set_as_default=False), True
        return dist.Client(scheduler_file=scheduler, timeout=timeout, set_as_default=False), True
    except (OSError, TimeoutError) as exc:
        raise XskError(f"can't reach the scheduler at {scheduler}: {exc}") from None


def worker_addresses(client: Any) -> set[str]:
    """The addresses of the workers in ``client``'s cluster now, asked of the scheduler itself.

    Not ``Client.scheduler_info()``: that returns the client's cached identity, which the client's
    own periodic refresh (every ``distributed.client.scheduler-info-interval``) rewrites *without*
    its workers, so a read racing the refresh sees an empty cluster (1,152 of 3,000 reads with a
    1 ms interval here): every host would look lost.
    """
    try:
        info = client.sync(client.scheduler.identity, n_workers=-1)
    except TypeError:  # a distributed whose identity() takes no n_workers lists them all
        info = client.sync(client.scheduler.identity)
    return set(info["workers"])


def engine_lost(exc: BaseException) -> bool:
    """True when ``exc``, raised by an actor call, says the actor's worker is gone or unreachable
    (connection closed, worker lost, no answer in time) rather than the call failing there."""
    if isinstance(exc, XskError):
        return False
    return isinstance(exc, (OSError, TimeoutError, RuntimeError)) or type(exc).__name__ in (
        "CommClosedError", "CancelledError", "KilledWorker")


__all__ = ["INSTALL_HINT", "connect", "distributed", "engine_lost", "worker_addresses"]
