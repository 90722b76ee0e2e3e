"""The frame-ownership ledger: which of POOL, USER, FILL or TX each UMEM frame is in.

Theory of operation
-------------------
Every frame is in exactly one ``State``, and the state says who may touch it (``OWNERS``).
``TRANSITIONS`` is the whole state machine: for each operation, the state changes it makes.
Nothing else moves a frame, and the tests hold the C ledger to that table after every step
(``tests/ownership_model.py``, in memory and over veth).

USER frames also carry the *token* of the batch that holds them, so a frame passed on by one
batch can't be used through another (``Batch.select`` and ``split`` move frames between
batches: a new token, the same state). FILL and TX frames carry the id of the socket (its
queue's rings) that holds them, so closing a socket gives exactly its frames back. Counts
per state are kept incrementally and always sum to the frame count.

The table lives in C arrays owned by this object: one 64-bit word per frame,
state << 32 | owner, so one load and one compare check a frame. One C call checks
a whole batch and commits it, or raises and changes nothing; a frame named twice
in one batch meets the mark the check set on it (cleared before the call
returns). Every such call holds the ledger's lock, so threads sharing a UMEM
can't interleave inside one.
"""

from __future__ import annotations

import enum
import itertools
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple, NoReturn

import numpy as np

from ._binding import CData, ffi, lib
from .errors import ConfigError, FrameOwnershipError, IntegrityError

VERIFY_ENV = "XSK_VERIFY_LEDGER"


def verify_everywhere() -> bool:
    """True when the environment asks every process for its ledger checks (``XSK_VERIFY_LEDGER=1``):
    every UMEM then verifies its whole ledger when it closes, and the commands' loops once a
    second. A test suite sets it so that each process it starts checks itself, with no option on
    each command line."""
    return os.environ.get(VERIFY_ENV, "") == "1"

class State(enum.IntEnum):
    """A frame's state (the values are the C ledger's, ``enum xsk_frame_state``)."""

    POOL = lib.XSK_POOL
    USER = lib.XSK_USER
    FILL = lib.XSK_FILL
    TX = lib.XSK_TX


POOL, USER, FILL, TX = State.POOL, State.USER, State.FILL, State.TX
STATES = tuple(s.name for s in State)
"""The state names by value: ("POOL", "USER", "FILL", "TX")."""

OWNERS: Mapping[State, str] = MappingProxyType({
    POOL: "the free pool",
    USER: "the caller, through the one Batch that holds it",
    FILL: "the kernel (fill ring)",
    TX: "the kernel (TX ring, until its completion is reaped)",
})
"""Who owns a frame in each state.

:meta hide-value:
"""

Move = tuple[State, State]
"""A state change of one frame: (from, to)."""

TRANSITIONS: Mapping[str, tuple[Move, ...]] = MappingProxyType({
    # operation:       the state changes it makes, in the order one call makes them
    "Umem.take":       ((POOL, USER),),               # free frames, now the caller's
    "Umem.release":    ((USER, POOL),),               # also a Batch dropped while it owns frames
    "Batch.select":    (),                            # and split: frames change batch, not state
    "Socket.open":     ((POOL, FILL),),               # the fill ring topped up
    "Socket.fill":     ((USER, FILL),),
    "Socket.release":  ((USER, FILL), (USER, POOL)),  # the fill ring; what it has no room for, the pool
    "Socket.recv":     ((FILL, USER),                 # received
                        (POOL, FILL),                 # the fill ring topped up
                        (TX, POOL)),                  # completions reaped
    "Socket.send":     ((USER, TX), (TX, POOL)),      # on the TX ring; completions reaped
    "Socket.complete": ((TX, POOL),),                 # also flush
    "Socket.forward":  ((FILL, TX),                   # RX ring to TX ring, never the caller's
                        (FILL, POOL),                 # a received descriptor that is no frame to send
                        (POOL, FILL),                 # the fill ring topped up
                        (TX, POOL)),                  # completions reaped
    "Socket.close":    ((FILL, POOL), (TX, POOL)),    # the kernel let go of the socket's rings
})
"""The state machine: every operation that moves frames, and the moves it makes, in the order one
call makes them (the module's documentation shows it as a table). One call may take a frame along
several of its moves in that order (a frame sent and completed within one ``send``: USER -> TX ->
POOL; see ``reachable``); any other change of state is a bug in the ledger.

:meta hide-value:
"""


def _table(transitions: Mapping[str, tuple[Move, ...]]) -> str:
    """TRANSITIONS as the documentation shows it."""
    lines = ["", "", "The state machine, generated from ``TRANSITIONS`` (moves in the order one call makes them)::", ""]
    for operation, moves in transitions.items():
        shown = ", ".join(f"{a.name} -> {b.name}" for a, b in moves) or "none (frames change batch)"
        lines.append(f"    {operation:<16} {shown}")
    return "\n".join(lines) + "\n"


__doc__ = (__doc__ or "") + _table(TRANSITIONS)


def reachable(operation: str) -> frozenset[Move]:
    """(from, to) of every frame one call of ``operation`` may change: its moves, and chains of
    them in the order the call makes them (a later move taking a frame on from an earlier one)."""
    moves = TRANSITIONS[operation]
    ends: set[Move] = set()
    for i, (start, end) in enumerate(moves):
        frontier = {end}
        ends.add((start, end))
        for later_from, later_to in moves[i + 1:]:
            if later_from in frontier:
                frontier.add(later_to)
                if later_to != start:
                    ends.add((start, later_to))
    return frozenset(ends)


_TOKEN_LIMIT = 0xFFFF_FFFE


class Accounting(NamedTuple):
    """How many frames are in each state; the four always sum to ``total``."""

    pool: int
    user: int
    fill: int
    tx: int
    total: int

    @property
    def balanced(self) -> bool:
        return self.pool + self.user + self.fill + self.tx == self.total


class Ledger:
    """Per-frame ownership state for one UMEM of ``frame_count`` frames of ``frame_size`` bytes.

    ``unaligned``: the UMEM is registered in unaligned chunk mode (the kernel then reports
    received addresses as chunk start plus an offset in bits 48 and up; the data path decodes them).
    """

    def __init__(self, frame_count: int, frame_size: int, unaligned: bool = False) -> None:
        self.frame_count = frame_count
        self.frame_size = frame_size
        # One word per frame: state << 32 | owner (see XSK_WORD in xsk/_ffi/ledger.h).
        self._word = np.zeros(frame_count, dtype=np.uint64)
        self._pool = np.zeros(frame_count, dtype=np.uint32)
        self.c = ffi.new("struct xsk_ledger *")
        lib.xsk_ledger_init(
            self.c,
            ffi.from_buffer("uint64_t[]", self._word),
            ffi.from_buffer("uint32_t[]", self._pool),
            frame_count,
            frame_size,
            1 if unaligned else 0,
        )
        # Batch tokens 1.._TOKEN_LIMIT, round and round (0 names no batch): next() on this
        # C iterator is atomic under the GIL, so threads never share one. The data path calls
        # next() on tokens() inline; new_token() is the same for everyone else.
        self._tokens = itertools.chain.from_iterable(itertools.repeat(range(1, _TOKEN_LIMIT + 1)))
        self._ring_owners = itertools.count(1)
        self.bad_unread = ffi.new("uint32_t *")  # the out-slot of calls that find the bad frame with raise_refused

    def new_token(self) -> int:
        """A fresh batch token (never 0, which names no batch)."""
        return next(self._tokens)

    def tokens(self) -> Iterator[int]:
        """The token iterator itself, for the data path to call ``next()`` on inline (a method call
        less per batch); it is shared by every user of the ledger."""
        return self._tokens

    def new_ring_owner(self) -> int:
        return next(self._ring_owners)

    def accounting(self) -> Accounting:
        c = self.c.counts
        return Accounting(c[0], c[1], c[2], c[3], self.frame_count)

    @property
    def pool_available(self) -> int:
        return int(self.c.pool_len)

    @property
    def kernel_errors(self) -> int:
        """Descriptors the kernel returned that named no frame it held (should stay 0)."""
        return int(self.c.kernel_errors)

    # These read the words without the lock: "& 3" drops the mark another thread's call may
    # have on a USER frame for the moment (XSK_WORD_SEEN), which is not part of the state.
    def state_of(self, addr: int) -> str:
        return STATES[(int(self._word[addr // self.frame_size]) >> 32) & 3]

    def frames_in(self, state: str) -> np.ndarray:
        """Indices of the frames in ``state`` (a snapshot)."""
        return np.flatnonzero((self._word >> 32) & 3 == STATES.index(state))

    def held_by(self, state: str, ring_owner: int) -> int:
        """How many frames are in ``state`` ("FILL" or "TX") on the rings of ``ring_owner``."""
        if state not in ("FILL", "TX"):
            raise ConfigError(f"only FILL and TX frames are held by a ring, got {state!r}", argument="state")
        return int(np.count_nonzero(self._word == np.uint64(STATES.index(state) << 32 | ring_owner)))

    def frames_held(self, state: str, ring_owner: int) -> np.ndarray:
        """Indices of the frames in ``state`` ("FILL" or "TX") on the rings of ``ring_owner`` (a snapshot)."""
        if state not in ("FILL", "TX"):
            raise ConfigError(f"only FILL and TX frames are held by a ring, got {state!r}", argument="state")
        return np.flatnonzero(self._word == np.uint64(STATES.index(state) << 32 | ring_owner))

    def release(self, addrs: np.ndarray, token: int, addrs_c: CData | None = None) -> None:
        """USER -> POOL for every address, all held by the batch with ``token``, or raise and change nothing.

        There is no release by address alone: a frame goes back only through the batch that holds
        it (token 0 names no batch, so it is refused for every frame).
        ``addrs_c``: a cdata pointer to ``addrs`` (uint64), when the caller already has one."""
        addrs_c = _u64(addrs) if addrs_c is None else addrs_c
        rc = lib.xsk_ledger_release(self.c, addrs_c, len(addrs), token, self.bad_unread)
        if rc < 0:
            self.raise_refused(rc, addrs_c, len(addrs), token, "release")

    def raise_refused(self, rc: int, addrs_c: CData, n: int, token: int, what: str) -> NoReturn:
        """A call on the batch with ``token`` returned ``rc`` < 0 and changed nothing: raise,
        naming the frame. The call's own out-slot is not read (threads and a Batch.__del__ run
        by the garbage collector may share it): the same check fails again at the same frame,
        found here with a slot of this call's own."""
        own = ffi.new("uint32_t *")
        again = lib.xsk_ledger_check(self.c, addrs_c, n, token, own)
        if again == 0:  # another thread changed the ledger in between: the frame can't be named
            raise FrameOwnershipError(f"{what}: refused ({rc}), but the batch's frames changed while it ran "
                                      "(a batch used from two threads at once?); nothing was changed")
        self.raise_for(again, np.frombuffer(ffi.buffer(addrs_c, 8 * n), np.uint64), own[0], what)
        raise AssertionError("unreachable: raise_for raises for rc < 0")

    def release_token(self, token: int) -> int:
        """USER -> POOL for every frame held by ``token``; how many. For frames a call moved to
        the user whose batch never came to be: a signal (Ctrl-C) raised between a ring and the
        Batch that was to hold them. O(frames); the data path never calls it."""
        if not token:
            return 0
        held = np.flatnonzero(self._word == np.uint64(int(lib.XSK_USER) << 32 | token))
        if len(held):
            self.release((held * self.frame_size).astype(np.uint64), token)
        return len(held)

    def retoken(self, addrs: np.ndarray, token: int, new_token: int) -> None:
        bad = ffi.new("uint32_t *")
        rc = lib.xsk_ledger_retoken(self.c, _u64(addrs), len(addrs), token, new_token, bad)
        self.raise_for(rc, addrs, bad[0], "split")

    def reclaim(self, ring_owner: int) -> int:
        """FILL/TX -> POOL for every frame held by a socket that no longer exists in the kernel."""
        return int(lib.xsk_ledger_reclaim(self.c, ring_owner))

    def verify(self) -> None:
        """Check the whole ledger's consistency (O(frames), under its lock); raise IntegrityError if broken.

        Per-state counts must match the frames' states, and the free pool must hold exactly
        the POOL frames, each once. Descriptors the kernel returned that named no frame it
        held (``kernel_errors``) count as broken too.
        """
        frame = ffi.new("uint32_t *")
        rc = lib.xsk_ledger_verify(self.c, frame)
        problem = {
            lib.XSK_VERIFY_COUNTS: "the per-state counts don't match the frames' states",
            lib.XSK_VERIFY_POOL: f"the free pool and the POOL frames disagree at frame {frame[0]}",
            lib.XSK_VERIFY_WORD: f"frame {frame[0]} has no valid state",
        }.get(rc)
        if problem is None and self.kernel_errors:
            problem = f"the kernel returned {self.kernel_errors} descriptors that named no frame it held"
        if problem:
            raise IntegrityError(f"ledger check failed: {problem} ({self.accounting()})")

    def raise_for(self, rc: int, addrs: np.ndarray, bad: int, what: str) -> None:
        """Turn a C ledger error code (XSK_ERR_*) into a FrameOwnershipError naming the frame."""
        if rc >= 0:
            return
        addr = int(addrs[bad]) if bad < len(addrs) else -1
        size = self.frame_count * self.frame_size
        if rc == lib.XSK_ERR_RANGE:
            msg = f"address {addr:#x} is outside the UMEM (size {size:#x})"
        elif rc == lib.XSK_ERR_STATE:
            msg = f"frame at {addr:#x} is not yours: it belongs to {OWNERS[State[self.state_of(addr)]]}"
        elif rc == lib.XSK_ERR_TOKEN:
            msg = f"frame at {addr:#x} belongs to another batch (frames go back only through the batch that holds them)"
        elif rc == lib.XSK_ERR_DUP:
            msg = f"frame at {addr:#x} appears twice"
        elif rc == lib.XSK_ERR_BOUNDS:
            msg = f"descriptor at {addr:#x} runs past the end of its frame"
        else:
            msg = f"ledger error {rc}"
        raise FrameOwnershipError(f"{what}: {msg}; nothing was changed")




def _u64(addrs: np.ndarray) -> CData:
    return ffi.from_buffer("uint64_t[]", np.ascontiguousarray(addrs, dtype=np.uint64))
