"""A run across hosts' results joined: per stream sent on one host, received on another.

Plain data in and out. ``join`` takes each sending endpoint's ``Generator`` results and each
receiving endpoint's ``Sink`` results (keyed by ``str(endpoint)``) and gives, per stream of the
plan (its sequence streams found in a sink's results by the ids the plan gave them, ``stream_ids``,
whatever names the sink put on them), ``xsk.traffic.loss_per_stream``'s ``StreamLoss`` as a dict
plus ``from``, ``to`` and a
``status``: "ok", or "host lost" with what is still known (what the surviving side sent
or received; the lost side's count is None, and so is the loss: unknown, never counted as lost).
``clock`` says whether the hosts share one realtime clock and, per host, its offset to the
controller and its kernel's discipline (``xsk.cluster._clock``); ``join`` gives a stream's
one-way latency only as that module's rule allows (exact on one kernel; else with
``latency_error_us``, or left out with a ``latency_note`` saying why).
``merged_sent``/``merged_received`` make the whole run one gen summary and one sink summary
that ``xsk report`` joins by stream name.
"""

from __future__ import annotations

from typing import Any

from ..traffic import loss_per_stream
from ._clock import Offset, host_entry, latency_rule
from ._plan import Plan

SHARED = "shared: every host runs on one kernel (one boot id), so one CLOCK_REALTIME stamps and reads the packets"
NOT_SHARED = ("per host: the hosts run on different machines; a one-way latency between two of them is given "
              "only when their clocks' error is known and small against it (see each stream's latency_error_us "
              "or latency_note)")


def clock(identities: dict[str, dict[str, Any]], start: dict[str, Offset] | None = None,
          end: dict[str, Offset] | None = None) -> dict[str, Any]:
    """What the hosts' clocks allow: ``shared`` (one boot id for all), the ``basis`` in words,
    and per host (``_clock.host_entry``) its machine name, boot id, offset to the controller at
    ``start`` and ``end`` of the run and its kernel's discipline."""
    boots = {i.get("boot_id") for i in identities.values()}
    shared = len(boots) == 1 and "" not in boots and None not in boots
    return {"shared": shared, "basis": SHARED if shared else NOT_SHARED,
            "hosts": {h: host_entry(i, (start or {}).get(h), (end or {}).get(h)) for h, i in identities.items()}}


def stream_ids(plan: Plan, name: str) -> list[str]:
    """The ids stream ``name`` carries on its sender's queues: the plan's id for it plus ``W*q``
    (``W``: the largest id its sender's streams have, plus one)."""
    route = plan.route(name)
    width = max(plan.stream_id(r.name) for r in plan.senders()[route.src]) + 1
    return [str(plan.stream_id(name) + width * q) for q in range(len(route.src.queues))]


def _named(plan: Plan, dst: str, sink: dict[str, Any]) -> dict[str, Any]:
    """A sink's results with each id named after the plan's stream that carries it there (the
    sequence streams routed to ``dst``), whatever names the sink gave, so that the join goes by
    the plan's ids."""
    names = {sid: r.name for r in plan.routes if str(r.dst) == dst and r.stream.wants_seq
             for sid in stream_ids(plan, r.name)}
    per_stream = {}
    for key, value in (sink.get("per_stream") or {}).items():
        value = {k: v for k, v in value.items() if k != "name"}
        if key in names:
            value["name"] = names[key]
        per_stream[key] = value
    return {**sink, "per_stream": per_stream}


def join(plan: Plan, sent: dict[str, dict[str, Any]], received: dict[str, dict[str, Any]],
         lost_hosts: dict[str, dict[str, Any]], clock_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each stream of the plan, by name: sent on its ``from``, received on its ``to`` (see the module)."""
    out: dict[str, dict[str, Any]] = {}
    for r in plan.routes:
        src, dst = str(r.src), str(r.dst)
        base: dict[str, Any] = {"from": src, "to": dst}
        gone = [h for h in (r.src.host, r.dst.host) if h in lost_hosts]
        g, s = sent.get(src), received.get(dst)
        if g is not None and s is not None:
            row = {**base, "status": "ok", **loss_per_stream(g, _named(plan, dst, s))[r.name].as_dict()}
        else:
            n_sent = None if g is None else int((g.get("per_stream") or {}).get(r.name, {}).get("packets", 0))
            row = {**base, "name": r.name, "status": "host lost" if gone else "not run", "sent": n_sent,
                   "received": None if s is None else _received(plan, r.name, s), "lost": None, "loss_pct": None}
        if gone:
            row["status"] = "host lost"
            row["lost_hosts"] = gone
        if not clock_info["shared"]:
            latency_rule(row, r.src.host, r.dst.host, clock_info)
        out[r.name] = row
    return out


def _received(plan: Plan, name: str, sink: dict[str, Any]) -> int:
    """What a sink's results count of stream ``name``: by its ids, or its flow (unsequenced)."""
    if not plan.route(name).stream.wants_seq:
        return int((sink.get("flows") or {}).get(name, {}).get("packets", 0))
    got = sink.get("per_stream") or {}
    return sum(int(got[k]["packets"]) for k in stream_ids(plan, name) if k in got)


def merged_sent(plan: Plan, sent: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every sender's results as one gen summary: ``per_stream`` by name (names are unique across
    the plan), packets and bytes added up."""
    per_stream: dict[str, Any] = {}
    for r in plan.routes:
        g = sent.get(str(r.src))
        if g is not None and r.name in (g.get("per_stream") or {}):
            per_stream[r.name] = {**g["per_stream"][r.name], "from": str(r.src), "to": str(r.dst)}
    return {"packets": sum(s["packets"] for s in per_stream.values()),
            "bytes": sum(s["bytes"] for s in per_stream.values()), "per_stream": per_stream}


def merged_received(plan: Plan, received: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every sink's results as one sink summary: each stream's entries under ``"HOST:IFACE/ID"``
    keys with its name (so a join goes by name), flows by name, only the streams routed there."""
    per_stream: dict[str, Any] = {}
    flows: dict[str, Any] = {}
    modes = set()
    for r in plan.routes:
        s = received.get(str(r.dst))
        if s is None:
            continue
        modes.add(s.get("receive_mode"))
        if not r.stream.wants_seq:
            if r.name in (s.get("flows") or {}):
                flows[r.name] = s["flows"][r.name]
            continue
        for sid in stream_ids(plan, r.name):
            if sid in (s.get("per_stream") or {}):
                per_stream[f"{r.dst}/{sid}"] = {**s["per_stream"][sid], "name": r.name}
    return {"packets": sum(int(p["packets"]) for p in per_stream.values()) +
            sum(int(f["packets"]) for f in flows.values()),
            "per_stream": per_stream, "flows": flows,
            "receive_mode": modes.pop() if len(modes) == 1 else "mixed"}


__all__ = ["NOT_SHARED", "SHARED", "clock", "join", "merged_received", "merged_sent", "stream_ids"]
