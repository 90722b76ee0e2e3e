"""Ports: the interfaces one run drives, by name, and the queues each side uses on each.

TRex's model: a run drives several ports; each stream leaves one port (``Stream(port="a")``, by
the port's name or its interface's name; a stream without one leaves the first port), and the
receiving side counts every stream wherever it arrives. ``Port`` says where a port is (interface
and namespace), which queues its generator sends from and its sink receives on, and the
destination MAC of streams leaving it whose packets leave it out.

Queues. The kernel binds one UMEM per (interface, queue): a second AF_XDP socket with a UMEM of
its own on the same queue gets EBUSY (``xp_assign_dev``). The generator and the sink of a port
are separate processes, each owning its UMEM, so a port that both sends and receives needs two
queues: the generator on one, the sink on the others. On veth, a frame sent from TX queue ``q``
of one end arrives on RX queue ``q`` of the peer (the skb's queue mapping), and the sink's XDP
program hands each RX queue to that queue's socket (``rx_queue_index``). So the two ends of a
pair that both send must send from different queues, each receiving on the queue its peer sends
from. ``plan_queues`` makes that the default: the k-th port (in the order given) that both sends
and receives sends from queue ``k mod Q`` and receives on its other queues, so a pair's two ends
listed one after the other ("a", "b") on veths made with two queues go a: send 0, receive 1 and
b: send 1, receive 0. A port that only sends uses queue 0; one that only receives, all its
queues. ``tx_queues`` and ``rx_queues`` given on a ``Port`` are taken as they are, and a queue
given to both is refused up front with what to do instead of the kernel's EBUSY.

Stream ids: the run's one profile numbers its streams over every port (``Profile.ids``: a
stream's ``id``, else its index); sent from queue index ``q`` of its port a stream carries
``id + W * q`` (``W``: ``Profile.id_width``); each stream leaves one port, so the ids stay
unique over all of them, and ``W`` times the most queues a port sends from is at most 256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ._profile import Profile

if TYPE_CHECKING:
    from ._mix import StreamPlan

MAX_IDS = 256


@dataclass(frozen=True)
class Port:
    """Where one port of a run is: ``ifname`` in network namespace ``netns`` (None: this one).

    ``tx_queues``: the queues its generator sends from (a worker process each); ``rx_queues``: the
    queues its sink receives on ([]: it does not receive). None: chosen by the run (see the
    module's docstring). ``dst_mac``: the destination of streams leaving this port whose packets
    leave it out (e.g. the peer's MAC). Plain data: it owns nothing.
    """

    ifname: str
    netns: str | None = None
    tx_queues: Sequence[int] | None = None
    rx_queues: Sequence[int] | None = None
    dst_mac: str | None = None

    def where(self) -> str:
        """The interface, with its namespace when it has one (``veth0 in ns-a``)."""
        return self.ifname + (f" in {self.netns}" if self.netns else "")


def as_ports(ports: Mapping[str, Port | str]) -> dict[str, Port]:
    """The ports as given (a ``Port`` or an interface name each, by port name), checked."""
    if not isinstance(ports, Mapping) or not ports:
        raise ConfigError(f"a mapping of port names to Ports (or interface names), got {ports!r}", argument="ports")
    out: dict[str, Port] = {}
    for name, port in ports.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"port names are non-empty text, got {name!r}", argument="ports")
        if isinstance(port, str):
            port = Port(port)
        if not isinstance(port, Port) or not isinstance(port.ifname, str) or not port.ifname:
            raise ConfigError(f"port {name!r}: a Port or an interface name, got {port!r}", argument="ports")
        for key in ("tx_queues", "rx_queues"):
            queues = getattr(port, key)
            if queues is not None and (isinstance(queues, (str, bytes)) or not all(
                    isinstance(q, int) and not isinstance(q, bool) and 0 <= q < 1024 for q in queues)):
                raise ConfigError(f"port {name!r}: {key}: queue numbers 0..1023, got {queues!r}", argument="ports")
            if queues is not None and len(set(queues)) != len(queues):
                raise ConfigError(f"port {name!r}: {key}: {list(queues)} names a queue twice", argument="ports")
        out[name] = port
    return out


def stream_ports(profile: Profile, ports: Mapping[str, Port]) -> list[str]:
    """The port each stream of ``profile`` leaves, by port name, in stream order: its ``port``
    (a port's name, or the interface name of exactly one port), or the first port."""
    first = next(iter(ports))
    by_ifname: dict[str, list[str]] = {}
    for name, port in ports.items():
        by_ifname.setdefault(port.ifname, []).append(name)
    out = []
    for i, s in enumerate(profile.streams):
        want = s.port
        if want is None:
            out.append(first)
        elif want in ports:
            out.append(want)
        elif len(by_ifname.get(want, [])) == 1:
            out.append(by_ifname[want][0])
        else:
            known = ", ".join(f"{n} ({p.where()})" for n, p in ports.items())
            why = "two ports have that interface, name the port" if want in by_ifname else "no such port"
            raise profile.error(i, "port", f"{want!r}: {why} (ports: {known})")
    return out


def one_port_warning(plans: Sequence[StreamPlan], ifname: str) -> str | None:
    """What to say when streams name ports but the run has one interface: they all leave it."""
    named = [p for p in plans if p.port is not None]
    if not named:
        return None
    ports = sorted({str(p.port) for p in named})
    return (f"streams {', '.join(repr(p.name) for p in named)} name ports ({', '.join(ports)}), but this run has one "
            f"interface: they all leave {ifname}; a Session over several ports sends each from its own")


def check_ids(width: int, tx_queues: Mapping[str, Sequence[int]]) -> None:
    """Refuse a run whose stream ids would not fit the sequence header's byte: the profile's
    ``id_width`` (its largest id plus one, over every port) times the most queues a port sends from."""
    if not tx_queues:
        return
    most = max(len(q) for q in tx_queues.values())
    if width * most > MAX_IDS:
        where = "" if len(tx_queues) == 1 else " (counted over every port: each stream has its own ids)"
        raise ConfigError(f"streams with ids up to {width - 1} sent from {most} queues need {width * most} stream "
                          f"ids; at most {MAX_IDS}{where}: fewer streams, lower ids or fewer queues")


def plan_queues(ports: Mapping[str, Port], sending: set[str], rx_counts: Mapping[str, int]) -> dict[str, Port]:
    """Each port with its queues settled (see the module's docstring): ``sending``, the ports some
    stream leaves; ``rx_counts``, each port's interface's RX queue count. A queue out of range, a
    queue given to both sides, or a run where no port receives is refused (ConfigError)."""
    out: dict[str, Port] = {}
    k = 0
    for name, port in ports.items():
        nq = rx_counts[name]
        sends = name in sending
        given_rx = list(port.rx_queues) if port.rx_queues is not None else None
        tx: list[int] = []
        if sends and port.tx_queues is not None:
            tx = list(port.tx_queues)
        elif sends and given_rx is None and nq > 1:
            tx = [k % nq]  # the k-th port that sends and receives: see the module's docstring
            k += 1
        elif sends:
            tx = [next((q for q in range(nq) if q not in (given_rx or [])), 0)]
        rx = given_rx if given_rx is not None else [q for q in range(nq) if q not in tx]
        for key, queues in (("tx_queues", tx), ("rx_queues", rx)):
            bad = [q for q in queues if q >= nq]
            if bad:
                raise ConfigError(f"port {name!r} ({port.where()}): {key} {queues}: the interface has {nq} queue"
                                  f"{'s' if nq > 1 else ''} (0..{nq - 1})", argument="ports")
        both = sorted(set(tx) & set(rx))
        if both:
            raise ConfigError(
                f"port {name!r} ({port.where()}) would send from and receive on queue {both[0]}: the kernel binds one "
                "AF_XDP UMEM per queue, and the generator and the sink each have their own. Give them different "
                "queues (tx_queues, rx_queues); on veth, make the pair with two queues: a frame sent from queue q "
                "arrives on queue q of the peer", argument="ports")
        out[name] = replace(port, tx_queues=tx, rx_queues=rx)
    if not any(p.rx_queues for p in out.values()):
        only = ", ".join(f"{n} ({p.where()}: {rx_counts[n]} queue{'s' if rx_counts[n] > 1 else ''})"
                         for n, p in out.items())
        raise ConfigError(f"no port can receive: every port sends, and a port's sink needs a queue its generator "
                          f"does not use ({only}). Make the interfaces with two queues, or leave a port "
                          "receiving only", argument="ports")
    return out


__all__ = ["MAX_IDS", "Port", "as_ports", "check_ids", "one_port_warning", "plan_queues", "stream_ports"]
