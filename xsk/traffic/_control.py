"""Streams controlled while they run: pause, resume, stop and a new rate, from the Generator's
process to its workers', counted exactly.

Theory of operation. The Generator and its workers share three arrays (``Control``):
``commands`` (stream, operation, value per command, in order), ``version`` (how many commands
were written) and ``marks``. The Generator writes a command, then bumps ``version``. Each
worker's scheduler (``xsk_mix_due`` in mix.c) compares ``version`` with the last it applied once
per round of the send loop; while they differ it says nothing is due, so the loop goes to
``Mix.wait``, which applies every new command in order (``Mix.apply_commands``) before the next
batch is filled. A command therefore takes effect between two batches: within a round of the
send loop when it is busy, and within a millisecond when it is idle (``Mix.wait`` sleeps at
most that long while a Generator can send commands). The busy path pays one load per round.

Counted exactly: as it applies command ``k`` a worker records, in ``marks``, how many frames
the stream had been given out (sent) at that moment (+1, so 0 means "not applied yet"). Frames
given back unsent (``Mix.unsend``) are returned before the next round's ``due``, so the mark is
the count of frames the socket took. ``states`` turns the commands and marks into each
stream's frames per state: the frames between two of its marks were sent in the state the first
one set. A worker that ended before it applied a command counts all its frames before it.

Memory ordering: the writer stores the command before the version; x86's TSO keeps that order
for the reader (see mix.h for what other architectures would need).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError

MAX_COMMANDS = 4096
RUN, PAUSE, STOP, RATE = 0, 1, 2, 3
UNPACED = -1.0  # a RATE command's value for "as fast as the path takes it"
OPS = {RUN: "running", PAUSE: "paused", STOP: "stopped", RATE: "running"}


@dataclass
class Control:
    """The arrays a Generator shares with its workers (shared memory, made before they start)."""

    version: Any
    commands: Any
    marks: Any
    nqueues: int
    log: list[dict[str, Any]] = field(default_factory=list)  # the Generator's side: each command, in order

    @classmethod
    def make(cls, ctx: Any, nqueues: int) -> Control:
        return cls(ctx.RawArray("q", 1), ctx.RawArray("d", 3 * MAX_COMMANDS), ctx.RawArray("q", nqueues * MAX_COMMANDS),
                   nqueues)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["log"] = []  # the workers need the arrays, not the Generator's log
        return state

    def send(self, stream: int, op: int, value: float = 0.0) -> int:
        """Write a command for the workers; its number (1, 2, ...)."""
        v = int(self.version[0]) + 1
        if v > MAX_COMMANDS:
            raise UsageError(f"a run takes at most {MAX_COMMANDS} stream commands")
        self.commands[3 * (v - 1)], self.commands[3 * (v - 1) + 1], self.commands[3 * (v - 1) + 2] = stream, op, value
        self.version[0] = v  # after the command: see the module's docstring
        self.log.append({"version": v, "stream": stream, "op": op, "value": value, "t": time.monotonic()})
        return v

    def mark(self, q: int, version: int) -> int | None:
        """Frames the stream of command ``version`` had sent on queue index ``q`` when that worker
        applied it, or None if it has not (yet)."""
        m = int(self.marks[q * MAX_COMMANDS + version - 1])
        return m - 1 if m else None


def states(control: Control, index: int, initial_pps: float | None, sent_per_queue: list[int],
           t0: float) -> list[dict[str, Any]]:
    """Stream ``index``'s states in order, one per command to it after the start's, each with the
    frames sent in it over every queue (``packets``): "running" at ``pps`` (asked; None unpaced),
    "paused" or "stopped"; a new rate while paused is a state of its own, taken at the resume.
    ``at_s``: when it was commanded (seconds from ``t0``).
    ``sent_per_queue``: the stream's frames sent so far on each queue."""
    mine = [c for c in control.log if int(c["stream"]) == index]
    out: list[dict[str, Any]] = [{"state": "running", "pps": initial_pps, "at_s": 0.0, "packets": 0}]
    pps, now = initial_pps, "running"
    for c in mine:
        op = int(c["op"])
        if now == "stopped":
            pass  # a stopped stream stays stopped (the workers ignore what follows)
        elif op == RATE:
            pps = None if float(c["value"]) < 0 else float(c["value"])
        else:
            now = OPS[op]
        out.append({"state": now, "pps": pps if now == "running" else None, "at_s": round(c["t"] - t0, 6),
                    "packets": 0})
    for q, total in enumerate(sent_per_queue):
        bounds = [0] + [control.mark(q, int(c["version"])) for c in mine]
        # a command the worker never applied: every frame it sent came before it
        ends = [total if b is None else b for b in bounds[1:]] + [total]
        starts = [0] + [total if b is None else b for b in bounds[1:]]
        for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
            out[k]["packets"] += max(0, b - a)
    return out


__all__ = ["MAX_COMMANDS", "PAUSE", "RATE", "RUN", "STOP", "UNPACED", "Control", "states"]
