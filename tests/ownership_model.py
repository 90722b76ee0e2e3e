"""A hypothesis state machine for frame ownership, run against in-memory rings and real veth.

It drives random sequences of take / fill / recv / send / release / split / reap / close
on one UMEM and keeps a model: which frames each live batch holds. Every step must move
frames only as ``xsk._ledger.TRANSITIONS`` says its operation may (the model has no rules of
its own about states); after every step it checks the invariant (every frame in exactly one
state, the states summing to the total, each live batch's frames USER and reachable through
that batch alone, no USER frame that no batch holds). Illegal steps (reusing a spent batch,
an oversized frame, a frame of another UMEM, a release by address of a frame a batch holds)
must raise and change nothing.

A ``World`` supplies the sockets: ``MemoryWorld`` one in-memory socket whose stand-in
kernel completes TX and returns fill frames as RX; the veth world a TX socket on one end
and an RX socket on the other, both on the same UMEM, so frames go all the way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import xsk
from xsk._ledger import TRANSITIONS, State, reachable

FRAMES = 64


def states(umem: xsk.Umem) -> np.ndarray:
    """Every frame's state, by frame index."""
    return (umem.ledger._word >> np.uint64(32)) & np.uint64(3)


@contextlib.contextmanager
def moves_as(umem: xsk.Umem, operation: str, violations: list[str] | None = None) -> Iterator[None]:
    """The body (one call of ``operation``) moves frames only as the ledger's table allows.

    A move outside the table is added to ``violations`` (for the state machine's invariant
    to report once the step's bookkeeping is done), or raised at once without a list."""
    assert operation in TRANSITIONS
    before = states(umem)
    yield
    after = states(umem)
    changed = before != after
    made = {(State(int(a)), State(int(b))) for a, b in zip(before[changed], after[changed], strict=True)}
    outside = made - reachable(operation)
    if outside:
        problem = f"{operation} moved frames {sorted(outside)}: not in xsk._ledger.TRANSITIONS"
        if violations is None:
            raise AssertionError(problem)
        violations.append(problem)


def snapshot(umem: xsk.Umem):
    led = umem.ledger
    return led._word.copy(), int(led.c.pool_len), umem.accounting()


def assert_unchanged(umem: xsk.Umem, before) -> None:
    after = snapshot(umem)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


class World:
    """Where frames go: ``open()`` makes the sockets, ``sender``/``receiver`` use them."""

    umem: xsk.Umem
    sender: xsk.Socket
    receiver: xsk.Socket
    template: bytes  # the frame every send carries

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        for sock in {id(self.sender): self.sender, id(self.receiver): self.receiver}.values():
            sock.close()

    def settle(self) -> None:
        """Give the kernel a moment to move frames (the in-memory one moves them on demand)."""


class OwnershipMachine(RuleBasedStateMachine):
    world: World  # set by the subclass made in each test module

    def __init__(self) -> None:
        super().__init__()
        self.umem = self.world.umem
        self.other = xsk.Umem(frame_count=8, hugepages="off")
        with moves_as(self.umem, "Socket.open"):
            self.world.open()
        self.open = True
        self.batches: list[xsk.Batch] = []
        self.spent: list[xsk.Batch] = []
        self.violations: list[str] = []

    def teardown(self) -> None:
        for b in self.batches:
            self._release(b)
        if self.open:
            with moves_as(self.umem, "Socket.close"):
                self.world.close()
        self.other.close()
        acc = self.umem.accounting()
        assert acc.pool == acc.total, f"frames not back in the pool after close: {acc}"

    # --- helpers ---------------------------------------------------------------------------
    def _moves(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return moves_as(self.umem, operation, self.violations)

    def _keep(self, b: xsk.Batch) -> None:
        if len(b):
            self.batches.append(b)

    def _release(self, b: xsk.Batch) -> None:
        to_socket = b._source is not None and not b._source.closed
        with self._moves("Socket.release" if to_socket else "Umem.release"):
            b.release()

    def _after_handover(self, i: int) -> None:
        b = self.batches[i]
        if b.spent:
            self.spent.append(self.batches.pop(i))

    # --- legal steps -----------------------------------------------------------------------
    @rule(n=st.integers(0, 24), length=st.sampled_from([0, 60, 1500]))
    def take(self, n, length):
        pool = self.umem.accounting().pool
        with self._moves("Umem.take"):
            b = self.umem.take(n, length)
        assert len(b) == min(n, pool)
        self._keep(b)

    @precondition(lambda self: self.open)
    @rule(n=st.integers(1, 64))
    def recv(self, n):
        self.world.settle()
        with self._moves("Socket.recv"):
            self._keep(self.world.receiver.recv(n, timeout=0))

    @precondition(lambda self: self.open and self.batches)
    @rule(data=st.data())
    def send(self, data):
        i = data.draw(st.integers(0, len(self.batches) - 1))
        b = self.batches[i]
        b.write_template(self.world.template)
        before = len(b)
        with self._moves("Socket.send"):
            k = self.world.sender.send(b)
        assert 0 <= k <= before and len(b) == before - k
        self._after_handover(i)

    @precondition(lambda self: self.open)
    @rule(n=st.integers(1, 16))
    def round_trip(self, n):
        """take, send and receive in one step, so frames go all the way round often."""
        with self._moves("Umem.take"):
            b = self.umem.take(n)
        if len(b):
            b.write_template(self.world.template)
            with self._moves("Socket.send"):
                self.world.sender.send(b)
            self._keep(b)  # what the TX ring had no room for stays with us
        self.world.settle()
        with self._moves("Socket.recv"):
            self._keep(self.world.receiver.recv(64, timeout=0))

    @precondition(lambda self: self.open)
    @rule(n=st.integers(1, 64))
    def forward(self, n):
        """The receiver's RX ring straight onto the sender's TX ring: user space gains no frame."""
        self.world.settle()
        with self._moves("Socket.forward"):
            k = self.world.receiver.forward(n, timeout=0, out=self.world.sender)
        assert 0 <= k <= n

    @precondition(lambda self: self.open and self.spent)
    @rule(data=st.data(), n=st.integers(0, 24), how=st.sampled_from(["take", "recv"]))
    def refill_a_spent_batch(self, data, n, how):
        """into=: a batch that owns nothing is refilled in place, with a fresh token."""
        b = self.spent.pop(data.draw(st.integers(0, len(self.spent) - 1)))
        if how == "take":
            pool = self.umem.accounting().pool
            with self._moves("Umem.take"):
                assert self.umem.take(n, 60, into=b) is b and len(b) == min(n, pool)
            assert np.all(b.lens == 60)
        else:
            self.world.settle()
            with self._moves("Socket.recv"):
                assert self.world.receiver.recv(max(n, 1), timeout=0, into=b) is b
        assert not b.spent
        self._keep(b)

    @precondition(lambda self: self.open and self.batches)
    @rule(data=st.data())
    def fill(self, data):
        i = data.draw(st.integers(0, len(self.batches) - 1))
        b = self.batches[i]
        before = len(b)
        with self._moves("Socket.fill"):
            k = self.world.receiver.fill(b)
        assert len(b) == before - k
        self._after_handover(i)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def release(self, data):
        i = data.draw(st.integers(0, len(self.batches) - 1))
        self._release(self.batches[i])
        self._after_handover(i)

    @precondition(lambda self: self.batches)
    @rule(data=st.data())
    def split(self, data):
        i = data.draw(st.integers(0, len(self.batches) - 1))
        b = self.batches[i]
        k = data.draw(st.integers(0, len(b)))
        with self._moves("Batch.select"):
            head = b.split(k)
        assert len(head) == k
        self._keep(head)
        if not len(b):
            self.batches.pop(i)

    @precondition(lambda self: self.open)
    @rule()
    def reap(self):
        self.world.settle()
        with self._moves("Socket.complete"):
            self.world.sender.complete()

    @precondition(lambda self: self.open)
    @rule()
    def close_and_reopen(self):
        with self._moves("Socket.close"):
            self.world.close()
        self.open = False
        acc = self.umem.accounting()
        assert acc.fill == 0 and acc.tx == 0  # the kernel's frames came back with the sockets
        assert acc.user == sum(len(b) for b in self.batches)
        with pytest.raises(xsk.ClosedError):
            self.world.sender.send(self.umem.take(0))
        with self._moves("Socket.open"):
            self.world.open()
        self.open = True

    # --- illegal steps: each raises and changes nothing -------------------------------------
    @precondition(lambda self: self.open and self.spent)
    @rule(data=st.data(), how=st.sampled_from(["send", "release", "fill", "split"]))
    def reuse_a_spent_batch(self, data, how):
        b = data.draw(st.sampled_from(self.spent))
        before = snapshot(self.umem)
        with pytest.raises(xsk.FrameOwnershipError):
            {"send": lambda: self.world.sender.send(b), "release": b.release,
             "fill": lambda: self.world.receiver.fill(b), "split": lambda: b.split(0)}[how]()
        assert_unchanged(self.umem, before)

    @precondition(lambda self: self.open and self.batches)
    @rule(data=st.data(), how=st.sampled_from(["take", "recv"]))
    def refill_a_batch_that_still_owns_frames(self, data, how):
        b = data.draw(st.sampled_from(self.batches))
        before = snapshot(self.umem)
        with pytest.raises(xsk.FrameOwnershipError, match="still owns"):
            if how == "take":
                self.umem.take(1, into=b)
            else:
                self.world.receiver.recv(1, timeout=0, into=b)
        assert_unchanged(self.umem, before)

    @precondition(lambda self: self.open and self.batches)
    @rule(data=st.data())
    def send_an_oversized_frame(self, data):
        b = data.draw(st.sampled_from(self.batches))
        saved = b.lens.copy()
        b.lens[-1] = self.umem.frame_size + 1
        before = snapshot(self.umem)
        with pytest.raises(xsk.FrameTooLargeError):
            self.world.sender.send(b)
        assert_unchanged(self.umem, before)
        b.lens[:] = saved

    @precondition(lambda self: self.open)
    @rule()
    def send_a_batch_of_another_umem(self):
        b = self.other.take(1)
        before = snapshot(self.umem)
        with pytest.raises(xsk.FrameOwnershipError, match="another UMEM"):
            self.world.sender.send(b)
        assert_unchanged(self.umem, before)
        b.release()

    @precondition(lambda self: self.batches)
    @rule(data=st.data(), through=st.sampled_from(["no batch", "another batch"]))
    def release_a_held_frame_by_address(self, data, through):
        """Handing back a frame a live batch holds, by its address, is refused whatever names it:
        Umem.release takes only the batch, and the ledger only the token of the batch holding it."""
        b = data.draw(st.sampled_from(self.batches))
        addr = int(b.addrs[data.draw(st.integers(0, len(b) - 1))])
        others = [o for o in self.batches if o is not b]
        token = 0 if through == "no batch" or not others else data.draw(st.sampled_from(others))._token
        before = snapshot(self.umem)
        with pytest.raises(TypeError):
            self.umem.release([addr])  # type: ignore[arg-type]
        with pytest.raises(xsk.FrameOwnershipError, match="another batch"):
            self.umem.ledger.release(np.array([addr], dtype=np.uint64), token)
        assert_unchanged(self.umem, before)

    # --- the invariant ---------------------------------------------------------------------
    @invariant()
    def every_move_is_in_the_ledgers_table(self):
        assert not self.violations, self.violations

    @invariant()
    def every_frame_has_one_owner(self):
        self.umem.verify()
        acc = self.umem.accounting()
        assert acc.balanced and acc.pool + acc.user + acc.fill + acc.tx == acc.total
        led = self.umem.ledger
        held = np.zeros(self.umem.frame_count, dtype=np.int64)
        for b in self.batches:
            assert not b.spent and len(b)
            idx = b.frame_indices
            held[idx] += 1
            words = led._word[idx]
            assert np.all(words >> 32 == 1), "a batch holds a frame that is not USER"
            assert np.all(words & 0xFFFF_FFFF == b._token), "a batch holds a frame under another token"
        assert held.max(initial=0) <= 1, "a frame is reachable through two batches"
        assert int(held.sum()) == acc.user, "a USER frame that no batch holds (leaked)"
