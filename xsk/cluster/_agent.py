"""The part of a run that lives on one host: ``HostAgent``, an actor of the engine (Dask distributed).

The controller (``xsk.cluster.ClusterRun``) places one ``HostAgent`` on the engine worker that
advertises the host's resource (``host_resource(name)``), and calls it: ``start_sink`` and
``start_generator`` start an ``xsk.traffic.Sink`` or ``Generator`` on one of the host's
interfaces (each enters the interface's namespace itself), ``stats`` reads them live,
``stop_generators``/``stop_sinks`` end them and return their results, plain data.

Ownership: the agent owns its Generators and Sinks (and so their worker processes, sockets and
XDP programs) from start until a stop or ``close()``, which also runs when the engine drops the
actor (its controller released it, or went away); the engine runs its methods one at a time.
A lease backs that up, whatever the engine does with a vanished controller's actors: every call
renews it (the controller renews it every third of it while a run lives), and an agent that
holds traffic and hears nothing for ``lease`` seconds closes it by itself.
If the engine worker holding the agent dies, the traffic workers it started find their parent
gone and end their loops on their own (``xsk.traffic._workers.WorkerStop``), closing their
sockets: nothing stays attached to the host's interfaces.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

from ..traffic import Generator, Profile, Sink
from ._clock import kernel_clock

RESOURCE_PREFIX = "xsk-host-"


def host_resource(host: str) -> str:
    """The engine resource a worker advertises to run host ``host``'s traffic (one unit of it):
    ``dask worker ADDRESS --resources xsk-host-NAME=1``."""
    return f"{RESOURCE_PREFIX}{host}"


def boot_id() -> str:
    """This kernel's boot id: two hosts with the same one are one machine, one realtime clock."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


class HostAgent:
    """One host's Generators and Sinks, started and stopped by the controller (see the module)."""

    def __init__(self, host: str, lease: float = 30.0) -> None:
        self.host = host
        self.lease = lease
        self.generators: dict[str, Generator] = {}
        self.sinks: dict[str, Sink] = {}
        self.expired = False  # the lease ran out and the agent closed its traffic by itself
        self._contact = time.monotonic()
        self._lock = threading.Lock()
        self._done = threading.Event()
        threading.Thread(target=self._watch, name=f"xsk-agent-{host}-lease", daemon=True).start()

    def _watch(self) -> None:
        """Close the traffic when no call came for ``lease`` seconds (the controller is gone)."""
        while not self._done.wait(min(1.0, self.lease / 4)):
            with self._lock:
                if (self.generators or self.sinks) and time.monotonic() - self._contact > self.lease:
                    self.expired = True
                    self._close_all()

    def renew(self) -> bool:
        """The controller is alive (every call says so too); False once the lease had run out."""
        self._contact = time.monotonic()
        return not self.expired

    def identity(self) -> dict[str, Any]:
        """Who runs this host: machine name, process, boot id, the realtime clock now (ns) and its
        kernel's clock discipline (``_clock.kernel_clock``)."""
        return {"host": self.host, "hostname": socket.gethostname(), "pid": os.getpid(), "boot_id": boot_id(),
                "realtime_ns": time.time_ns(), "kernel_clock": kernel_clock()}

    def clock_now(self) -> int:
        """This host's CLOCK_REALTIME (ns), read as the call arrives: one sample of its offset."""
        return time.time_ns()

    def mac(self, ifname: str, netns: str | None) -> str:
        """The MAC address of ``ifname`` (in ``netns``)."""
        from .. import link
        from .. import netns as netns_mod

        with netns_mod.entered(netns):
            return str(link.mac_address(ifname))

    def start_sink(self, key: str, ifname: str, netns: str | None, queues: list[int], profile: Profile,
                   options: dict[str, Any]) -> None:
        """A Sink on ``ifname`` given ``profile`` (names and flows), started; kept under ``key``."""
        self.renew()
        sink = Sink(ifname, netns=netns, queues=queues, profile=profile, **options)
        sink.start()
        self.sinks[key] = sink

    def start_generator(self, key: str, ifname: str, netns: str | None, queues: list[int], profile: Profile,
                        dst_mac: str | None, count: int | None, duration: float | None,
                        options: dict[str, Any], hold: bool = False) -> None:
        """A Generator on ``ifname`` sending ``profile``, started; kept under ``key``. With
        ``hold``, its workers are ready but send nothing until ``go``."""
        self.renew()
        gen = Generator(ifname, netns=netns, queues=queues, dst_mac=dst_mac, **options)
        try:
            gen.start(profile, count=count, duration=duration, hold=hold)
        except BaseException:
            gen.__exit__(None, None, None)
            raise
        self.generators[key] = gen

    def go(self, at_ns: dict[str, int]) -> None:
        """Held generators, by key: send the first frame at that instant of this host's CLOCK_REALTIME."""
        self.renew()
        for key, ns in at_ns.items():
            self.generators[key].go(ns / 1e9)

    def control(self, key: str, action: str, stream: str, rate: str | float | None = None) -> None:
        """``pause``, ``resume`` or ``set_rate`` one stream of the generator under ``key``."""
        self.renew()
        gen = self.generators[key]
        if action == "set_rate":
            gen.set_rate(stream, rate)
        elif action in ("pause", "resume"):
            getattr(gen, action)(stream)
        else:
            raise ValueError(f"unknown action {action!r}")

    def control_all(self, action: str) -> None:
        """``pause`` or ``resume`` every stream of every generator of this host (one that has
        finished already is left as it is)."""
        self.renew()
        if action not in ("pause", "resume"):
            raise ValueError(f"unknown action {action!r}")
        for gen in self.generators.values():
            if gen.finished():
                continue
            for name in [p.name for p in gen.plans]:
                getattr(gen, action)(name)

    def stats(self) -> dict[str, Any]:
        """Live: each generator's and sink's ``stats()``, and whether each generator has finished."""
        self.renew()
        return {"generators": {k: {**g.stats(), "finished": g.finished()} for k, g in self.generators.items()},
                "sinks": {k: s.stats() for k, s in self.sinks.items()}}

    def stop_generators(self) -> dict[str, dict[str, Any]]:
        """Stop every generator (a finished one just reports) and return each one's results."""
        self.renew()
        return {k: g.stop() for k, g in self.generators.items()}

    def stop_sinks(self) -> dict[str, dict[str, Any]]:
        """Stop every sink and return each one's results."""
        self.renew()
        return {k: s.stop() for k, s in self.sinks.items()}

    def close(self) -> None:
        """Stop whatever still runs, errors aside (the controller's clean-up after a failure)."""
        self._done.set()
        with self._lock:
            self._close_all()

    def _close_all(self) -> None:
        for w in [*self.generators.values(), *self.sinks.values()]:
            with contextlib.suppress(Exception):  # already failed; it reaped its processes all the same
                w.__exit__(None, None, None)
        self.generators.clear()
        self.sinks.clear()

    def __del__(self) -> None:
        # the engine drops the actor when the controller releases it or goes away without close():
        # stop the workers cleanly (their sockets and XDP programs closed), not by a kill
        self.close()


__all__ = ["RESOURCE_PREFIX", "HostAgent", "boot_id", "host_resource"]
