"""Traffic profiles: several streams per run, each with its own packet, sizes, fields and rate.

A ``Stream`` describes one flow of packets as a user writes it (a scapy packet, bytes or a
template string; a rate or a percent of the profile's rate; sizes; field ranges; when it
starts and how long it lasts). A ``Profile`` is the streams of one run, checked as a whole.
``Profile.load`` reads a TOML file or a Python file that defines ``profile``.

Nothing here sends: ``xsk.traffic._mix`` turns a profile into frames, ``xsk gen --profile``
and ``xsk.traffic.Generator`` send them.

Stream ids: a stream's id is the top byte of its sequence numbers, and its counter runs 0, 1,
2, ... densely, so a receiver counts loss per stream and per queue exactly. A stream's id is its
``id`` when given, else its index in the profile (today's numbering, unchanged); two streams of
one profile never share one (a clash is refused when the profile is made, naming both). The
worker of queue index ``q`` (0 with one queue) sends it with id ``id + W * q``, where ``W``
(``Profile.id_width``) is the largest id plus one (``N``, the number of streams, when no stream
gives one); ``W * Q`` is at most 256. Explicit ids are what lets several senders share one
receiving interface (``xsk.cluster`` gives them out): like TRex's ``pg_id``, the sender's
numbering is no longer its own.
"""

from __future__ import annotations

import dataclasses
import math
import os
import runpy
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import _ranges as ranges
from . import _vary
from ._pacer import parse_rate, rate_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, as a package
    import tomli as tomllib

IMIX: tuple[tuple[int, int], ...] = ((60, 7), (590, 4), (1514, 1))
"""The simple IMIX: 60, 590 and 1514-byte frames (without FCS) in the ratio 7:4:1."""
MAX_STREAMS = 256
MAX_FRAME = 9216
MAX_WEIGHT = 1 << 20
FIELD_NAMES = ("src_mac", "src_ip", "dst_ip", "src_port", "dst_port")
SizeSpec = int | str | Sequence[tuple[int, int]] | Sequence[Sequence[int]] | None


def _weighted_cycle(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Sizes repeated by weight and spread evenly (smooth weighted round-robin): 7:4:1 gives
    a 12-frame cycle with the big frames apart, not seven small ones then four then one."""
    weights = [w for _, w in pairs]
    total = sum(weights)
    current = [0] * len(pairs)
    out = np.empty(total, dtype=np.uint32)
    for k in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(pairs)), key=lambda i: current[i])
        current[best] -= total
        out[k] = pairs[best][0]
    return out


def size_table(size: SizeSpec, packet_len: int) -> np.ndarray:
    """Every frame length a stream cycles through (uint32), from its ``size`` as written."""
    if size is None:
        return np.array([packet_len], dtype=np.uint32)
    if isinstance(size, bool):
        raise ConfigError(f"bad size {size!r}: a length, 'lo-hi', 'imix' or [[length, weight], ...]")
    if isinstance(size, int):
        return np.array([size], dtype=np.uint32)
    if isinstance(size, str):
        text = size.strip().lower()
        if text == "imix":
            return _weighted_cycle(IMIX)
        lo, sep, hi = text.partition("-")
        try:
            a, b = int(lo), int(hi if sep else lo)
        except ValueError:
            raise ConfigError(f"bad size {size!r}: a length, 'lo-hi' (e.g. '64-1500') or 'imix'") from None
        if a > b:
            raise ConfigError(f"bad size {size!r}: the first length must not exceed the last")
        return np.arange(a, b + 1, dtype=np.uint32)
    pairs: list[tuple[int, int]] = []
    try:
        for item in size:
            length, weight = item
            if isinstance(length, bool) or isinstance(weight, bool):
                raise TypeError
            pairs.append((int(length), int(weight)))
    except (TypeError, ValueError):
        raise ConfigError(f"bad size {size!r}: weighted sizes are [[length, weight], ...], "
                          "e.g. [[60, 7], [590, 4], [1514, 1]]") from None
    if not pairs or any(w <= 0 for _, w in pairs) or sum(w for _, w in pairs) > MAX_WEIGHT:
        raise ConfigError(f"bad size {size!r}: weights must be positive (at most {MAX_WEIGHT:,} in all)")
    return _weighted_cycle(pairs)


@contextmanager
def _about(key: str) -> Iterator[None]:
    """ConfigErrors raised inside name ``key`` (unless they name one already)."""
    try:
        yield
    except ConfigError as exc:
        if exc.argument:
            raise
        raise ConfigError(exc.reason, argument=key) from None


@dataclass
class Stream:
    """One stream of a profile, as its user writes it.

    ``packet``: a scapy packet, bytes, or a template string (``"Ether()/IP(dst='10.0.0.2')/UDP()"``,
    the safe parser of ``gen --template``). Missing Ethernet addresses and the IP source are
    filled from the interface when the stream is resolved, never by scapy's ARP.
    ``pcap``: instead of ``packet``, a pcap or pcapng file whose frames the stream sends as they
    are, in order and in a cycle, at the stream's rate (in a TOML profile, a path relative to the
    file). ``size``, ``fields``, ``vary``, ``payload`` and ``random`` don't apply to it; ``seq =
    true`` writes the sequence header over each frame's first 18 bytes of UDP/TCP payload (every
    frame must have them), fixing the checksum; without it nothing in the frames changes.
    ``size``: a frame length; ``"lo-hi"`` (walked, or drawn with ``random``); ``"imix"``;
    or weighted lengths ``[(60, 7), (590, 4), (1514, 1)]``. Frames are padded with zeros past
    the packet, and every length gets correct IP and UDP lengths and checksums.
    ``fields``: ranges as ``gen`` takes them, by name: src_mac, src_ip, dst_ip, src_port, dst_port
    (walked in order, or drawn with ``random``).
    ``vary``: any field, by scapy name or offset, and how it varies: ``{"IP.ttl": "inc:1-64",
    "Dot1Q.vlan": "random:100-199", "@22:1": "dec"}`` (``xsk.traffic.Vary`` has the forms; a
    ``Vary`` works as a value too). Computed per packet in C, checksums kept valid.
    ``payload``: what fills the frame past the packet: ``"zeros"`` (the default), ``"fixed:0xab"``,
    ``"inc"`` (00 01 02 ...), ``"random"`` (drawn once for the stream) or ``"random-per-frame"``
    (each frame one of 256 payloads drawn once, picked at random per frame; checksums kept).
    ``rate``: ``"10k"``, ``"1.5M"``, ``"2Gbit"``, ``"10Gbit L1"``, ``"50%"`` (of the link's line
    rate; see ``xsk.traffic.parse_rate``) or packets/s; or ``percent`` of the profile's
    rate; neither: as fast as the path takes it (sharing with the other unpaced streams).
    ``count`` / ``duration`` end the stream; ``start`` delays it (seconds from the run's start,
    or for a stream another's ``next`` names, from that one's end).
    ``burst``: most frames of this stream back to back when paced.
    ``bursts``: multi-burst (TRex's ``STLTXMultiBurst``): ``bursts`` bursts of ``burst`` frames
    each (at the stream's rate, or back to back unpaced), ``ibg`` seconds between two (on top of
    the stream's spacing); the stream sends ``bursts * burst`` frames (no ``count`` with it).
    ``next``: the name of the stream that starts when this one ends (TRex's ``next``): this one
    must end (``count``, ``duration`` or ``bursts``), a stream follows at most one other, and
    chains don't loop (checked when the profile is made). Stopping a stream with the
    Generator's control ends it as its count would, so the next one starts; pausing it keeps the
    next one waiting. With several queues each queue's worker runs the chain on its own share.
    ``latency``: a latency stream: a sink given the profile spins on its RX ring instead of
    sleeping in poll(), so the figures measure the path and not the sink's wake-up.
    ``port``: the port the stream leaves, in a run over several (``xsk.traffic.Port``): a port's
    name or its interface's name; None: the run's first port.
    ``id``: the stream id its sequence header carries (0..255), so that a receiver fed by several
    senders tells their streams apart (TRex calls it ``pg_id``; here it is simply the id the
    sink's per-stream results are keyed by, so the same word names both). None: the stream's
    index in its profile. Ids are unique in a profile; with ``Q`` queues the stream also uses
    ``id + W*q`` (``Profile.id_width``).
    """

    packet: Any = None
    name: str | None = None
    rate: str | float | None = None
    percent: float | None = None
    count: int | None = None
    duration: float | None = None
    size: SizeSpec = None
    fields: Mapping[str, str] | None = None
    random: bool = False
    seq: bool | None = None
    start: float = 0.0
    burst: int | None = None
    latency: bool = False
    vary: Mapping[str, str | _vary.Vary] | None = None
    payload: str | None = None
    port: str | None = None
    pcap: str | os.PathLike[str] | None = None
    bursts: int | None = None
    ibg: float = 0.0
    next: str | None = None
    id: int | None = None

    def check(self) -> None:
        """Refuse what can be refused without building the packet (ConfigError, key named)."""
        def positive(key: str, value: Any, kind: type = float) -> None:
            if value is None:
                return
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
                raise ConfigError(f"must be a {'number' if kind is float else 'whole number'}, got {value!r}",
                                  argument=key)
            if not value > 0 or (kind is float and not math.isfinite(value)):
                raise ConfigError(f"must be positive, got {value!r}", argument=key)

        for key in ("name", "port"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"must be non-empty text, got {value!r}", argument=key)
        for key in ("random", "latency", "seq"):
            value = getattr(self, key)
            if not isinstance(value, bool) and not (key == "seq" and value is None):
                raise ConfigError(f"must be true or false, got {value!r}", argument=key)
        if self.fields is not None and not isinstance(self.fields, Mapping):
            raise ConfigError(f"a table of ranges by field name, got {self.fields!r}", argument="fields")
        if self.pcap is not None:
            self._check_pcap()
        else:
            if self.packet is None or (isinstance(self.packet, (str, bytes)) and not self.packet):
                raise ConfigError("every stream needs a packet (scapy, bytes or a template string) or a pcap file",
                                  argument="packet")
            if not isinstance(self.packet, (str, bytes, bytearray, memoryview)) and not hasattr(self.packet, "build"):
                raise ConfigError(f"a scapy packet, bytes or a template string, not {type(self.packet).__name__}",
                                  argument="packet")
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int)
                                    or not 0 <= self.id < MAX_STREAMS):
            raise ConfigError(f"a stream id 0..{MAX_STREAMS - 1}, got {self.id!r}", argument="id")
        positive("count", self.count, int)
        positive("duration", self.duration)
        positive("burst", self.burst, int)
        positive("bursts", self.bursts, int)
        if self.bursts is not None:
            if self.burst is None:
                raise ConfigError(f"{self.bursts} bursts of how many frames? give burst too", argument="bursts")
            if self.count is not None:
                raise ConfigError(f"bursts sends bursts x burst frames ({self.bursts * self.burst}): leave count out",
                                  argument="bursts")
        if isinstance(self.ibg, bool) or not isinstance(self.ibg, (int, float)) or not (
                math.isfinite(self.ibg) and self.ibg >= 0):
            raise ConfigError(f"must be a number of seconds >= 0, got {self.ibg!r}", argument="ibg")
        if self.ibg and self.bursts is None:
            raise ConfigError("a gap between bursts needs bursts (and burst, the frames in each)", argument="ibg")
        if self.next is not None and (not isinstance(self.next, str) or not self.next):
            raise ConfigError(f"the name of the stream that follows this one, got {self.next!r}", argument="next")
        if isinstance(self.start, bool) or not isinstance(self.start, (int, float)) or not (
                math.isfinite(self.start) and self.start >= 0):
            raise ConfigError(f"must be a number of seconds >= 0, got {self.start!r}", argument="start")
        if self.rate is not None and self.percent is not None:
            raise ConfigError("give rate or percent, not both", argument="rate")
        if self.percent is not None:
            positive("percent", self.percent)
            if self.percent > 100:
                raise ConfigError(f"{self.percent} is over 100", argument="percent")
        if self.rate is not None and not isinstance(self.rate, str):
            positive("rate", self.rate)
        with _about("rate"):
            if isinstance(self.rate, str):
                rate_value(self.rate)  # the form; bit rates become packets/s once the sizes are known
        for key in self.fields or {}:
            if key not in FIELD_NAMES:
                raise ConfigError(f"unknown field {key!r}: one of {', '.join(FIELD_NAMES)}", argument="fields")
        with _about("fields"):
            for key, text in (self.fields or {}).items():
                if not isinstance(text, str):
                    raise ConfigError(f"{key}: a range as text, e.g. '10.0.0.1-10.0.0.9', got {text!r}")
                parser = {"src_mac": ranges.macs, "src_port": ranges.ports, "dst_port": ranges.ports}.get(key)
                parser(text) if parser else ranges.addresses(text)
        if self.vary is not None:
            with _about("vary"):
                _vary.check_vary(self.vary)
        if self.payload is not None:
            with _about("payload"):
                _vary.check_payload(self.payload)
        with _about("size"):
            table = size_table(self.size, 60)
        if int(table.min()) < 14 or int(table.max()) > MAX_FRAME:
            raise ConfigError(f"sizes run from {int(table.min())} to {int(table.max())}; frames are 14..{MAX_FRAME} "
                              "bytes", argument="size")

    @property
    def wants_seq(self) -> bool:
        """Does the stream ask for the sequence header? A packet's stream unless ``seq`` is false
        (as it always has); a capture's only when ``seq`` is true."""
        return bool(self.seq) if self.pcap is not None else self.seq is not False

    def _check_pcap(self) -> None:
        """A capture stream: the file is there, and nothing that shapes a template is given."""
        if self.packet is not None:
            raise ConfigError("give packet or pcap, not both", argument="pcap")
        if not isinstance(self.pcap, (str, os.PathLike)) or not str(self.pcap):
            raise ConfigError(f"a capture file's path, got {self.pcap!r}", argument="pcap")
        for key in ("size", "fields", "vary", "payload"):
            if getattr(self, key) is not None:
                raise ConfigError(f"{key} doesn't apply to a capture's frames, which are sent as they are "
                                  "(leave it out, or give a packet instead)", argument="pcap")
        if self.random:
            raise ConfigError("random doesn't apply to a capture's frames, which are sent in order", argument="pcap")
        path = Path(self.pcap)
        if not path.is_file():
            raise ConfigError(f"{path}: no such file" if not path.exists() else f"{path}: not a file",
                              argument="pcap")

    def pps(self, mean_len: float, profile_rate: str | float | None, line_bps: float | None = None) -> float | None:
        """Packets per second this stream asks for (None: unpaced), given its mean frame length
        (and the link's line rate, which a rate given as a percentage of it needs)."""
        if self.percent is not None:
            if profile_rate is None:
                raise ConfigError("a percent needs the profile's total rate (rate = ... at the top of the file, "
                                  "or a total rate given where the profile is sent)", argument="percent")
            total = float(profile_rate) if not isinstance(profile_rate, str) else parse_rate(profile_rate, mean_len,
                                                                                            line_bps)
            return total * self.percent / 100
        if self.rate is None:
            return None
        return parse_rate(self.rate, mean_len, line_bps) if isinstance(self.rate, str) else float(self.rate)


def _pcaps_from(base: Path, streams: Sequence[Any]) -> list[Any]:
    """The streams of a profile file, their relative ``pcap`` paths made relative to the file's
    directory (as in a TOML profile)."""
    out = []
    for s in streams:
        if isinstance(s, Stream) and isinstance(s.pcap, (str, os.PathLike)) and not Path(s.pcap).is_absolute():
            s = dataclasses.replace(s, pcap=str(base / s.pcap))
        out.append(s)
    return out


class Profile:
    """The streams of one run. ``rate`` is the total that ``percent`` streams take shares of;
    ``source`` names the file in error messages."""

    def __init__(self, streams: Stream | Sequence[Stream], *, rate: str | float | None = None,
                 source: str = "<profile>") -> None:
        self.streams: list[Stream] = [streams] if isinstance(streams, Stream) else list(streams)
        self.rate = rate
        self.source = source
        if not self.streams:
            raise ConfigError(f"{self.source}: a profile needs at least one stream")
        if len(self.streams) > MAX_STREAMS:
            raise ConfigError(f"{self.source}: {len(self.streams)} streams; at most {MAX_STREAMS}")
        if self.rate is not None:
            try:
                if isinstance(self.rate, str):
                    rate_value(self.rate)
                elif isinstance(self.rate, bool) or not self.rate > 0:
                    raise ConfigError(f"must be positive, got {self.rate!r}")
            except ConfigError as exc:
                raise ConfigError(f"{self.source}: rate: {exc.reason}") from None
        names: set[str] = set()
        for i, s in enumerate(self.streams):
            if not isinstance(s, Stream):
                raise ConfigError(f"{self.source}: stream {i} is a {type(s).__name__}, not an xsk.traffic.Stream")
            if s.name is None:
                s.name = f"stream{i}"
            try:
                s.check()
            except ConfigError as exc:
                raise self.error(i, None, exc) from None
            if s.name in names:
                raise self.error(i, "name", f"{s.name!r} names two streams")
            names.add(s.name)
        self._check_chains()
        self._check_ids()
        share = sum(s.percent or 0 for s in self.streams)
        if share > 100 + 1e-9:
            raise ConfigError(f"{self.source}: percent: the streams' percents add up to {share:g}, over 100")

    def _check_chains(self) -> None:
        """``next`` names a stream of the profile, other than itself, that no other stream names;
        the stream naming it ends; and no chain comes back to where it started."""
        index = {s.name: i for i, s in enumerate(self.streams)}
        follows: dict[int, int] = {}
        for i, s in enumerate(self.streams):
            if s.next is None:
                continue
            if s.next not in index:
                raise self.error(i, "next", f"no stream {s.next!r} in the profile (its streams: "
                                 f"{', '.join(str(t.name) for t in self.streams)})")
            j = index[s.next]
            if j == i:
                raise self.error(i, "next", "a stream can't follow itself (a count or duration ends it)")
            if j in follows:
                raise self.error(i, "next", f"{s.next!r} already follows {self.streams[follows[j]].name!r}: a "
                                 "stream starts after one other")
            if s.count is None and s.duration is None and s.bursts is None:
                raise self.error(i, "next", f"this stream never ends (no count, duration or bursts), so {s.next!r} "
                                 "would never start")
            follows[j] = i
        for i in range(len(self.streams)):
            chain, at = [i], self.streams[i].next
            while at is not None:
                j = index[at]
                if j == i:
                    names = " -> ".join(str(self.streams[k].name) for k in [*chain, i])
                    raise self.error(i, "next", f"the chain {names} comes back to where it started: chains can't "
                                     "loop")
                if j in chain:
                    break  # a loop that does not pass through i: reported from one of its own streams
                chain.append(j)
                at = self.streams[j].next

    def _check_ids(self) -> None:
        """No two streams share an id (an explicit one, or a stream's index when it gives none)."""
        owner: dict[int, int] = {}
        for i, sid in enumerate(self.ids):
            if sid in owner:
                j = owner[sid]
                other = self.streams[j]
                how = "its id" if other.id is not None else "its index: a stream without an id is numbered by its place"
                raise self.error(i, "id", f"id {sid} is also stream {j}'s ({other.name!r}, {how}); give each "
                                 "stream its own id")
            owner[sid] = i

    @property
    def ids(self) -> list[int]:
        """Each stream's id, in stream order: its ``id``, or its index when it gives none."""
        return [i if s.id is None else s.id for i, s in enumerate(self.streams)]

    @property
    def id_width(self) -> int:
        """The largest stream id plus one: a stream sent from queue index ``q`` carries ``id + id_width * q``
        (``len(streams)`` when no stream gives an id, as before ids could be given)."""
        return max(self.ids) + 1

    def predecessor(self, index: int) -> int | None:
        """The stream whose ``next`` names stream ``index`` (it starts when that one ends), if any."""
        name = self.streams[index].name
        return next((i for i, s in enumerate(self.streams) if s.next is not None and s.next == name), None)

    def uses_line_rate(self) -> bool:
        """Is a rate given as a percentage of the link's line rate (``"50%"``)?"""
        rates = [self.rate, *(s.rate for s in self.streams)]
        return any(isinstance(r, str) and rate_value(r).unit == "percent" for r in rates)

    def error(self, index: int, key: str | None, message: str | ConfigError) -> ConfigError:
        """A ConfigError naming the file, the stream (index and name) and the key."""
        if isinstance(message, ConfigError):
            key, message = key or message.argument, message.reason
        name = self.streams[index].name if index < len(self.streams) else None
        where = f"{self.source}: stream {index}" + (f" ({name!r})" if name else "") + (f": {key}" if key else "")
        return ConfigError(f"{where}: {message}")

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """A profile from a TOML file, or from a Python file that defines ``profile`` (a Profile,
        a Stream or a list of Streams). Only that file runs; nothing else is imported for it."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{p}: can't read the profile: {exc.strerror or exc}") from None
        if p.suffix == ".py":
            return cls._from_python(p)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{p}: not a TOML profile: {exc}") from None
        return cls.from_toml(text, source=str(p), base=p.parent)

    @classmethod
    def _from_python(cls, p: Path) -> Profile:
        try:
            namespace = runpy.run_path(str(p), run_name="__xsk_profile__")
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}", argument=exc.argument) from None
        except Exception as exc:  # the user's file: say where it failed, not our traceback
            raise ConfigError(f"{p}: the profile file raised {type(exc).__name__}: {exc}") from None
        if "profile" not in namespace:
            raise ConfigError(f"{p}: defines no `profile` (a Profile, a Stream or a list of Streams)")
        value = namespace["profile"]
        if isinstance(value, Profile):
            return cls(_pcaps_from(p.parent, value.streams), rate=value.rate, source=str(p))
        if isinstance(value, (Stream, list, tuple)):
            return cls(_pcaps_from(p.parent, [value] if isinstance(value, Stream) else list(value)), source=str(p))
        raise ConfigError(f"{p}: `profile` is a {type(value).__name__}; make it a Profile, a Stream or a list")

    @classmethod
    def from_toml(cls, text: str, source: str = "<profile>", base: str | Path | None = None) -> Profile:
        """A profile from TOML text (``source`` names it in errors; ``base``: the directory relative
        ``pcap`` paths start from, default the current one)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not a TOML profile: {exc}") from None
        return cls.from_dict(doc, source=source, base=base)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "<profile>", base: str | Path | None = None) -> Profile:
        """A profile from TOML's structure: ``rate`` at the top, and ``[[stream]]`` tables (a
        relative ``pcap`` path starts from ``base``)."""
        unknown = set(doc) - {"rate", "stream"}
        if unknown:
            raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r} at the top (known: rate, stream)")
        tables = doc.get("stream")
        if not isinstance(tables, list) or not tables:
            raise ConfigError(f"{source}: no streams: add at least one [[stream]] table")
        keys = [f.name for f in fields(Stream)]
        streams = []
        for i, t in enumerate(tables):
            name = t.get("name") if isinstance(t, dict) else None
            where = f"{source}: stream {i}" + (f" ({name!r})" if name else "")
            if not isinstance(t, dict):
                raise ConfigError(f"{where}: expected a [[stream]] table")
            for key in t:
                if key not in keys:
                    raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(keys)})")
            if "packet" not in t and "pcap" not in t:
                raise ConfigError(f"{where}: packet: every stream needs one (or a pcap file)")
            if isinstance(t.get("pcap"), str) and base is not None:
                t = {**t, "pcap": str(Path(base) / t["pcap"])}
            streams.append(Stream(**t))
        return cls(streams, rate=doc.get("rate"), source=source)


__all__ = ["FIELD_NAMES", "IMIX", "MAX_STREAMS", "Profile", "Stream", "size_table"]
