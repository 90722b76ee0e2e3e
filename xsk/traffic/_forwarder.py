"""Reflecting or forwarding frames without copying them: the loop under ``xsk fwd``.

Received frames are never copied: their MACs (and optionally IPs and ports) are swapped in
place and the same frames are put on the TX ring, a batch in one C call (``Socket.forward``);
after their TX completes they go back to the fill ring. Nothing is dropped here: a full TX ring
leaves frames on the RX ring (the kernel counts what that ring had no room for in
``rx_dropped``). With ``ifname2`` both sockets share one UMEM (XDP_SHARED_UMEM) and frames leave
through the second interface; while its link is down they wait on its TX ring (``linkdown``).

:func:`forward` owns its UMEM and sockets from start to return; every frame is back in the pool
when it returns, and its result says where every frame ended (``accounting``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._program import XdpMode
from .._socket import Mode
from ..errors import ConfigError, HostError
from . import _linkdown as linkdown
from ._health import Health, quiet_gc
from ._results import cause_dicts, merge_causes


@dataclass
class ForwardConfig:
    """Where frames come in and go out, and when to stop. ``pin``: receive through xsk's program
    pinned there (``xsk.pinned``) instead of attaching one; ``filter``: forward only these frames
    (the rest go to the kernel stack)."""

    ifname: str
    ifname2: str | None = None
    netns: str | None = None
    netns2: str | None = None  # the namespace of ifname2 (default: netns)
    queue: int = 0
    mode: Mode = "auto"
    xdp_mode: XdpMode = "auto"
    batch: int = 256
    frames: int = 4096
    frame_size: int = 2048
    ring_size: int = 2048
    filter: str | None = None
    pin: str | None = None
    swap_ips: bool = False
    swap_ports: bool = False
    count: int | None = None
    duration: float | None = None
    verify_ledger: bool = False


def forward(cfg: ForwardConfig, *, stop: Callable[[], bool] | None = None,
            tick: Callable[[int, int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Forward until ``cfg.count`` frames, ``cfg.duration`` seconds or ``stop()``.

    ``tick(forwarded, 0, {"kernel": counters})`` about once a second. Returns ``forwarded``,
    ``seconds``, the receiving socket's ``kernel`` counters, the health footprint, the UMEM's
    ``accounting`` after close, the ``causes`` of anything either socket's kernel side lost and
    ``link_down_seconds`` (how long the outgoing link was down under it).
    """
    import xsk

    for name in ("count", "duration"):
        value = getattr(cfg, name)
        if value is not None and value <= 0:
            raise ConfigError(f"must be positive, got {value}", argument=name)
    program = None
    if cfg.pin:
        from ..pinned import PinnedProgram

        program = PinnedProgram(cfg.pin)
    umem = xsk.Umem(frame_count=cfg.frames, frame_size=cfg.frame_size)
    forwarded = 0
    link_down = 0.0
    with umem:
        rx = xsk.Socket(umem, cfg.ifname, queue=cfg.queue, mode=cfg.mode, netns=cfg.netns, xdp_mode=cfg.xdp_mode,
                        filter=cfg.filter, fill_frames=cfg.frames // 2, ring_size=cfg.ring_size, program=program)
        with rx:
            tx = rx
            if cfg.ifname2:
                tx = xsk.Socket(umem, cfg.ifname2, queue=cfg.queue, mode=cfg.mode, rx=False,
                                netns=cfg.netns2 or cfg.netns, ring_size=cfg.ring_size)
            try:
                health = Health(umem, cfg.verify_ledger)
                quiet_gc()
                t0 = time.monotonic()
                deadline = t0 + cfg.duration if cfg.duration else None
                next_tick = t0 + 1.0
                while (cfg.count is None or forwarded < cfg.count) and (
                    deadline is None or time.monotonic() < deadline
                ):
                    if stop is not None and stop():
                        break
                    want = cfg.batch if cfg.count is None else min(cfg.batch, cfg.count - forwarded)
                    try:
                        forwarded += rx.forward(want, timeout=0.05, out=tx, swap_macs=True, swap_ips=cfg.swap_ips,
                                                swap_ports=cfg.swap_ports)
                    except HostError as exc:  # the outgoing link went down: wait for it
                        accepted, waited = linkdown.ride_out(exc, tx, stop, deadline)
                        forwarded += accepted
                        link_down += waited
                    if forwarded:
                        health.traffic_started()
                    if health.due():
                        health.check()
                    if tick is not None and time.monotonic() >= next_tick:
                        next_tick = time.monotonic() + 1.0
                        tick(forwarded, 0, {"kernel": rx.statistics()})
                linkdown.flush(tx, timeout=1)
                footprint = health.summary()
                kernel = rx.statistics()
                causes = merge_causes([cause_dicts(rx.diagnose())] + (
                    [cause_dicts(tx.diagnose())] if tx is not rx else []))
            finally:
                if tx is not rx:
                    tx.close()
        seconds = time.monotonic() - t0
    return {"forwarded": forwarded, "seconds": seconds, "kernel": kernel, **footprint,
            "accounting": umem.accounting()._asdict(),  # after close: every frame back in the pool
            "causes": causes, "link_down_seconds": round(link_down, 3)}


__all__ = ["ForwardConfig", "forward"]
