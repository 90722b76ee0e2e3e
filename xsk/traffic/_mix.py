"""A profile's streams made into frames: resolved once, then scheduled and patched in C per batch.

``resolve`` turns each ``Stream`` of a ``Profile`` into a ``StreamPlan``: the packet's bytes
(Ethernet and IP source filled in from the interface where the packet leaves them out), the
template padded with zeros to the stream's largest size, its size cycle, field values and
rate. Plans are plain data, so worker processes get them pickled.

``Mix`` is one worker's scheduler over the plans (``struct xsk_mix``, mix.c): it owns the C
structs, the padded templates and value arrays they point to, and a tag per UMEM frame saying
which stream's template the frame holds (a frame is rewritten only when it changes stream).
Each batch is one ``due`` and one ``fill`` call; frames the socket did not take are given back
with ``unsend`` so every stream's sequence numbers stay dense. Given a ``Control`` (the
Generator's shared commands: ``xsk.traffic._control``), ``wait`` applies pause, resume, stop and
rate commands between batches (``apply_commands``).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._binding import ffi, lib
from ..errors import ConfigError
from . import _ranges as ranges
from . import _vary
from ._control import MAX_COMMANDS, PAUSE, RATE, RUN, STOP, Control
from ._fields import IPPROTO_UDP, SEQ_LEN, Counter, PacketPlan, layout, varying_fields
from ._limits import check_mtu, umem_fit
from ._pacer import CATCH_UP
from ._pcapstream import CaptureRows, capture_rows
from ._profile import Profile, Stream, _about, size_table

if TYPE_CHECKING:
    from .._batch import Batch
    from .._umem import Umem

NO_LIMIT = (1 << 64) - 1
NEVER = (1 << 63) - 1


@dataclass
class StreamPlan:
    """One stream, resolved: everything a worker needs to send it (picklable)."""

    index: int
    name: str
    packet: bytes           # the packet as built, before padding
    frame: bytes            # the template: packet padded with zeros to the largest size
    sizes: np.ndarray       # uint32 frame lengths, cycled (or drawn when sizes_random)
    sizes_random: bool
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    counters: list[Counter] = field(default_factory=list)  # fields computed per packet (``vary``)
    random: bool = False
    seq: bool = True
    pps: float | None = None
    count: int | None = None
    duration: float | None = None
    start: float = 0.0
    burst: int = 1
    seq_start: int = 0      # the first packet's sequence number (and index into the field values)
    stream_id: int | None = None  # a fixed id on every queue (gen's one-stream runs: the queue); None: see below
    id: int | None = None  # the profile's id for the stream (``Stream.id``, else its index); None: ``index``
    id_width: int = 0  # the profile's ``id_width``: queue index q sends ``id + id_width * q``; 0: ``len(plans)``
    port: str | None = None  # the port the stream names (a run over several ports; ``xsk.traffic._ports``)
    rows: CaptureRows | None = None  # a capture's frames, sent in a cycle instead of the template
    random_from: int | None = None  # a payload drawn per frame from this offset on (``payload="random-per-frame"``)
    bursts: int | None = None  # multi-burst: this many bursts of ``burst`` frames, ``ibg`` s apart
    ibg: float = 0.0
    after: int | None = None  # chained: the stream (index) whose end starts this one, ``start`` s later

    @property
    def mean_size(self) -> float:
        return float(self.sizes.mean())

    def wire_id(self, q: int, nplans: int) -> int:
        """The id this stream's sequence header carries from queue index ``q`` (of a worker given
        ``nplans`` plans): its fixed ``stream_id``, else ``id + id_width * q``."""
        if self.stream_id is not None:
            return self.stream_id
        return (self.index if self.id is None else self.id) + (self.id_width or nplans) * q


def id_width(plans: list[StreamPlan]) -> int:
    """How many ids one queue's worker uses for ``plans`` (their profile's ``id_width``)."""
    return max((p.id_width or len(plans) for p in plans), default=0)


def _packet_bytes(stream: Stream, src_mac: str, dst_mac: str, src_ip: str | None) -> tuple[bytes, Any]:
    """The stream's packet as bytes, and the scapy packet when there is one (None for bytes)."""
    packet = stream.packet
    if isinstance(packet, (bytes, bytearray, memoryview)):
        return bytes(packet), None
    from scapy.packet import Packet

    from . import _template as template

    if isinstance(packet, str):
        packet = template.parse(packet)
    if not isinstance(packet, Packet):
        raise ConfigError(f"a scapy packet, bytes or a template string, not {type(packet).__name__}",
                          argument="packet")
    pkt: Any = template.addressed(packet.copy(), src_mac=src_mac, dst_mac=dst_mac, src_ip=src_ip or "192.0.2.1")
    try:
        return bytes(pkt), pkt
    except Exception as exc:  # scapy raises many kinds for fields it cannot encode
        raise ConfigError(f"scapy cannot build the packet: {exc}", argument="packet") from None


def _with_seq_room(raw: bytes, packet: Any, want_seq: bool | None) -> tuple[bytes, bool]:
    """The packet grown (zero payload) to hold the sequence header where it goes, and whether it does."""
    lay = layout(raw)
    default = lay.l4_proto == IPPROTO_UDP
    if want_seq is False or (want_seq is None and not default) or lay.payload is None:
        if want_seq:
            raise ConfigError("a sequence header goes in a UDP or TCP payload, and this packet has none: "
                              "seq = false sends it as it is", argument="seq")
        return raw, False
    short = lay.payload + SEQ_LEN - len(raw)
    if short <= 0:
        return raw, True
    if packet is None:
        raise ConfigError(f"the packet needs {SEQ_LEN} bytes of UDP/TCP payload for the sequence header "
                          f"({short} more); give a longer packet or seq = false", argument="seq")
    from scapy.packet import Raw

    return bytes(packet / Raw(bytes(short))), True


def _field_values(stream: Stream) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, text in (stream.fields or {}).items():
        if key == "src_mac":
            out[key] = ranges.macs(text)
        elif key.endswith("_port"):
            out[key] = ranges.ports(text)
        else:
            out[key] = ranges.addresses(text)[1]
    return out


def resolve(profile: Profile, *, src_mac: str, dst_mac: str = "ff:ff:ff:ff:ff:ff", src_ip: str | None = None,
            frame_size: int = 2048, line_bps: float | None = None,
            indexes: Collection[int] | None = None) -> list[StreamPlan]:
    """Every stream of ``profile`` (or those at ``indexes``: a port's, in a run over several)
    built and checked against ``frame_size`` (errors name the stream); ``line_bps``: the link's
    line rate, for rates given as a percentage of it."""
    plans = []
    ids, width = profile.ids, profile.id_width
    for i, s in enumerate(profile.streams):
        if indexes is not None and i not in indexes:
            continue
        try:
            if s.pcap is not None:
                plan = _capture_plan(i, s, profile, frame_size, line_bps)
                plans.append(plan)
                continue
            given, scapy_packet = _packet_bytes(s, src_mac, dst_mac, src_ip)
            raw, seq = _with_seq_room(given, scapy_packet, s.wants_seq)
            sizes = size_table(s.size, len(raw))
            smallest, largest = int(sizes.min()), int(sizes.max())
            if smallest < len(raw):
                raise ConfigError(f"size {smallest} is smaller than the stream's {len(raw)}-byte packet"
                                  + (" (with its sequence header)" if seq else ""), argument="size")
            if largest > frame_size:
                raise ConfigError(f"size {largest} does not fit a {frame_size}-byte UMEM frame: "
                                  f"{umem_fit(largest, frame_size)}", argument="size")
            values = _field_values(s)
            with _about("payload"):
                frame = _vary.fill_payload(raw + bytes(largest - len(raw)), len(given), s.payload, seed=i)
            with _about("vary"):
                counters, frame = _vary.counters(frame, s.vary)
            plan = StreamPlan(i, s.name or f"stream{i}", frame[: len(raw)], frame, sizes,
                              sizes_random=bool(s.random and isinstance(s.size, str) and "-" in s.size),
                              fields=values, counters=counters, random=s.random, seq=seq, start=float(s.start),
                              count=s.count, duration=s.duration, port=s.port,
                              random_from=random_from(raw, len(given), seq) if _vary.per_frame(s.payload) else None)
            plan.pps = s.pps(plan.mean_size, profile.rate, line_bps)
            plan.burst = s.burst or (max(1, min(64, int((plan.pps or 0) / 1000) or 1)) if plan.pps else 64)
            _patch_plan(plan)  # field offsets and widths checked now, not in a worker
        except ConfigError as exc:
            raise profile.error(i, None, exc) from None
        plans.append(plan)
    for plan in plans:  # (a port's streams only, in a run over several: indexes stay the profile's)
        s = profile.streams[plan.index]
        plan.id, plan.id_width = ids[plan.index], width
        plan.after = profile.predecessor(plan.index)
        if s.bursts is not None:
            assert s.burst is not None  # Stream.check: bursts come with burst
            plan.bursts, plan.ibg, plan.burst, plan.count = s.bursts, float(s.ibg), s.burst, s.bursts * s.burst
    return plans


def random_from(frame: bytes, given: int, seq: bool) -> int:
    """Where a payload drawn per frame starts: past the packet as given and the sequence header."""
    lay = layout(frame)
    return max(given, lay.payload + SEQ_LEN) if seq and lay.payload is not None else given


def _capture_plan(i: int, s: Stream, profile: Profile, frame_size: int, line_bps: float | None) -> StreamPlan:
    """A stream of a capture's frames (``xsk.traffic._pcapstream``): its lengths are the sizes,
    its longest frame stands for the packet (MTU and VLAN checks, the broadcast warning)."""
    assert s.pcap is not None
    rows = capture_rows(s.pcap, seq=s.wants_seq, frame_size=frame_size)
    longest = int(np.argmax(rows.lens))
    packet = bytes(rows.frames[longest, : int(rows.lens[longest])])
    plan = StreamPlan(i, s.name or f"stream{i}", packet, packet, rows.lens.copy(), sizes_random=False,
                      seq=s.wants_seq, start=float(s.start), count=s.count, duration=s.duration, rows=rows,
                      port=s.port)
    plan.pps = s.pps(plan.mean_size, profile.rate, line_bps)
    plan.burst = s.burst or (max(1, min(64, int((plan.pps or 0) / 1000) or 1)) if plan.pps else 64)
    return plan


def _patch_plan(plan: StreamPlan) -> PacketPlan | None:
    if plan.rows is not None:
        return None  # a capture's frames: mix.c writes their sequence headers itself
    varying = bool((plan.sizes != len(plan.packet)).any())
    fields = varying_fields(plan.frame, **plan.fields)
    return PacketPlan(plan.frame, fields, seq=plan.seq, random=plan.random, varying_length=varying,
                      seed=0x9E3779B97F4A7C15 ^ plan.index, counters=list(plan.counters),
                      min_len=int(plan.sizes.min()), random_from=plan.random_from)


def check_plans_mtu(ifname: str, mtu: int | None, plans: list[StreamPlan]) -> None:
    """Refuse streams whose longest frame ``ifname``'s ``mtu`` does not let through (a capture's
    frames are its own: the message then asks for a larger MTU, not smaller sizes)."""
    check_mtu(ifname, mtu, [(p.name, int(p.sizes.max()), p.packet) for p in plans if p.rows is None])
    check_mtu(ifname, mtu, [(p.name, int(p.sizes.max()), p.packet) for p in plans
                            if p.rows is not None], sized=False)


CATCH_UP_HORIZON = 0.010
"""Seconds of catching up at ``catch_up`` times the rate one wake-up may send (see catch_up_depth)."""
CATCH_UP_MAX = 64
"""Frames one wake-up may send to catch up, at most: one batch, never a line-rate burst."""


def catch_up_depth(burst: int, pps: float | None, catch_up: float = CATCH_UP) -> float:
    """How deep a stream's token bucket is: its ``burst``, or what ``catch_up`` times its rate sends
    in ``CATCH_UP_HORIZON`` (at most ``CATCH_UP_MAX`` frames) if that is more. A sender that wakes up
    late (a busy machine: 5-10 ms) then sends what is due at up to twice the rate, instead of
    ``burst`` frames a wake-up: with a bucket of one frame, a 400 pps stream woken every 5 ms
    reached 200 pps."""
    if pps is None:
        return float(burst)
    return float(max(burst, min(CATCH_UP_MAX, int(catch_up * pps * CATCH_UP_HORIZON))))


class Mix:
    """One worker's C scheduler over the plans; the queue index ``q`` of ``nqueues`` sets the
    stream ids (``StreamPlan.wire_id``: the profile's id ``+ id_width * q``) and this worker's
    share of rates and counts."""

    def __init__(self, plans: list[StreamPlan], umem: Umem, capacity: int, *, q: int = 0, nqueues: int = 1,
                 catch_up: float = CATCH_UP, control: Control | None = None, slot: int | None = None,
                 active: Collection[int] | None = None) -> None:
        width = id_width(plans)
        if width * nqueues > 256:
            raise ConfigError(f"{len(plans)} streams (ids up to {width - 1}) on {nqueues} queues need "
                              f"{width * nqueues} stream ids; at most 256: fewer queues, or lower ids")
        self.plans = plans
        self.umem = umem
        self._patchers = [_patch_plan(p) for p in plans]
        self._keep: list[Any] = []
        self._c_streams = ffi.new("struct xsk_mix_stream[]", len(plans))
        for i, (p, pp) in enumerate(zip(plans, self._patchers, strict=True)):
            c = self._c_streams[i]
            # the template, with the sequence magic in place (a capture's: its longest frame, unused)
            frame = np.frombuffer(p.frame if pp is None else pp.frame, dtype=np.uint8).copy()
            sizes = np.ascontiguousarray(p.sizes, dtype=np.uint32)
            self._keep += [frame, sizes]
            c.plan = ffi.NULL if pp is None else pp._c.c
            c.rows = ffi.NULL if p.rows is None else self._c_rows(p.rows)
            c.frame = ffi.from_buffer("uint8_t[]", frame)
            c.frame_len = len(frame)
            c.sizes = ffi.from_buffer("uint32_t[]", sizes)
            c.nsizes = len(sizes)
            c.sizes_random = 1 if p.sizes_random else 0
            c.id = p.wire_id(q, len(plans))
            c.seq0 = p.seq_start
            share = None if p.count is None else p.count // nqueues + (1 if q < p.count % nqueues else 0)
            if p.bursts is not None:  # each queue sends its share of every burst
                c.burst_len = p.burst // nqueues + (1 if q < p.burst % nqueues else 0)
                c.gap_ns = int(p.ibg * 1e9)
                share = p.bursts * int(c.burst_len)
            c.limit = NO_LIMIT if share is None else share
            if active is not None and i not in active:
                c.limit = 0  # another port's stream: known here only so that commands keep their indexes
            c.after = -1 if p.after is None else p.after
            c.delay_ns = int(p.start * 1e9)
            c.length_ns = -1 if p.duration is None else int(p.duration * 1e9)
            c.start_ns = NEVER if p.after is not None else int(p.start * 1e9)
            c.stop_ns = NEVER if p.duration is None or p.after is not None else int((p.start + p.duration) * 1e9)
            c.interval_ns = 0.0 if p.pps is None else 1e9 * nqueues / p.pps
            c.depth = c.tokens = catch_up_depth(p.burst, None if p.pps is None else p.pps / nqueues, catch_up)
            c.catch_up = catch_up
            c.rng = (0x2545F4914F6CDD1D ^ (i + 1) * 0x9E3779B97F4A7C15) & NO_LIMIT or 1
        self.tags = np.zeros(umem.frame_count, dtype=np.uint16)
        self._which = np.zeros(capacity, dtype=np.uint8)
        self._lens = np.zeros(capacity, dtype=np.uint32)
        m = ffi.new("struct xsk_mix *")
        m.streams, m.nstreams = self._c_streams, len(plans)
        m.frame_size = umem.frame_size
        m.tags, m.nframes = ffi.from_buffer("uint16_t[]", self.tags), len(self.tags)
        m.which, m.lens, m.cap = ffi.from_buffer("uint8_t[]", self._which), ffi.from_buffer(
            "uint32_t[]", self._lens), capacity
        self._control = control
        self._q, self._nqueues = q, nqueues
        self._slot = q if slot is None else slot  # this worker's row of the Control's marks
        self._active = None if active is None else set(active)
        self._paused: dict[int, int] = {}  # paused stream -> its start_ns before the pause
        if control is not None:
            self._version = ffi.from_buffer("int64_t[]", control.version)
            m.ctl_version = self._version
        self.c = m
        self.capacity = capacity
        self.t0_ns: int | None = None
        self.last_ts_ns = 0  # the transmit time the last fill wrote

    def _c_rows(self, rows: CaptureRows) -> Any:
        """``struct xsk_mix_rows`` over a capture's rows (kept alive with the Mix)."""
        r = ffi.new("struct xsk_mix_rows *")
        frames = np.ascontiguousarray(rows.frames, dtype=np.uint8)
        r.frames, r.stride = ffi.from_buffer("uint8_t[]", frames), frames.shape[1]
        self._keep += [r, frames]
        if rows.seq_at is not None:
            assert rows.csum_at is not None and rows.base is not None and rows.udp is not None
            arrays = [np.ascontiguousarray(rows.seq_at, dtype=np.int32),
                      np.ascontiguousarray(rows.csum_at, dtype=np.int32),
                      np.ascontiguousarray(rows.base, dtype=np.uint64), np.ascontiguousarray(rows.udp, dtype=np.uint8)]
            self._keep += arrays
            r.seq_at = ffi.from_buffer("int32_t[]", arrays[0])
            r.csum_at = ffi.from_buffer("int32_t[]", arrays[1])
            r.base = ffi.from_buffer("uint64_t[]", arrays[2])
            r.udp = ffi.from_buffer("uint8_t[]", arrays[3])
        return r

    def now(self) -> int:
        """The run's clock, ns since the first call (the schedule's zero)."""
        t = time.monotonic_ns()
        if self.t0_ns is None:
            self.t0_ns = t
        return t - self.t0_ns

    def due(self, now_ns: int) -> int:
        return int(lib.xsk_mix_due(self.c, now_ns, self.capacity))

    def fill(self, batch: Batch, now_ns: int) -> int:
        """The batch's frames (all due: see ``due``) made into the streams' next packets; their
        sequence headers get the transmit time ``last_ts_ns`` (CLOCK_REALTIME, now)."""
        umem = batch.umem
        self.last_ts_ns = time.time_ns()
        return int(lib.xsk_mix_fill(self.c, umem.area_pointer(), batch.c_addrs(), batch.c_lens(), len(batch),
                                    now_ns, self.last_ts_ns))

    def last_streams(self, n: int) -> np.ndarray:
        """The stream (index into ``plans``) of each of the first ``n`` frames of the last fill."""
        return self._which[:n]

    def unsend(self, sent: int, filled: int) -> None:
        lib.xsk_mix_unsend(self.c, sent, filled)

    def next_ns(self, now_ns: int) -> int:
        """When the next packet falls due (>= now), or -1 when every stream has finished."""
        return int(lib.xsk_mix_next_ns(self.c, now_ns))

    def wait(self, now_ns: int) -> bool:
        """Sleep (then spin) until the next packet is due; False when every stream has finished.
        With a ``Control``: commands waiting are applied first, a paused stream keeps the run
        going, and no sleep is longer than a millisecond (commands take effect within one)."""
        longest = 0.05
        if self._control is not None:
            if int(self._control.version[0]) != int(self.c.ctl_seen):
                self.apply_commands(now_ns)
                return True
            longest = 0.001
        at = self.next_ns(now_ns)
        if at < 0:
            if not self._waiting_paused(now_ns):
                return False
            at = now_ns + 1_000_000
        gap = (at - now_ns) / 1e9
        if gap > 0.0005:
            time.sleep(min(gap - 0.0003, longest))
        else:
            while self.now() < at:
                pass
        return True

    def _waiting_paused(self, now_ns: int) -> bool:
        """A paused stream that could still send once resumed."""
        for i in self._paused:
            c = self._c_streams[i]
            if int(c.sent) < int(c.limit) and now_ns < int(c.stop_ns):
                return True
        return False

    def apply_commands(self, now_ns: int) -> None:
        """Apply the Control's commands not applied yet, in order, each marked with its stream's
        frames sent so far (see ``xsk.traffic._control``). A paused stream's start moves to
        ``NEVER``; resumed, or given a new rate, its schedule restarts from now (no catching up on
        the time it was paused or at its old rate); stopped, its limit is what it has sent."""
        ctl = self._control
        assert ctl is not None
        version = int(ctl.version[0])
        for v in range(int(self.c.ctl_seen) + 1, version + 1):
            i, op, value = (int(ctl.commands[3 * (v - 1)]), int(ctl.commands[3 * (v - 1) + 1]),
                            float(ctl.commands[3 * (v - 1) + 2]))
            if not 0 <= i < len(self.plans):
                continue
            c = self._c_streams[i]
            ctl.marks[self._slot * MAX_COMMANDS + v - 1] = int(c.sent) + 1
            if op == PAUSE and i not in self._paused:
                self._paused[i] = int(c.start_ns)
                c.start_ns = NEVER
                c.held = 1  # a chained stream still waiting keeps waiting
            elif op == RUN and i in self._paused:
                c.held = 0
                self._restart(c, self._paused.pop(i), now_ns)
            elif op == STOP:
                c.limit = int(c.sent)  # finished: a stream chained after it starts
                c.held = 0
                self._paused.pop(i, None)
            elif op == RATE:
                c.interval_ns = 0.0 if value <= 0 else 1e9 * self._nqueues / value
                depth = float(max(1, min(64, int(value / 1000) or 1))) if value > 0 else 64.0
                c.depth = depth
                c.tokens = min(float(c.tokens), depth)
                if i in self._paused:
                    continue  # the new rate starts at the resume
                self._restart(c, int(c.start_ns), now_ns)
        self.c.ctl_seen = version

    @staticmethod
    def _restart(c: Any, start_ns: int, now_ns: int) -> None:
        """The stream's schedule from ``now_ns`` on (its packet ``sent`` due now, the gaps of the
        bursts before it counted), unless it has not started yet."""
        if now_ns < start_ns:
            c.start_ns = start_ns
        else:
            sent, per = int(c.sent), int(c.burst_len)
            gaps = (sent // per) * int(c.gap_ns) if per else 0
            c.start_ns = int(now_ns - sent * float(c.interval_ns) - gaps)
            c.refilled_ns = now_ns

    def sent_bytes(self) -> int:
        """Bytes given out so far, over every stream."""
        return sum(int(self._c_streams[i].bytes) for i in range(len(self.plans)))

    def results(self) -> list[dict[str, Any]]:
        """Per stream so far: name, id, packets, bytes, the span they were given out over (s), the
        asked rate of this worker's share (pps, None: unpaced); ``"active": False`` for a stream
        another port sends (in a run over several ports)."""
        out = []
        for i, p in enumerate(self.plans):
            c = self._c_streams[i]
            if self._active is not None and i not in self._active:
                out.append({"name": p.name, "id": int(c.id), "seq": p.seq, "packets": 0, "bytes": 0, "first_s": None,
                            "last_s": None, "asked_pps": None, "active": False})
                continue
            out.append({"name": p.name, "id": int(c.id), "seq": p.seq, "packets": int(c.sent), "bytes": int(c.bytes),
                        "first_s": int(c.first_ns) / 1e9 if c.sent else None,
                        "last_s": int(c.last_ns) / 1e9 if c.sent else None,
                        "asked_pps": None if c.interval_ns <= 0 else 1e9 / float(c.interval_ns)})
        return out


__all__ = ["Mix", "StreamPlan", "check_plans_mtu", "id_width", "resolve"]
