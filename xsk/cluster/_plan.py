"""A plan of a run across hosts: which stream leaves which host's interface, which host's interface receives it.

Pure logic, no engine and no kernel: a ``Plan`` is a list of ``Route`` (a ``Stream`` of
``xsk.traffic``, the ``Endpoint`` it leaves and the ``Endpoint`` it arrives at) and what to do
when a host is lost (``on_failure``: "stop" the whole run, or let the other hosts "continue").
From it come the Generator of each sending endpoint (``senders``: its streams in plan order),
the Sink of each receiving one (``receivers``; ``sink_profile``: the profile that Sink is given,
so its stream ids carry the right names) and, when a host is lost, the streams it carried
(``carried_by``).

Stream ids (``stream_id``): the plan gives every stream the id its sequence header carries, so
that the sequence streams reaching one receiving interface all carry different ids, whichever
host sends them. A stream's own ``id`` (``Stream(id=N)``) is kept; the others get, in plan
order, the lowest id that no other stream of their sending endpoint has and (for a sequence
stream) no other sequence stream into their receiving endpoint has. Explicit ids that clash
there are refused naming both streams, and so are more than 256 sequence streams into one
interface (the header has a byte for the id). On queue index ``q`` a stream carries
``id + W*q`` (``W``: its sender profile's ``id_width``), which depends on the sender's own ids,
so a receiving endpoint with several queues takes sequence streams from one sending endpoint.
Streams without a sequence header (``seq=False``) are counted by their flows and may come from
anywhere.

A plan file is Python (it defines ``plan``: a ``Plan`` or a list of ``Route``) or TOML: a
profile's file with two additions: each ``[[stream]]`` has ``from`` and ``to``
(``"HOST:IFACE"``), and ``[hosts.NAME]`` tables say in which network namespace each of a host's
interfaces lives (``interfaces = { IFACE = "NETNS" }``; an interface not listed is in the host's
own namespace); ``on_failure`` at the top.
"""

from __future__ import annotations

import dataclasses
import runpy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..traffic import Profile, Stream
from ..traffic._profile import MAX_STREAMS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, as a package
    import tomli as tomllib

ON_FAILURE = ("stop", "continue")
PLAN_KEYS = ("from", "to")


@dataclass(frozen=True)
class Endpoint:
    """One interface of one host: ``host`` (the name its engine worker advertises), ``ifname``,
    the network namespace it lives in (None: the host's own) and the queues used on it."""

    host: str
    ifname: str
    netns: str | None = None
    queues: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(c in self.host for c in " :,="):
            raise ConfigError(f"host {self.host!r}: a name without spaces, ':', ',' or '='", argument="host")
        if not isinstance(self.ifname, str) or not 0 < len(self.ifname) <= 15 or "/" in self.ifname:
            raise ConfigError(f"interface {self.ifname!r}: 1 to 15 characters, no '/'", argument="ifname")
        if not self.queues or any(isinstance(q, bool) or not isinstance(q, int) or q < 0 for q in self.queues):
            raise ConfigError(f"queues {self.queues!r}: one or more queue numbers >= 0", argument="queues")

    def __str__(self) -> str:
        return f"{self.host}:{self.ifname}"


@dataclass(frozen=True)
class Route:
    """A stream, the endpoint it leaves (``src``) and the endpoint that receives it (``dst``)."""

    stream: Stream
    src: Endpoint
    dst: Endpoint

    @property
    def name(self) -> str:
        """The stream's name (the Plan names unnamed streams ``stream<i>``)."""
        return str(self.stream.name)


class Plan:
    """The routes of one run across hosts, checked as a whole (see the module's docstring).

    ``rate``: the total that ``percent`` streams take shares of (as a ``Profile``'s), per sending
    endpoint. ``on_failure``: "stop" (a lost host stops the whole run) or "continue" (the other
    hosts' streams go on to their end). ``source`` names the file in error messages.
    """

    def __init__(self, routes: Sequence[Route], *, on_failure: str = "stop", rate: str | float | None = None,
                 source: str = "<plan>") -> None:
        self.routes = list(routes)
        self.rate = rate
        self.source = source
        if on_failure not in ON_FAILURE:
            raise ConfigError(f"{source}: on_failure {on_failure!r}: one of {', '.join(ON_FAILURE)}")
        self.on_failure = on_failure
        if not self.routes:
            raise ConfigError(f"{source}: a plan needs at least one route (a stream, where it leaves and arrives)")
        for i, r in enumerate(self.routes):
            if not isinstance(r, Route):
                raise ConfigError(f"{source}: route {i} is a {type(r).__name__}, not an xsk.cluster.Route")
        for dst, n in self._sequence_streams_into().items():  # before the profile's own count of streams
            if n > MAX_STREAMS:
                raise ConfigError(f"{source}: {n} sequence streams arrive at {dst}; at most {MAX_STREAMS} "
                                  "(the sequence header has one byte for the stream id): send the others elsewhere, "
                                  "or with seq=False (counted by their flows)")
        # every stream checked, and named, as one profile: names are unique across the whole run
        # (ids aside: they need only be unique per sender and per receiver, checked below)
        named = Profile([dataclasses.replace(r.stream, id=None) if isinstance(r.stream, Stream) else r.stream
                         for r in self.routes], rate=rate, source=source)
        for r, s in zip(self.routes, named.streams, strict=True):
            r.stream.name = s.name
        self._check_endpoints()
        self._ids = self._assign_ids()

    def _check_endpoints(self) -> None:
        where: dict[tuple[str, str], str | None] = {}
        for r in self.routes:
            if (r.src.host, r.src.ifname) == (r.dst.host, r.dst.ifname):
                raise ConfigError(f"{self.source}: stream {r.name!r} leaves and arrives at {r.src}: give another "
                                  "receiving interface")
            for e in (r.src, r.dst):
                key = (e.host, e.ifname)
                if key in where and where[key] != e.netns:
                    raise ConfigError(f"{self.source}: {e} is in two namespaces ({where[key]!r} and {e.netns!r}): "
                                      "one interface lives in one namespace")
                where[key] = e.netns
        senders = self.senders()
        for dst in self.receivers():
            both = next((e for e in senders if (e.host, e.ifname) == (dst.host, dst.ifname) and
                         set(e.queues) & set(dst.queues)), None)
            if both is not None:
                raise ConfigError(f"{self.source}: {dst} both sends and receives on queue(s) "
                                  f"{sorted(set(both.queues) & set(dst.queues))}: an AF_XDP socket owns its queue, "
                                  "so send and receive there on different queues, or on another interface")
        for dst, routes in self.receivers().items():
            seq_from = {str(r.src) for r in routes if r.stream.wants_seq}
            if len(dst.queues) > 1 and len(seq_from) > 1:
                raise ConfigError(f"{self.source}: {dst} receives on {len(dst.queues)} queues sequence streams from "
                                  f"{', '.join(sorted(seq_from))}; a stream's id on its other queues depends on its "
                                  "sender's own ids, so they could collide there: receive on one queue, send from "
                                  "one interface to it, or send the others' streams with seq=False (counted by "
                                  "their flows)")
            for r in routes:
                if r.stream.wants_seq and len(r.src.queues) != len(dst.queues):
                    raise ConfigError(f"{self.source}: stream {r.name!r} leaves {r.src} on {len(r.src.queues)} "
                                      f"queue(s) and arrives at {dst} on {len(dst.queues)}: use as many on both")

    def _sequence_streams_into(self) -> dict[str, int]:
        """How many sequence streams arrive at each receiving interface (``"HOST:IFACE"``)."""
        out: dict[str, int] = {}
        for r in self.routes:
            if isinstance(r, Route) and isinstance(r.stream, Stream) and r.stream.wants_seq:
                key = f"{r.dst.host}:{r.dst.ifname}"
                out[key] = out.get(key, 0) + 1
        return out

    def _assign_ids(self) -> dict[str, int]:
        """Each stream's id, by name (see the module): explicit ones kept and checked, then the
        lowest free one for the others, in plan order."""
        at_src: dict[tuple[str, str], dict[int, Route]] = {}
        at_dst: dict[tuple[str, str], dict[int, Route]] = {}
        out: dict[str, int] = {}

        def place(r: Route, sid: int) -> None:
            at_src.setdefault((r.src.host, r.src.ifname), {})[sid] = r
            if r.stream.wants_seq:
                at_dst.setdefault((r.dst.host, r.dst.ifname), {})[sid] = r
            out[r.name] = sid

        for i, r in enumerate(self.routes):
            sid = r.stream.id
            if sid is None:
                continue
            where = f"{self.source}: stream {i} ({r.name!r}): id"
            if isinstance(sid, bool) or not isinstance(sid, int) or not 0 <= sid < MAX_STREAMS:
                raise ConfigError(f"{where}: a stream id 0..{MAX_STREAMS - 1}, got {sid!r}")
            other = at_src.get((r.src.host, r.src.ifname), {}).get(sid)
            if other is not None:
                raise ConfigError(f"{where}: id {sid} is also stream {other.name!r}'s, which leaves {r.src} too; "
                                  "give each stream of one sender its own id")
            other = at_dst.get((r.dst.host, r.dst.ifname), {}).get(sid) if r.stream.wants_seq else None
            if other is not None:
                raise ConfigError(f"{where}: id {sid} is also stream {other.name!r}'s (from {other.src}), and both "
                                  f"arrive at {r.dst} with a sequence header: give them different ids, or leave "
                                  "the ids out and the plan gives them")
            place(r, sid)
        for i, r in enumerate(self.routes):
            if r.stream.id is not None:
                continue
            taken = set(at_src.get((r.src.host, r.src.ifname), {}))
            if r.stream.wants_seq:
                taken |= set(at_dst.get((r.dst.host, r.dst.ifname), {}))
            sid = next((k for k in range(MAX_STREAMS) if k not in taken), None)
            if sid is None:
                raise ConfigError(f"{self.source}: stream {i} ({r.name!r}): no stream id left: the other streams "
                                  f"leaving {r.src}" + (f" and the sequence streams into {r.dst}" if
                                                        r.stream.wants_seq else "")
                                  + f" take all {MAX_STREAMS}; give ids to the streams, or send fewer from there")
            place(r, sid)
        for src, routes in self.senders().items():
            width = max(out[r.name] for r in routes) + 1
            if width * len(src.queues) > MAX_STREAMS:
                raise ConfigError(f"{self.source}: {src} sends streams with ids up to {width - 1} from "
                                  f"{len(src.queues)} queues, which needs {width * len(src.queues)} stream ids; at "
                                  f"most {MAX_STREAMS}: lower ids, or fewer queues")
        return out

    def stream_id(self, name: str) -> int:
        """The id the plan gives stream ``name`` (its own ``id``, else the one given out; see the
        module): what its sequence header carries from its sender's first queue."""
        self.route(name)  # a clear error for a name the plan lacks
        return self._ids[name]

    # --- what runs where ------------------------------------------------------------------
    def hosts(self) -> list[str]:
        """Every host the plan uses, in the order they first appear."""
        return list(dict.fromkeys(h for r in self.routes for h in (r.src.host, r.dst.host)))

    def senders(self) -> dict[Endpoint, list[Route]]:
        """Each sending endpoint's routes, in plan order (the order gives the stream ids)."""
        out: dict[Endpoint, list[Route]] = {}
        for r in self.routes:
            out.setdefault(r.src, []).append(r)
        return out

    def receivers(self) -> dict[Endpoint, list[Route]]:
        """Each receiving endpoint's routes, in plan order."""
        out: dict[Endpoint, list[Route]] = {}
        for r in self.routes:
            out.setdefault(r.dst, []).append(r)
        return out

    def sender_profile(self, src: Endpoint) -> Profile:
        """The profile the Generator on ``src`` sends: its streams, in plan order, each with the
        id the plan gives it (copies: the plan's streams are not changed)."""
        return Profile([dataclasses.replace(r.stream, id=self._ids[r.name]) for r in self.senders()[src]],
                       rate=self.rate, source=self.source)

    def sink_profile(self, dst: Endpoint) -> Profile:
        """The profile the Sink on ``dst`` is given: with one queue, the sequence streams routed
        to it under their plan ids (so the sink names each id after its stream, whichever host
        sent it); with several, every stream of the one endpoint sending it sequence streams, as
        that sender numbers them (``id + W*q`` needs its whole width). Then the unsequenced
        streams routed to it (counted by their flows; their ids are the free ones here, never
        on the wire)."""
        routes = self.receivers()[dst]
        seq = [r for r in routes if r.stream.wants_seq]
        if len(dst.queues) > 1 and seq:
            seq = self.senders()[seq[0].src]
        streams = [dataclasses.replace(r.stream, id=self._ids[r.name]) for r in seq]
        free = (k for k in range(MAX_STREAMS) if k not in {s.id for s in streams})
        streams += [dataclasses.replace(r.stream, id=next(free)) for r in routes if r not in seq]
        return Profile(streams, rate=self.rate, source=self.source)

    def carried_by(self, host: str) -> list[str]:
        """The streams that leave or arrive at ``host``, by name, in plan order."""
        return [r.name for r in self.routes if host in (r.src.host, r.dst.host)]

    def route(self, name: str) -> Route:
        """The route of the stream ``name``."""
        for r in self.routes:
            if r.name == name:
                return r
        raise ConfigError(f"no stream {name!r} in this plan (streams: {', '.join(r.name for r in self.routes)})")

    # --- from files -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Plan:
        """A plan from a TOML file (a profile with ``from``/``to`` per stream, see the module), or
        from a Python file that defines ``plan`` (a Plan, or a list of Routes). Only that file runs."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: can't read the plan: {getattr(exc, 'strerror', None) or exc}") from None
        if p.suffix == ".py":
            return cls._from_python(p)
        return cls.from_toml(text, source=str(p))

    @classmethod
    def _from_python(cls, p: Path) -> Plan:
        try:
            namespace = runpy.run_path(str(p), run_name="__xsk_plan__")
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        except Exception as exc:  # the user's file: say where it failed, not our traceback
            raise ConfigError(f"{p}: the plan file raised {type(exc).__name__}: {exc}") from None
        value = namespace.get("plan")
        if isinstance(value, Plan):
            return value
        if isinstance(value, (list, tuple)):
            return cls(list(value), source=str(p))
        raise ConfigError(f"{p}: defines no `plan` (an xsk.cluster.Plan, or a list of Routes)" if value is None else
                          f"{p}: `plan` is a {type(value).__name__}; make it a Plan or a list of Routes")

    @classmethod
    def from_toml(cls, text: str, source: str = "<plan>") -> Plan:
        """A plan from TOML text (``source`` names it in errors)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not a TOML plan: {exc}") from None
        return cls.from_dict(doc, source=source)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "<plan>") -> Plan:
        """A plan from TOML's structure: a profile's (``rate``, ``[[stream]]``) plus ``from``/``to``
        in each stream, ``[hosts.NAME]`` tables and ``on_failure``."""
        doc = dict(doc)
        hosts = doc.pop("hosts", {})
        on_failure = doc.pop("on_failure", "stop")
        if not isinstance(hosts, dict) or not all(isinstance(h, dict) for h in hosts.values()):
            raise ConfigError(f"{source}: hosts: a table of [hosts.NAME] tables")
        netns: dict[str, dict[str, str | None]] = {}
        queues: dict[str, tuple[int, ...]] = {}
        for name, table in hosts.items():
            unknown = set(table) - {"interfaces", "queues"}
            if unknown:
                raise ConfigError(f"{source}: hosts.{name}: unknown key {sorted(unknown)[0]!r} "
                                  "(known: interfaces, queues)")
            ifaces = table.get("interfaces", {})
            if not isinstance(ifaces, dict) or not all(isinstance(v, str) for v in ifaces.values()):
                raise ConfigError(f"{source}: hosts.{name}.interfaces: a table of IFACE = \"NETNS\" "
                                  "(\"\" for the host's own namespace)")
            netns[name] = {k: v or None for k, v in ifaces.items()}
            q = table.get("queues", [0])
            if not isinstance(q, list) or not q or not all(isinstance(x, int) and not isinstance(x, bool) for x in q):
                raise ConfigError(f"{source}: hosts.{name}.queues: a list of queue numbers, e.g. [0]")
            queues[name] = tuple(q)
        tables = doc.get("stream")
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise ConfigError(f"{source}: no streams: add at least one [[stream]] table with from and to")
        ends: list[tuple[Endpoint, Endpoint]] = []
        stripped = []
        for i, t in enumerate(tables):
            where = f"{source}: stream {i}" + (f" ({t['name']!r})" if "name" in t else "")
            pair = []
            for key in PLAN_KEYS:
                if key not in t:
                    raise ConfigError(f"{where}: {key}: every stream of a plan needs one, as \"HOST:IFACE\"")
                pair.append(_endpoint(t[key], netns, queues, f"{where}: {key}"))
            ends.append((pair[0], pair[1]))
            stripped.append({k: v for k, v in t.items() if k not in (*PLAN_KEYS, "id")})
        # ids are the plan's to check (per sender and per receiver), not one profile's: put back after
        profile = Profile.from_dict({**doc, "stream": stripped}, source=source)
        streams = [dataclasses.replace(s, id=t["id"]) if "id" in t else s
                   for s, t in zip(profile.streams, tables, strict=True)]
        return cls([Route(s, a, b) for s, (a, b) in zip(streams, ends, strict=True)], on_failure=on_failure,
                   rate=profile.rate, source=source)


def _endpoint(text: Any, netns: Mapping[str, Mapping[str, str | None]], queues: Mapping[str, tuple[int, ...]],
              where: str) -> Endpoint:
    """``"HOST:IFACE"`` as an Endpoint, its namespace and queues from the hosts tables."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise ConfigError(f"{where}: {text!r}: give \"HOST:IFACE\", e.g. \"A:eth0\"")
    host, ifname = text.split(":")
    if netns and host not in netns:
        raise ConfigError(f"{where}: no host {host!r} in [hosts] (hosts: {', '.join(netns)})")
    try:
        return Endpoint(host, ifname, netns.get(host, {}).get(ifname), queues.get(host, (0,)))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


__all__ = ["ON_FAILURE", "Endpoint", "Plan", "Route"]
