"""What every ``xsk`` subcommand shares: options, exit codes, one-line errors, live statistics."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

from ..errors import (
    ConfigError,
    NoSuchInterfaceError,
    NoSuchNamespaceError,
    QueueRangeError,
    XskError,
)
from ..traffic._report import readable

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
# What the user typed names nothing on this host (found by a look-up, not said by the kernel
# mid-run): bad input to the command, like a bad option value.
_NAMED_NOTHING = (NoSuchInterfaceError, NoSuchNamespaceError, QueueRangeError)
# The library's parameters that an option sets, by that option; any other keeps its own name.
_OPTIONS = {
    "frame_count": "--frames", "frame_size": "--frame-size", "ring_size": "--ring-size", "queue": "--queue",
    "mode": "--mode", "xdp_mode": "--xdp-mode", "filter": "--filter", "max": "--batch", "batch": "--batch",
    "count": "--count", "duration": "--duration", "rate": "--rate", "seq": "--seq", "size": "--size",
    "src_ip": "--src-ip", "dst_ip": "--dst-ip", "src_port": "--src-port", "dst_port": "--dst-port",
    "src_mac": "--src-mac", "speed": "--speed", "loop": "--loop", "queues": "--queues", "netns": "--netns",
    "seq_start": "--seq-start", "template": "--template", "pcap": "--pcap", "profile": "--profile",
    "engine": "--engine", "burst": "--burst", "vlan": "--vlan", "tcp": "--tcp", "random": "--random",
    "dst_mac": "--dst-mac", "tx_timestamps": "--tx-timestamps", "loops": "--loop", "pps": "--rate",
    "vary": "--vary", "payload": "--payload", "settle": "--settle", "ports": "--port", "port": "--port",
}
# The library's words for what a command line says another way (a call it has a command or option for).
_PHRASES = {
    "xsk.pinned.attach(ifname, DIR)": "`xsk prog attach IFACE --pin DIR`",
    "Socket(program=xsk.PinnedProgram(DIR))": "--pin DIR",
}
# How the library names a setting in its messages: ``Owner(name=value)`` or ``name=value`` (value
# may be empty: "a bigger ring, Socket(ring_size=)"; a list of queues: "queues=[0, 1]"), one
# keyword to a call. Quoted text (a template, a path) is the user's and stays as it is.
_SETTING = re.compile(
    r"(?P<quoted>(?<!\w)'[^'\n]*'(?!\w)|(?<!\w)\"[^\"\n]*\"(?!\w))"
    r"|\b[A-Z]\w*\((?P<cname>[a-z_][a-z0-9_]*)=(?P<cvalue>[^\s,;:()]*)\)"
    r"|(?<![\w.])(?P<name>[a-z_][a-z0-9_]*)=(?P<value>'[^']*'|\"[^\"]*\"|\[[0-9, ]*\]|[^\s,;:()]*[^\s,;:().])?")


def flag_for(argument: str) -> str | None:
    """The option of the command line that sets the library's ``argument``, if one does."""
    return _OPTIONS.get(argument)


def _as_option(m: re.Match[str]) -> str:
    if m["quoted"]:
        return m[0]
    flag = flag_for(m["cname"] or m["name"])
    if flag is None:
        return m[0]
    value = (m["cvalue"] if m["cname"] else m["value"] or "").strip("'\"")
    if value.startswith("["):  # queues: a range as the option takes it, e.g. [0, 1, 2] as 0-2
        numbers = [int(n) for n in value.strip("[]").split(",") if n.strip()]
        consecutive = numbers and numbers == list(range(numbers[0], numbers[-1] + 1))
        value = f"{numbers[0]}-{numbers[-1]}" if consecutive and len(numbers) > 1 else ",".join(map(str, numbers))
    return f"{flag} {value}" if value and value != "True" else flag


def in_flags(text: str) -> str:
    """A library message (error, cause, warning) in the command line's terms: each setting it
    names as a keyword (``Umem(frame_size=4096)``, ``netns='a'``) as the option that sets it
    (``--frame-size 4096``, ``--netns a``), where there is one; everything else as it is."""
    for words, ours in _PHRASES.items():
        text = text.replace(words, ours)
    return _SETTING.sub(_as_option, text)


def describe(exc: XskError) -> str:
    """The error in the command line's terms: a ConfigError about a parameter names its option,
    and the settings the message names are options too (``in_flags``)."""
    flag = flag_for(exc.argument) if isinstance(exc, ConfigError) and exc.argument else None
    return in_flags(f"{flag}: {exc.reason}" if isinstance(exc, ConfigError) and flag else str(exc))


def bad_input(exc: XskError) -> bool:
    """Does the error come from what the user typed (exit 2), rather than from the run (exit 1)?"""
    return isinstance(exc, ConfigError) or (isinstance(exc, _NAMED_NOTHING) and exc.errno is None)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(EXIT_BAD_INPUT)


def add_socket_options(p: argparse.ArgumentParser, batch: int = 256, ring_size: int = 2048,
                       frames: int = 4096) -> None:
    p.add_argument("--netns", metavar="NS", help="network namespace of the interface (no `ip netns exec` needed)")
    p.add_argument("--queue", type=int, default=0, metavar="Q", help="queue to bind (default 0)")
    p.add_argument("--mode", default="auto", choices=("auto", "copy", "zerocopy"), help="AF_XDP bind mode")
    p.add_argument("--xdp-mode", default="auto", choices=("auto", "native", "skb"), help="XDP attach mode")
    p.add_argument("--batch", type=positive_int, default=batch, metavar="B",
                   help=f"frames per ring operation ({batch})")
    p.add_argument("--frame-size", type=int, default=2048, choices=(2048, 4096))
    p.add_argument("--frames", type=positive_int, default=frames, help=f"UMEM frames (default {frames})")
    p.add_argument("--ring-size", type=int, default=ring_size, help=f"RX/TX ring entries (default {ring_size})")
    p.add_argument("--json", action="store_true", help="JSON output: a line per second and a final summary")


def add_receive_options(p: argparse.ArgumentParser) -> None:
    """What a receiving command takes beside the socket options: which frames, how many, how long,
    and a pinned program to receive through."""
    p.add_argument("--filter", help="steer only these frames here, e.g. udp:9000 or ether:0x88b5; "
                                    "the rest goes to the kernel stack")
    p.add_argument("--count", type=int, help="stop after N packets")
    p.add_argument("--duration", type=float, help="stop after S seconds")
    p.add_argument("--pin", metavar="DIR", help="use xsk's program pinned by `xsk prog attach --pin DIR` "
                                               "(no root: CAP_NET_RAW is enough)")


def add_health_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verify-ledger", action="store_true",
                   help="check the whole frame ledger's consistency once a second and at the end (soaks)")


class Interrupt(threading.Event):
    """Set by the first SIGINT (Ctrl-C) or SIGTERM; ``signum`` says which (None: not by a signal)."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None


@contextlib.contextmanager
def ctrl_c_stops() -> Iterator[Interrupt]:
    """An Event that the first Ctrl-C (SIGINT) or SIGTERM (``timeout``, systemd, docker stop) sets,
    so the send loop ends as a count would and the summary still comes (``interrupted`` says it
    was cut short); a second one interrupts as usual. Only the main thread can catch signals:
    elsewhere the Event is never set by one."""
    stop = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.signum = signum
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupted(out: dict[str, Any], stop: Interrupt) -> int:
    """The exit status of a run that ``stop`` may have cut short: 0, or 128 + the signal's number
    (130 for SIGINT, 143 for SIGTERM), the signal's name then in the summary as ``interrupted``."""
    if stop.signum is None:
        return EXIT_OK
    out["interrupted"] = signal.Signals(stop.signum).name
    return 128 + stop.signum


def add_csv_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", metavar="FILE", help="also write the per-stream results to FILE as CSV (a row per "
                   "stream; gen's and sink's share one header)")


def csv_ready(path: str | None) -> None:
    """Check that the --csv file can be written before the run, not after it (ConfigError)."""
    if path is None:
        return
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ConfigError(f"--csv {path}: can't write it: {exc.strerror or exc}") from None


def write_csv(path: str | None, out: dict[str, Any]) -> None:
    """The summary's per-stream rows into the --csv file, if one was asked for."""
    if path is not None:
        from ..traffic import _csv

        _csv.write(path, _csv.rows(out))


def fail(prog: str, message: str, code: int) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    return code


def run(prog: str, func: Any, args: argparse.Namespace) -> int:
    """Run a subcommand; turn xsk errors into a one-line message and the documented exit status."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        return int(func(args) or 0)
    except XskError as exc:
        return fail(prog, describe(exc), EXIT_BAD_INPUT if bad_input(exc) else EXIT_FAILURE)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside a run
        return 128 + signal.SIGINT
    except OSError as exc:
        return fail(prog, f"{exc.strerror or exc}", EXIT_FAILURE)


def warn(prog: str, out: dict[str, Any], lines: list[str]) -> None:
    """Each warning once on stderr, and in the summary as ``"warnings"`` (when there are any), in
    the command line's terms (``in_flags``: what the library says of a setting names its option)."""
    if not lines:
        return
    lines = [in_flags(line) for line in lines]
    out["warnings"] = lines
    for line in lines:
        sys.stderr.write(f"{prog}: warning: {line}\n")


def down_line(prog: str, ifname: str, seconds: float) -> str:
    """The summary's words for the time a sender waited for its link (``link_down_seconds``)."""
    return (f"{prog}: {ifname} was down for {seconds:.1f} s during the run; frames waited on the TX ring "
            "and went when it came back (what the peer missed meanwhile is its loss)")


def cause_lines(causes: list[dict[str, Any]]) -> list[str]:
    return [f"{c['count']} frames counted in {c['counter']}: {c['reason']}; {c['fix']}" for c in causes]


def parse_queues(text: str | None, default: int) -> list[int]:
    """``--queues Q`` or ``Q1-Q2`` as a list (``default``, the --queue, when not given)."""
    if text is None:
        return [default]
    lo, _, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise ConfigError(f"bad --queues {text!r}: expected Q or Q1-Q2, e.g. 0-3") from None
    if not 0 <= first <= last < 256:
        raise ConfigError(f"bad --queues {text!r}: 0 <= Q1 <= Q2 < 256")
    return list(range(first, last + 1))


def check_positive(name: str, value: float | None, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"must be positive, got {value}", argument=name.lstrip("-").replace("-", "_"))


class Reporter:
    """Prints a status line per second (terminal) or a JSON object per second (--json)."""

    def __init__(self, as_json: bool, total: int | None = None, duration: float | None = None,
                 stream: Any = None) -> None:
        self.as_json = as_json
        self.total = total
        self.duration = duration
        self.out = stream or sys.stdout
        self.tty = self.out.isatty() and not as_json
        self.t0 = time.monotonic()
        self.last_t = self.t0
        self.last_packets = 0
        self.last_bytes = 0
        self.next_at = self.t0 + 1.0
        self.streams = StreamTable(self.out) if self.tty else None

    def due(self) -> bool:
        return time.monotonic() >= self.next_at

    def tick(self, packets: int, nbytes: int, extra: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        dt = max(now - self.last_t, 1e-9)
        pps = (packets - self.last_packets) / dt
        bps = (nbytes - self.last_bytes) * 8 / dt
        self.last_t, self.last_packets, self.last_bytes = now, packets, nbytes
        self.next_at = now + 1.0
        elapsed = now - self.t0
        if self.as_json:
            record = {"t": round(elapsed, 3), "time": round(time.time(), 3), "packets": packets, "bytes": nbytes,
                      "pps": round(pps, 1),
                      "bps": round(bps, 1), **(extra or {})}
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
            return
        progress = ""
        fraction = None
        if self.total:
            fraction = packets / self.total
        elif self.duration:
            fraction = elapsed / self.duration
        if fraction is not None:
            filled = int(min(fraction, 1.0) * 20)
            progress = f" [{'#' * filled}{'.' * (20 - filled)}] {min(fraction, 1.0) * 100:5.1f}%"
        if self.streams is not None and extra and extra.get("per_stream"):
            self.streams.show(elapsed, packets, pps, bps, extra["per_stream"], progress)
            return
        kernel = ""
        if extra and extra.get("kernel"):
            # what lost or refused frames (an empty TX ring is how every paced send ends: not news)
            nonzero = {k: v for k, v in extra["kernel"].items() if v and k != "tx_ring_empty_descs"}
            kernel = f" kernel {nonzero}" if nonzero else ""
        line = (f"{elapsed:7.1f}s {packets:>13,} pkts {human(pps)}pps {human(bps)}bit/s"
                f"{progress}{kernel}")
        if self.tty:
            self.out.write("\r" + line + "\x1b[K")
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.streams is not None and self.streams.live is not None:
            self.streams.stop()
        elif self.tty:
            self.out.write("\n")


class StreamTable:
    """The live per-stream table on a terminal (rich), redrawn in place once a second."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.live: Any = None
        self.last: dict[str, int] = {}
        self.last_t = 0.0

    def show(self, elapsed: float, packets: int, pps: float, bps: float, per_stream: dict[str, Any],
             progress: str) -> None:
        from rich.live import Live
        from rich.table import Table

        dt = max(elapsed - self.last_t, 1e-9)
        table = Table(title=f"{elapsed:.1f}s  {packets:,} pkts  {human(pps)}pps  {human(bps)}bit/s{progress}",
                      title_justify="left")
        sink = any(isinstance(v, dict) for v in per_stream.values())
        for col in ("stream", "packets", "pps") + (("gaps", "p50 us", "p99 us") if sink else ()):
            table.add_column(col, justify="right")
        for key, v in per_stream.items():
            n = v["packets"] if isinstance(v, dict) else v
            row = [key, f"{n:,}", human((n - self.last.get(key, 0)) / dt)]
            if isinstance(v, dict):
                row += [f"{v['lost']:,}", "-" if v["p50_us"] is None else f"{v['p50_us']:.1f}",
                        "-" if v["p99_us"] is None else f"{v['p99_us']:.1f}"]
            table.add_row(*row)
            self.last[key] = n
        self.last_t = elapsed
        if self.live is None:
            from rich.console import Console

            self.live = Live(table, console=Console(file=self.out, force_terminal=True), auto_refresh=False)
            self.live.start()
        self.live.update(table, refresh=True)

    def stop(self) -> None:
        self.live.stop()
        self.live = None


def human(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:7.2f}{unit}"
    return f"{value:7.1f} "


def summary(obj: dict[str, Any], as_json: bool) -> None:
    """The run's summary on stdout: one JSON object, or a line per key for a person (warnings,
    already on stderr, are not repeated there)."""
    if as_json:
        print(json.dumps(obj))
        return
    for key, value in obj.items():
        if key != "warnings":
            print(f"{key:>12}: {readable(value)}")
