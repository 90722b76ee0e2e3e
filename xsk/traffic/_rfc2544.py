"""RFC 2544 benchmarking: throughput (NDR/PDR) by binary search, latency at the rate found, the
frame loss rate curve and back-to-back bursts, between a transmit and a receive interface with a
device under test between them.

Loss is what was sent minus what was received, trial by trial: gen's count of frames that left
the transmit interface against the receive interface's count of the trial's frames (a ``Sink``
whose filter takes only the trial's UDP port), read once the receiver has been quiet for
``settle`` seconds after the trial ends.

The search (:func:`search_rate`) is pure: it asks a ``trial(rate)`` for (sent, received, rate
achieved) and narrows [lo, hi] until ``hi - lo`` is at most ``resolution`` of ``hi``. A machine
that is busy with something else makes single trials noisy, so:

* a trial the generator could not send at the asked rate (it reached less than 98%) counts at the
  rate it reached, and that rate becomes the search's ceiling ("limited by the generator" when the
  answer is that ceiling);
* a trial that failed close to the best passing rate (within two resolutions) is repeated once:
  loss that was the machine's, not the device's, does not end the search low;
* the rate found is verified by a trial twice as long; when that one loses frames, the search
  goes on below it with trials that long (stepping down until one passes, then narrowing; at most
  ``verifications`` times), and the result says whether it was verified.

The result states the resolution reached and every trial, so a reader sees how the figure came
to be. Frame sizes follow RFC 2544 (64, 128, 256, 512, 1024, 1280, 1518 bytes on the wire, FCS
included): the frames sent are 4 bytes shorter, since veth and AF_XDP carry no FCS. L1 rates
add the preamble and inter-frame gap (20 bytes a frame).

Ownership: :class:`Rfc2544` owns the receiving ``Sink`` (its worker process, socket and
program) from ``start()`` (or ``with``) until ``close()``; each trial sends from this process
over a UMEM and TX-only socket that it makes and closes (no worker to start per trial).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._socket import Mode
from ..errors import ConfigError, XskError

SIZES = (64, 128, 256, 512, 1024, 1280, 1518)
"""RFC 2544's frame sizes for Ethernet, in bytes on the wire (FCS included)."""

FCS = 4
L1_OVERHEAD = 20  # preamble and start delimiter (8) and the inter-frame gap (12)
REACHED = 0.98  # a trial whose generator sent less than this share of the asked rate counts at its own


@dataclass(frozen=True)
class Trial:
    """One trial: ``rate`` asked (pps; None: as fast as the generator goes), what was sent and
    received, and the rate the generator reached."""

    rate: float | None
    seconds: float
    sent: int
    received: int
    achieved: float

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def loss_ratio(self) -> float:
        return self.lost / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"rate_pps": None if self.rate is None else round(self.rate, 1), "seconds": self.seconds,
                "sent": self.sent, "received": self.received, "lost": self.lost,
                "loss_pct": round(100 * self.loss_ratio, 6), "achieved_pps": round(self.achieved, 1)}


@dataclass
class Search:
    """What :func:`search_rate` found: ``rate`` (pps, 0 when no trial passed), the bracket it
    ended with, the resolution reached, whether a longer trial verified it, and every trial."""

    rate: float
    lo: float
    hi: float
    resolution: float
    verified: bool
    limited_by_generator: bool
    trials: list[Trial] = field(default_factory=list)
    passing: Trial | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rate_pps": round(self.rate, 1), "bracket_pps": [round(self.lo, 1), round(self.hi, 1)],
                "resolution_reached": round(self.resolution, 4), "verified": self.verified,
                "limited_by_generator": self.limited_by_generator,
                "trials": [t.as_dict() for t in self.trials]}


def search_rate(trial: Callable[[float | None, float], Trial], *, max_rate: float | None, seconds: float,
                acceptable: float = 0.0, resolution: float = 0.01, max_trials: int = 24,
                verifications: int = 2) -> Search:
    """The highest rate whose loss ratio is at most ``acceptable`` (0: NDR; e.g. 0.001: PDR at
    0.1%), by binary search between 0 and ``max_rate`` (None: first a trial as fast as the
    generator goes, whose rate is then the ceiling). ``trial(rate, seconds)`` runs one trial."""
    if not 0 <= acceptable < 1:
        raise ConfigError(f"acceptable loss must be a ratio in [0, 1), got {acceptable!r}")
    if not 0 < resolution < 1:
        raise ConfigError(f"resolution must be a ratio in (0, 1), got {resolution!r}")
    trials: list[Trial] = []

    def run(rate: float | None, secs: float = seconds) -> Trial:
        t = trial(rate, secs)
        trials.append(t)
        return t

    def passed(t: Trial) -> bool:
        return t.sent > 0 and t.loss_ratio <= acceptable

    first = run(max_rate)
    hi = first.achieved if max_rate is None else float(max_rate)
    limited = max_rate is None or first.achieved < REACHED * hi
    if limited:
        hi = first.achieved
    lo, best = 0.0, None
    if passed(first):
        lo, best = hi, first
    verified = False
    checks = 0
    secs = seconds
    stepping = 0  # after a failed verification: consecutive failures of the steps down from it
    while len(trials) < max_trials:
        if lo > 0 and hi - lo <= resolution * hi:
            if checks >= verifications:
                break
            checks += 1
            if passed(run(lo, 2 * seconds)):
                verified = True
                break
            # the rate found did not hold for the longer trial: from now on trials are that long,
            # and the search steps down from there until a rate passes, then narrows again
            hi, lo, best, secs, stepping = lo, 0.0, None, 2 * seconds, 1
            continue
        if stepping:
            rate = hi * max(0.0, 1 - 2 * resolution * 2 ** (stepping - 1))
        elif lo == 0 and best is None and len(trials) == 1:
            rate = hi / 2
        else:
            rate = (lo + hi) / 2
        t = run(rate, secs)
        if t.achieved < REACHED * rate:  # the generator could not go that fast: its rate is the ceiling
            hi, limited = min(hi, t.achieved), True
            if passed(t):
                lo, best, stepping = t.achieved, t, 0
            continue
        if passed(t):
            lo, best, stepping = rate, t, 0
        elif not stepping and lo and rate - lo <= 2 * resolution * hi and len(trials) < max_trials:
            again = run(rate, secs)  # near the edge: once more, so that one noisy trial does not end it low
            if passed(again):
                lo, best = rate, again
            else:
                hi = rate
        else:
            hi = rate
            if stepping:
                stepping += 1
        if lo == 0 and hi < 1.0:
            break
    reached = (hi - lo) / hi if hi else 0.0
    return Search(rate=lo, lo=lo, hi=hi, resolution=reached, verified=verified,
                  limited_by_generator=limited and best is not None and lo >= REACHED * hi,
                  trials=trials, passing=best)


def search_burst(trial: Callable[[int], Trial], *, max_burst: int, repeats: int = 3) -> list[int]:
    """Back-to-back: per repetition, the longest burst (frames sent as fast as the generator
    goes) received whole, by binary search in [1, max_burst]."""
    if max_burst < 1 or repeats < 1:
        raise ConfigError("max_burst and repeats must be at least 1")
    found = []
    for _ in range(repeats):
        lo, hi = 0, max_burst
        if trial(max_burst).lost == 0:
            found.append(max_burst)
            continue
        while hi - lo > max(1, hi // 100):
            mid = (lo + hi) // 2
            if trial(mid).lost == 0:
                lo = mid
            else:
                hi = mid
        found.append(lo)
    return found


def l1_bps(pps: float, size: int) -> float:
    """Bits per second on the wire for ``size``-byte frames (FCS included) at ``pps``, with the
    preamble and inter-frame gap."""
    return pps * (size + L1_OVERHEAD) * 8


@dataclass
class Rfc2544:
    """RFC 2544 between ``tx`` (interface, in ``tx_netns``) and ``rx`` (in ``rx_netns``): frames
    from ``tx`` to ``dst_mac`` (the device's side facing ``tx``) and ``dst_ip`` (an address the
    device routes towards ``rx``), UDP to ``port``, counted on ``rx``.

    ``trial`` seconds per search trial (RFC 2544 asks 60; each verification runs twice that),
    ``settle`` seconds the receiver must be quiet after a trial before it is counted.
    """

    tx: str
    rx: str
    dst_mac: str
    dst_ip: str
    tx_netns: str | None = None
    rx_netns: str | None = None
    port: int = 7
    trial: float = 5.0
    settle: float = 0.5
    mode: Mode = "auto"
    _sink: Any = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.trial <= 3600:
            raise ConfigError(f"trial must be more than 0 and at most 3600 seconds, got {self.trial!r}")
        if not 0 <= self.settle <= 60:
            raise ConfigError(f"settle must be 0 to 60 seconds, got {self.settle!r}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be 1 to 65535, got {self.port!r}")

    # --- the receiver ---------------------------------------------------------------------
    def start(self) -> Rfc2544:
        from ._receiver import Sink

        if self._sink is None:
            self._sink = Sink(self.rx, netns=self.rx_netns, filter=f"udp:{self.port}", histogram=False,
                              mode=self.mode).start()
        return self

    def close(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.stop()

    def __enter__(self) -> Rfc2544:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _received(self) -> int:
        if self._sink is None:
            raise XskError("start() the benchmark first (or use it as a context manager)")
        return int(self._sink.stats()["packets"])

    def _quiet(self, before: int) -> int:
        """The receiver's count once it has not moved for ``settle`` seconds (at most 10 s more)."""
        count, still_since, end = self._received(), time.monotonic(), time.monotonic() + self.settle + 10
        while time.monotonic() < end:
            time.sleep(0.02)
            now = self._received()
            if now != count:
                count, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= self.settle:
                break
        return count - before

    # --- trials ----------------------------------------------------------------------------
    def _stream(self, size: int, rate: float | None = None, count: int | None = None,
                latency: bool = False) -> Any:
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether

        from ._profile import Stream

        packet = Ether() / IP(dst=self.dst_ip) / UDP(sport=self.port, dport=self.port)
        return Stream(packet, name=f"rfc2544-{size}", rate=rate, size=size - FCS, count=count, latency=latency)

    def _send(self, stream: Any, *, count: int | None = None, duration: float | None = None) -> tuple[int, float]:
        """Send ``stream`` from ``tx``, in this process (no worker to start per trial): (frames
        sent, seconds it took). The UMEM and TX-only socket are made and closed here."""
        from .. import link, netns
        from ._generator import SendConfig, send_profile
        from ._mix import resolve
        from ._profile import Profile

        cfg = SendConfig(self.tx, netns=self.tx_netns, mode=self.mode)
        with netns.entered(self.tx_netns):
            link.ifindex(self.tx, self.tx_netns)
            mac, ip = link.mac_address(self.tx), link.ipv4_address(self.tx)
        plans = resolve(Profile([stream]), src_mac=mac, dst_mac=self.dst_mac, src_ip=ip, frame_size=cfg.frame_size)
        result = send_profile(cfg, plans, queue=0, count=count, duration=duration)
        sent = int(result["packets"])
        # the rate by the stream's own clock, first frame to last (the run's seconds also hold
        # the socket's set-up and the wait for the last completions)
        pps = result["streams"][0].get("pps") if result.get("streams") else None
        return sent, (sent - 1) / pps if pps else float(result["seconds"])

    def run_trial(self, size: int, rate: float | None, seconds: float) -> Trial:
        """Send ``size``-byte frames at ``rate`` pps (None: as fast as they go) for ``seconds``;
        what arrived, counted once the receiver is quiet."""
        before = self._received()
        if rate is None:
            sent, took = self._send(self._stream(size), duration=seconds)
        else:
            count = max(1, round(rate * seconds))
            sent, took = self._send(self._stream(size, rate, count))
        received = self._quiet(before)
        return Trial(rate=rate, seconds=seconds, sent=sent, received=received, achieved=sent / (took or seconds))

    def throughput(self, size: int, *, max_rate: float | None = None, acceptable: float = 0.0,
                   resolution: float = 0.01, max_trials: int = 24) -> Search:
        """The NDR (``acceptable`` 0) or PDR for ``size``-byte frames."""
        return search_rate(lambda rate, secs: self.run_trial(size, rate, secs), max_rate=max_rate,
                           seconds=self.trial, acceptable=acceptable, resolution=resolution,
                           max_trials=max_trials)

    def loss_curve(self, size: int, max_rate: float, steps: Sequence[int] = range(100, 0, -10)) -> list[Trial]:
        """Frame loss rate at each percentage of ``max_rate`` (RFC 2544 26.3: 100% down in 10% steps)."""
        return [self.run_trial(size, max_rate * pct / 100, self.trial) for pct in steps]

    def back_to_back(self, size: int, *, max_burst: int = 100_000, repeats: int = 3) -> list[int]:
        """The longest bursts (frames at the generator's full speed) received whole (RFC 2544 26.4)."""
        def burst(n: int) -> Trial:
            before = self._received()
            sent, took = self._send(self._stream(size), count=n)
            return Trial(rate=None, seconds=took, sent=sent, received=self._quiet(before),
                         achieved=sent / (took or 1.0))

        return search_burst(burst, max_burst=max_burst, repeats=repeats)

    def run(self, sizes: Sequence[int] = SIZES, **options: Any) -> dict[str, Any]:
        """Every test asked for each frame size (see the module's :func:`run` for ``options``)."""
        return run(self, sizes, **options)

    def latency(self, size: int, rate: float, seconds: float | None = None) -> dict[str, Any]:
        """Latency percentiles (µs) of ``size``-byte frames at ``rate`` pps, measured by a second,
        spinning receiver on ``rx`` (RFC 2544 26.2, with percentiles instead of one figure)."""
        from ._profile import Profile
        from ._receiver import Sink

        secs = seconds or self.trial
        stream = self._stream(size, rate, max(1, round(rate * secs)), latency=True)
        self.close()  # one receiver per queue: the counting one makes way for the spinning one
        try:
            with Sink(self.rx, netns=self.rx_netns, filter=f"udp:{self.port}", profile=Profile([stream]),
                      mode=self.mode) as sink:
                sent, _ = self._send(stream)
                time.sleep(self.settle)
                got = sink.stop()
        finally:
            self.start()
        per_stream: dict[str, Any] = got.get("per_stream", {})
        first: dict[str, Any] = next(iter(per_stream.values()), {})
        lat = first.get("latency_us", {})
        return {"size": size, "rate_pps": round(rate, 1), "sent": sent,
                "received": int(got["packets"]), "latency_us": lat}


def run(bench: Rfc2544, sizes: Sequence[int] = SIZES, *, max_rate: float | None = None,
        acceptable: float = 0.0, resolution: float = 0.01, latency: bool = True, loss_curve: bool = False,
        back_to_back: bool = False, max_burst: int = 100_000, mtu: int | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The RFC 2544 tests for each frame size: throughput always, latency at the rate found,
    the loss curve and back-to-back as asked. The results as plain data (``xsk rfc2544 --json``)."""
    say = progress or (lambda _msg: None)
    results: dict[str, Any] = {"test": "rfc2544", "acceptable_loss_pct": 100 * acceptable,
                               "trial_seconds": bench.trial, "sizes": []}
    skipped = []
    for size in sizes:
        if size - FCS < 60 or size > 9018:
            raise ConfigError(f"frame size {size}: RFC 2544 sizes are 64 to 9018 bytes on the wire (FCS included)")
        if mtu is not None and size - FCS - 14 > mtu:
            skipped.append(size)
            say(f"{size} bytes: skipped, over the transmit interface's MTU ({mtu})")
            continue
        say(f"{size} bytes: searching ({'NDR' if not acceptable else f'PDR {100 * acceptable:g}%'})")
        found = bench.throughput(size, max_rate=max_rate, acceptable=acceptable, resolution=resolution)
        row: dict[str, Any] = {"size": size, **found.as_dict(),
                               "l2_mbps": round(found.rate * size * 8 / 1e6, 3),
                               "l1_mbps": round(l1_bps(found.rate, size) / 1e6, 3)}
        say(f"{size} bytes: {found.rate:,.0f} pps ({row['l1_mbps']:,.1f} Mbit/s L1), resolution "
            f"{100 * found.resolution:.2f}%, {'verified' if found.verified else 'not verified'}")
        if latency and found.rate > 0:
            row["latency"] = bench.latency(size, found.rate)
        if loss_curve:
            top = max_rate or found.hi
            row["loss_curve"] = [{"percent": 100 - 10 * i, **t.as_dict()}
                                 for i, t in enumerate(bench.loss_curve(size, top))]
        if back_to_back:
            bursts = bench.back_to_back(size, max_burst=max_burst)
            row["back_to_back"] = {"frames": bursts, "mean": round(sum(bursts) / len(bursts), 1),
                                   "max_burst": max_burst}
        results["sizes"].append(row)
    if skipped:
        results["skipped_sizes"] = skipped
    return results


def render(results: dict[str, Any]) -> str:
    """The throughput table (and the other tables that were measured), as text."""
    what = "NDR" if not results["acceptable_loss_pct"] else f"PDR ({results['acceptable_loss_pct']:g}% loss)"
    lines = [f"RFC 2544 throughput, {what}, {results['trial_seconds']:g} s trials",
             f"{'size':>6} {'pps':>12} {'L1 Mbit/s':>11} {'L2 Mbit/s':>11} {'resolution':>10} {'verified':>8}"
             f" {'p50 us':>8} {'p99 us':>8}"]
    for row in results["sizes"]:
        lat = row.get("latency", {}).get("latency_us", {})
        p50 = f"{lat['p50']:.1f}" if "p50" in lat else "-"
        p99 = f"{lat['p99']:.1f}" if "p99" in lat else "-"
        note = " (generator-limited)" if row["limited_by_generator"] else ""
        lines.append(f"{row['size']:>6} {row['rate_pps']:>12,.0f} {row['l1_mbps']:>11,.1f} {row['l2_mbps']:>11,.1f}"
                     f" {100 * row['resolution_reached']:>9.2f}% {'yes' if row['verified'] else 'no':>8}"
                     f" {p50:>8} {p99:>8}{note}")
    for row in results["sizes"]:
        if "loss_curve" in row:
            lines.append(f"frame loss rate, {row['size']} bytes: " + ", ".join(
                f"{p['percent']}% {p['loss_pct']:.3g}%" for p in row["loss_curve"]))
        if "back_to_back" in row:
            b = row["back_to_back"]
            lines.append(f"back-to-back, {row['size']} bytes: {b['mean']:,.1f} frames (trials {b['frames']})")
    if results.get("skipped_sizes"):
        lines.append(f"skipped (over the MTU): {results['skipped_sizes']}")
    return "\n".join(lines)


__all__ = ["SIZES", "Rfc2544", "Search", "Trial", "l1_bps", "render", "run", "search_burst", "search_rate"]
