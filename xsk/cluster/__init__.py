"""One traffic run across several hosts, placed and supervised by Dask distributed (``xsk[cluster]``).

A ``Plan`` says which stream (an ``xsk.traffic.Stream``) leaves which host's interface
(``Endpoint``) and which host's interface receives it (a ``Route`` each; or a TOML file, a
profile with ``from``/``to`` per stream). ``ClusterRun(plan, scheduler)`` places one agent per
host on the Dask worker that advertises the host (``host_resource(name)``), starts a Sink on every
receiving interface and a Generator on every sending one, watches them, and joins the results per
stream: sent on one host, received on another. A host lost mid-run is reported with the streams
it carried; the rest stops or goes on as the plan says. ``LocalHosts`` runs a scheduler and a
worker per host on this machine (each host's interfaces in its own network namespaces).

Everything public is importable from here; the modules behind it are internal:

* ``_plan``: ``Endpoint``, ``Route``, ``Plan`` (pure logic: what runs where, checked).
* ``_engine``: the engine, imported only when a run needs it, and what counts as a lost host.
* ``_agent``: ``HostAgent``, the actor on each host that owns its Generators and Sinks.
* ``_results``: the join across hosts, the clocks, one gen and one sink summary.
* ``_clock``: each host's clock offset to the controller, its kernel's discipline (adjtimex),
  and the rule that gives a one-way latency between hosts only with a small, stated error.
* ``_run``: ``ClusterRun``, the controller.
* ``_local``: ``LocalHosts``, several hosts on one machine.
* ``_text``: a plan and a run's results as text, and what makes a run not clean (``xsk cluster``).
"""

from ._agent import host_resource
from ._local import LocalHosts
from ._plan import Endpoint, Plan, Route
from ._run import ClusterRun

__all__ = ["ClusterRun", "Endpoint", "LocalHosts", "Plan", "Route", "host_resource"]
