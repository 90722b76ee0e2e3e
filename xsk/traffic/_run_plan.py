"""A generator run planned from the values of its options (what ``xsk gen`` takes).

``plan(ifname, ...)`` checks the options, builds the packet(s) once and picks the engine; its
result, a :class:`GenConfig`, is everything a worker needs (plain, picklable data: workers may be
other processes), and ``xsk.traffic._generator.run`` sends it. The packets come from one of:

* the packet options (addresses, ports and their ranges, size, VLAN, TCP, a scapy ``template``):
  one frame and its varying fields, sent as a one-stream profile (stream ``stream0``);
* ``pcap``: a capture's frames, sent as they are in a cycle;
* ``profile``: a traffic profile's streams (``xsk.traffic._profile``), resolved here.

Everything wrong is a ConfigError raised here, before any worker starts; a message names a
setting by its keyword (``size=3000``, ``engine='afxdp'``), as the command line's option when
the command line prints it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import link
from .. import netns as netns_mod
from .. import pcap as pcap_mod
from .._socket import Mode
from ..errors import ConfigError
from . import _ranges as ranges
from . import _template as template_mod
from . import _vary
from ._fields import IPPROTO_UDP, SEQ_LEN, Counter, Field, PacketPlan, layout, varying_fields
from ._limits import check_mtu, umem_fit
from ._mix import StreamPlan, check_plans_mtu, random_from, resolve
from ._pacer import line_rate, parse_rate, rate_value
from ._profile import Profile

ENGINES = ("afxdp", "xdp", "auto")
# the options that make the packet: none of them goes with a profile, whose streams make theirs
PACKET_OPTIONS = ("template", "pcap", "src_mac", "src_ip", "dst_ip", "src_port", "dst_port", "size", "vlan", "tcp",
                  "random", "seq", "vary", "payload")


@dataclass
class GenConfig:
    """Everything a worker needs, picklable (workers may be separate processes)."""

    ifname: str
    netns: str | None
    mode: Mode
    batch: int
    frame_size: int
    frames: int
    ring_size: int = 2048
    frame: bytes = b""
    pcap_frames: list[bytes] = field(default_factory=list)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    counters: list[Counter] = field(default_factory=list)  # fields computed per packet (vary=)
    random_from: int | None = None  # where a payload drawn per frame starts (payload="random-per-frame")
    seq: bool = False
    seq_start: int = 0
    random: bool = False
    count: int | None = None
    duration: float | None = None
    pps: float | None = None
    burst: int = 0
    engine: str = "afxdp"
    verify_ledger: bool = False
    plans: list[StreamPlan] = field(default_factory=list)  # the streams, resolved (a profile's, or the one)
    one_stream: bool = False  # plans is the packet options' one stream (its id: the queue number)
    from_profile: bool = False  # plans are a profile's streams
    queues: list[int] = field(default_factory=list)
    tx_timestamps: bool = False  # the kernel's completion timestamp of every packet (TX metadata)


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"must be positive, got {value}", argument=name)


def plan(ifname: str, *, netns: str | None = None, mode: Mode = "auto", batch: int = 256, frame_size: int = 2048,
         frames: int = 4096, ring_size: int = 2048, queues: list[int] | None = None, count: int | None = None,
         duration: float | None = None, rate: str | None = None, burst: int = 0, engine: str = "afxdp",
         profile: str | None = None, pcap: str | None = None, template: str | None = None,
         dst_mac: str | None = None, src_mac: str | None = None, src_ip: str | None = None, dst_ip: str | None = None,
         src_port: str | None = None, dst_port: str | None = None, size: int | None = None, vlan: int | None = None,
         tcp: bool = False, random: bool = False, seq: bool | None = None, seq_start: int = 0,
         vary: Mapping[str, str | _vary.Vary] | None = None, payload: str | None = None,
         tx_timestamps: bool = False, verify_ledger: bool = False) -> GenConfig:
    """Check the options and build the packet(s); ConfigError for anything wrong.

    ``queues``: the queues to send from, a worker each (default [0]). ``rate``: ``100k``, ``1.5M``
    (packets/s), ``2Gbit`` (bits/s), ``10Gbit L1`` (on the wire) or ``50%`` (of the line rate; see
    ``xsk.traffic.parse_rate``); with a profile, the total its percent streams share.
    ``burst``: the most packets sent back to back when paced (0: from the rate). ``engine``:
    "afxdp" (a socket), "xdp" (the kernel transmits copies of one template, see
    ``xsk.traffic._xdpgen``) or "auto" (zero-copy AF_XDP where the driver has it, else xdp where
    it can make the traffic, else afxdp). ``seq``: the sequence header in each packet (None: for
    UDP). Ranges (``src_port="1000-1999"``) make varying fields, in order or at ``random``.
    ``vary``: any field by scapy name or offset and how it varies (``{"IP.ttl": "inc:1-64"}``, see
    ``xsk.traffic.Vary``); ``payload``: the bytes past the headers (zeros, fixed:BYTE, inc, random).
    """
    _positive("count", count)
    _positive("duration", duration)
    _positive("batch", batch)
    if not 0 <= seq_start < 1 << 56:
        raise ConfigError(f"seq_start={seq_start}: sequence numbers are 0..2^56-1")
    if engine not in ENGINES:
        raise ConfigError(f"{engine!r}: one of {', '.join(ENGINES)}", argument="engine")
    cfg = GenConfig(ifname, netns, mode, batch, frame_size, frames, ring_size=ring_size, random=random, count=count,
                    duration=duration, seq_start=seq_start, verify_ledger=verify_ledger, tx_timestamps=tx_timestamps,
                    queues=list(queues) if queues else [0])
    if tx_timestamps:
        _check_tx_timestamps(pcap, engine)
    with netns_mod.entered(netns):
        link.ifindex(ifname, netns)
        iface_mac = link.mac_address(ifname)
        iface_ip = link.ipv4_address(ifname)
        iface_mtu = link.mtu(ifname)
    if profile:
        packet = {"template": template, "pcap": pcap, "src_mac": src_mac, "src_ip": src_ip, "dst_ip": dst_ip,
                  "src_port": src_port, "dst_port": dst_port, "size": size, "vlan": vlan, "tcp": tcp,
                  "random": random, "seq": seq, "vary": vary, "payload": payload}
        named = [f"{o}=" for o in PACKET_OPTIONS if packet[o] not in (None, False)]
        if named:
            raise ConfigError(f"{', '.join(named)} can't be combined with profile=: its streams give their packets")
        _plan_profile(cfg, profile, engine, rate, dst_mac, iface_mac, iface_ip)
        check_plans_mtu(ifname, iface_mtu, cfg.plans)
        return cfg
    if template and pcap:
        raise ConfigError("template= and pcap= can't be combined")
    if pcap:
        if any(r and "-" in r for r in (src_ip, dst_ip, src_port, dst_port)) or vary or payload:
            raise ConfigError("field ranges, vary= and payload= can't be combined with pcap= (its frames are sent as "
                              "they are)")
        cfg.pcap_frames = capture_frames(pcap, frame_size)
        longest = max(cfg.pcap_frames, key=len)
        check_mtu(ifname, iface_mtu, [(None, len(longest), longest)], sized=False)
    else:
        frame, fields, given = build_frame(iface_mac, iface_ip, src_mac=src_mac, dst_mac=dst_mac, src_ip=src_ip,
                                           dst_ip=dst_ip, src_port=src_port, dst_port=dst_port, size=size,
                                           vlan=vlan, tcp=tcp, seq=seq, template=template, payload=payload)
        with _about_vary():
            cfg.counters, frame = _vary.counters(frame, vary)
        if len(frame) > frame_size:
            raise ConfigError(f"the {len(frame)}-byte frame is larger than the {frame_size}-byte UMEM frame: "
                              f"{umem_fit(len(frame), frame_size)}")
        lay = layout(frame)
        fits = lay.payload is not None and lay.payload + SEQ_LEN <= len(frame)
        if seq is True and not fits:
            raise ConfigError(f"seq=True needs {SEQ_LEN} bytes of UDP/TCP payload: use a larger size=")
        cfg.seq = fits and (seq if seq is not None else lay.l4_proto == IPPROTO_UDP)
        check_mtu(ifname, iface_mtu, [(None, len(frame), frame)])
        cfg.frame = frame
        cfg.fields = fields
        cfg.random_from = random_from(frame, given, cfg.seq) if _vary.per_frame(payload) else None
        with _about_payload():  # offsets validated now, not in a worker
            PacketPlan(frame, _fields(cfg), seq=cfg.seq, counters=cfg.counters, random_from=cfg.random_from)
    cfg.engine = choose_engine(cfg, engine, cfg.queues[0])
    frame_len = len(cfg.frame) if cfg.frame else float(np.mean([len(f) for f in cfg.pcap_frames]))
    if rate:
        line_bps = line_rate(ifname, netns) if rate_value(rate).unit == "percent" else None
        cfg.pps = parse_rate(rate, frame_len, line_bps)
    cfg.burst = burst or (max(1, min(batch, int((cfg.pps or 0) / 1000) or 1)) if cfg.pps else batch)
    if cfg.engine == "afxdp" and not cfg.pcap_frames:
        cfg.plans = [_one_stream(cfg)]
        cfg.one_stream = True
    return cfg



def recording(path: str, frame_size: int) -> pcap_mod.Capture:
    """A capture file's frames and their times, each frame checked to fit a ``frame_size``-byte
    UMEM frame (before anything is opened)."""
    capture = pcap_mod.read(path)
    if not len(capture):
        raise ConfigError(f"{path} holds no frames")
    too_big = [len(f) for f in capture.frames if len(f) > frame_size]
    if too_big:
        raise ConfigError(f"{path} holds a {max(too_big)}-byte frame, larger than the {frame_size}-byte UMEM frame: "
                          f"{umem_fit(max(too_big), frame_size)}")
    return capture


def capture_frames(path: str, frame_size: int) -> list[bytes]:
    """A capture's frames, each checked to fit a ``frame_size``-byte UMEM frame."""
    return recording(path, frame_size).frames


def _check_tx_timestamps(pcap: str | None, engine: str) -> None:
    """What a kernel completion timestamp per packet works with, and whether this build and
    kernel can (before any worker)."""
    from .. import txmeta

    if pcap:
        raise ConfigError("tx_timestamps=True measures from the transmit time in each packet's sequence header; "
                          "pcap= frames are sent as they are, without one")
    if engine == "xdp":
        raise ConfigError("tx_timestamps=True asks AF_XDP's TX metadata for each packet's timestamp: it needs "
                          "engine='afxdp' (the XDP engine's frames never pass a socket's completion ring)")
    txmeta.require("tx_timestamps=True")


def _one_stream(cfg: GenConfig) -> StreamPlan:
    """The packet options as a one-stream profile: sent by the same scheduler, pacer and
    patcher as a profile (one code path), as stream ``stream0``."""
    return StreamPlan(0, "stream0", cfg.frame, cfg.frame, np.array([len(cfg.frame)], dtype=np.uint32),
                      sizes_random=False, fields=dict(cfg.fields), counters=list(cfg.counters), random=cfg.random,
                      seq=cfg.seq, pps=cfg.pps,
                      burst=cfg.burst, seq_start=cfg.seq_start, random_from=cfg.random_from)


def _plan_profile(cfg: GenConfig, path: str, engine: str, rate: str | None, dst_mac: str | None, iface_mac: str,
                  iface_ip: str | None) -> None:
    """A profile's streams resolved here (errors before any worker starts)."""
    if engine == "xdp":
        raise ConfigError("engine='xdp' sends one template; a profile's streams need engine='afxdp'")
    profile = Profile.load(path)
    if rate:
        if not any(s.percent is not None for s in profile.streams):
            raise ConfigError(f"rate= with profile= sets the total that percent streams share; {path} has none "
                              "(set each stream's rate in the file)")
        profile = Profile(profile.streams, rate=rate, source=profile.source)
    line_bps = line_rate(cfg.ifname, cfg.netns) if profile.uses_line_rate() else None
    cfg.plans = resolve(profile, src_mac=iface_mac, dst_mac=dst_mac or "ff:ff:ff:ff:ff:ff", src_ip=iface_ip,
                        frame_size=cfg.frame_size, line_bps=line_bps)
    if profile.id_width * len(cfg.queues) > 256:
        raise ConfigError(f"{len(cfg.plans)} streams (ids up to {profile.id_width - 1}) on {len(cfg.queues)} queues "
                          "need more than 256 stream ids")
    cfg.engine = "afxdp"
    cfg.burst = cfg.batch
    cfg.from_profile = True


def xdp_engine_unfit(cfg: GenConfig) -> str | None:
    """Why the XDP engine can't make this traffic, or None if it can."""
    if cfg.pcap_frames:
        return "pcap="
    if cfg.fields or cfg.counters:
        return "field ranges"
    if cfg.random_from is not None:
        return "a payload drawn per frame"
    if cfg.seq and layout(cfg.frame).ip_version != 4:
        return "seq=True on IPv6 (the UDP checksum would have to change per frame)"
    return None


def choose_engine(cfg: GenConfig, engine: str, queue: int) -> str:
    """afxdp, xdp, or for auto: zero-copy AF_XDP if the driver has it (``cfg.mode`` becomes
    "zerocopy"), else xdp if it fits, else afxdp (always afxdp with tx_timestamps)."""
    if engine == "xdp":
        unfit = xdp_engine_unfit(cfg)
        if unfit:
            raise ConfigError(f"engine='xdp' can't do {unfit}: use engine='afxdp'")
        return "xdp"
    if engine == "auto":
        if _zero_copy_available(cfg, queue):
            cfg.mode = "zerocopy"
            return "afxdp"
        return "xdp" if xdp_engine_unfit(cfg) is None and not cfg.tx_timestamps else "afxdp"
    return "afxdp"


def _zero_copy_available(cfg: GenConfig, queue: int) -> bool:
    import xsk

    try:
        with xsk.Umem(frame_count=64, hugepages="off") as umem, xsk.Socket(
            umem, cfg.ifname, queue=queue, mode="zerocopy", rx=False, netns=cfg.netns, ring_size=64
        ):
            return True
    except xsk.UnsupportedError:
        return False


def build_frame(iface_mac: str, iface_ip: str | None, *, src_mac: str | None = None, dst_mac: str | None = None,
                src_ip: str | None = None, dst_ip: str | None = None, src_port: str | None = None,
                dst_port: str | None = None, size: int | None = None, vlan: int | None = None, tcp: bool = False,
                seq: bool | None = None, template: str | None = None,
                payload: str | None = None) -> tuple[bytes, dict[str, np.ndarray], int]:
    """The frame the packet options describe, the values of its varying fields (from ranges:
    their first values are in the frame). ``template``: a scapy expression
    (``xsk.traffic._template``), addressed from the interface where it leaves addresses out;
    else Ethernet / [802.1Q] / IPv4 or IPv6 / UDP or TCP, padded to ``size`` (default 60, or
    what the headers and the sequence header need). ``payload``: what fills the frame past the
    packet (``xsk.traffic._vary.payload_bytes``; default zeros). The third value: where the
    packet as given ends (the payload pattern starts there)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.packet import Raw

    values: dict[str, np.ndarray] = {}
    first_mac = iface_mac
    if src_mac:
        values["src_mac"] = ranges.macs(src_mac)
        first_mac = ":".join(f"{b:02x}" for b in values["src_mac"][0])
    dst = dst_mac or "ff:ff:ff:ff:ff:ff"
    ips: dict[str, tuple[int, np.ndarray]] = {}
    for name, text in (("src_ip", src_ip), ("dst_ip", dst_ip)):
        if text:
            ips[name] = ranges.addresses(text)
            values[name] = ips[name][1]
    for name, text in (("src_port", src_port), ("dst_port", dst_port)):
        if text:
            values[name] = ranges.ports(text)

    def first_ip(name: str, default: str) -> str:
        return str(ipaddress.ip_address(bytes(ips[name][1][0]))) if name in ips else default

    pkt: Any
    if template:
        pkt = template_mod.addressed(template_mod.parse(template), src_mac=first_mac, dst_mac=dst,
                                     src_ip=first_ip("src_ip", iface_ip or "192.0.2.1"))
        frame = bytes(pkt)
        given = len(frame)
        if size and size > len(frame):
            frame = bytes(pkt / Raw(bytes(size - len(frame))))
    else:
        versions = {v for v, _ in ips.values()}
        if len(versions) > 1:
            raise ConfigError("src_ip= and dst_ip= must both be IPv4 or both IPv6")
        v6 = versions == {6}
        src_addr = first_ip("src_ip", "fd00::1" if v6 else (iface_ip or "192.0.2.1"))
        dst_addr = first_ip("dst_ip", "fd00::2" if v6 else "192.0.2.2")
        sport = int(values["src_port"][0]) if "src_port" in values else 1234
        dport = int(values["dst_port"][0]) if "dst_port" in values else 9000
        l2 = Ether(src=first_mac, dst=dst)
        if vlan is not None:
            if not 0 <= vlan < 4095:
                raise ConfigError(f"vlan={vlan}: VLAN ids are 0..4094")
            l2 = l2 / Dot1Q(vlan=vlan)
        l3 = IPv6(src=src_addr, dst=dst_addr) if v6 else IP(src=src_addr, dst=dst_addr)
        l4 = TCP(sport=sport, dport=dport) if tcp else UDP(sport=sport, dport=dport)
        headers = l2 / l3 / l4
        # the default: 60 bytes, or just enough for the headers and the sequence header (IPv6, VLAN)
        length = size or max(60, len(headers) + (SEQ_LEN if seq is not False and (seq or not tcp) else 0))
        if length < 60:
            raise ConfigError(f"size={length}: Ethernet frames are at least 60 bytes (without FCS)")
        pad = length - len(headers)
        if pad < 0:
            raise ConfigError(f"size={length} is smaller than the {len(headers)} bytes of headers")
        frame = bytes(headers / Raw(bytes(pad)))
        given = len(headers)
    if len(frame) < 60:
        frame = frame + bytes(60 - len(frame))
    try:
        frame = _vary.fill_payload(frame, given, payload)
    except ConfigError as exc:
        raise ConfigError(exc.reason, argument="payload") from None
    return frame, values, given


@contextmanager
def _about_payload() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        if exc.argument:
            raise
        raise ConfigError(exc.reason, argument="payload") from None


@contextmanager
def _about_vary() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        if exc.argument:
            raise
        raise ConfigError(exc.reason, argument="vary") from None


def _fields(cfg: GenConfig) -> list[Field]:
    return varying_fields(cfg.frame, **cfg.fields)


__all__ = ["ENGINES", "PACKET_OPTIONS", "GenConfig", "build_frame", "capture_frames", "choose_engine", "plan",
           "recording", "xdp_engine_unfit"]
