"""``LocalHosts``: several hosts on this machine, one Dask worker process each, for tests and trials.

A scheduler and one worker per host name, each its own process listening on loopback only,
each worker advertising ``host_resource(name)`` so a ``ClusterRun`` places that host's agent on
it. The interfaces of a "host" are whatever namespaces the plan names for it (the Generator and
Sink enter them); the engine's own traffic stays on loopback in this namespace.

Workers run without a nanny, so a killed worker stays dead (``kill(host)``: what a host that
dies mid-run looks like to the controller).

Ownership: LocalHosts owns the processes and its scratch directory from ``start()`` (or
``__enter__``) until ``close()`` (or ``__exit__``), which ends every process still running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ..errors import ConfigError, UsageError, XskError
from ._agent import host_resource
from ._engine import distributed, worker_addresses
from ._plan import Endpoint


class LocalHosts:
    """A scheduler and a worker per name in ``hosts`` on this machine (see the module's docstring).

    ``address``: the scheduler file a ``ClusterRun`` connects with: ``scheduler_file`` when given
    (it must not exist yet; it is removed again by ``close()``), else one in the scratch
    directory. ``timeout``: seconds to wait for the scheduler and every worker.
    """

    def __init__(self, hosts: Sequence[str], *, timeout: float = 90.0, scheduler_file: str | Path | None = None) \
            -> None:
        names = list(hosts)
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"hosts {names!r}: one or more distinct names")
        for n in names:
            Endpoint(n, "lo")  # the name's rules
        distributed()
        self.hosts = names
        self.timeout = timeout
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.scheduler: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._file = None if scheduler_file is None else Path(scheduler_file).absolute()
        if self._file is not None and (self._file.exists() or not self._file.parent.is_dir()):
            raise ConfigError(f"scheduler file {self._file}: " + (
                "exists already (another scheduler's?): remove it if no scheduler runs with it, or give another path"
                if self._file.exists() else "its directory does not exist"))

    @property
    def address(self) -> str:
        """The scheduler file's path (what ``ClusterRun(plan, scheduler=...)`` takes)."""
        if self._dir is None:
            raise UsageError("these LocalHosts were not started")
        return str(self._file or self._dir / "scheduler.json")

    def _spawn(self, module: str, *args: str) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        log = open(self._dir / f"{module.rsplit('.', 1)[-1]}-{len(self.workers)}.log", "wb")  # noqa: SIM115
        try:
            return subprocess.Popen([sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=self._dir)
        finally:
            log.close()

    def start(self) -> LocalHosts:
        """Start the scheduler and the workers; return once every worker has joined."""
        if self._dir is not None:
            raise UsageError("these LocalHosts were started already")
        self._dir = Path(tempfile.mkdtemp(prefix="xsk-hosts-"))
        try:
            self.scheduler = self._spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                         "--no-dashboard", "--scheduler-file", self.address)
            self._until(lambda: Path(self.address).exists() and bool(Path(self.address).read_text().strip()),
                        "the scheduler")
            for h in self.hosts:
                self.workers[h] = self._spawn(
                    "distributed.cli.dask_worker", "--scheduler-file", self.address, "--no-nanny", "--nthreads", "1",
                    "--no-dashboard", "--host", "127.0.0.1", "--name", h, "--memory-limit", "0",
                    "--local-directory", str(self._dir), "--resources", f"{host_resource(h)}=1")
            self._until(lambda: self._joined() >= len(self.hosts), "the workers")
        except BaseException:
            self.close()
            raise
        return self

    def _joined(self) -> int:
        dist = distributed()
        with dist.Client(scheduler_file=self.address, timeout=10, set_as_default=False) as client:
            return len(worker_addresses(client))

    def _until(self, ready: object, what: str) -> None:
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            dead = [p for p in [self.scheduler, *self.workers.values()] if p is not None and p.poll() is not None]
            if dead:
                raise XskError(f"{what} exited at start (status {dead[0].returncode}); logs in {self._dir}")
            if callable(ready) and ready():
                return
            time.sleep(0.2)
        raise XskError(f"{what} did not start within {self.timeout:g} s; logs in {self._dir}")

    def scheduler_info(self) -> dict[str, object]:
        """The scheduler's address as its file says."""
        return dict(json.loads(Path(self.address).read_text()))

    def kill(self, host: str) -> None:
        """Kill host ``host``'s worker at once (SIGKILL) and reap it: a host that dies."""
        p = self.workers.get(host)
        if p is None:
            raise UsageError(f"no host {host!r} here (hosts: {', '.join(self.hosts)})")
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()

    def close(self) -> None:
        """End every worker and the scheduler (SIGTERM, then SIGKILL after 10 s); remove the scratch directory."""
        procs = [*self.workers.values(), *([self.scheduler] if self.scheduler is not None else [])]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.workers.clear()
        self.scheduler = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            if self._file is not None:
                self._file.unlink(missing_ok=True)
        self._dir = None

    def __enter__(self) -> LocalHosts:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["LocalHosts"]
