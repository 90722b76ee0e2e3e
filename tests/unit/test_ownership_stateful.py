"""The ownership state machine (tests/ownership_model.py) against rings in ordinary memory."""

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

import xsk
from xsk.testing import MemorySocket

from ..ownership_model import FRAMES, OwnershipMachine, World


class MemoryWorld(World):
    """One in-memory socket: its stand-in kernel completes every TX frame and turns fill
    frames into 60-byte RX frames whenever the socket kicks or waits."""

    template = bytes(60)

    def __init__(self, umem: xsk.Umem) -> None:
        self.umem = umem

    def open(self) -> None:
        self.sender = self.receiver = MemorySocket(self.umem, ring_size=16)

    def settle(self) -> None:
        self.sender._kick()


def test_ownership_state_machine_in_memory():
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        class Machine(OwnershipMachine):
            world = MemoryWorld(umem)

        run_state_machine_as_test(Machine, settings=settings(
            max_examples=150, stateful_step_count=40, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
