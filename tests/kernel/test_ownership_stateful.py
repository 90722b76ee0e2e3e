"""The ownership state machine (tests/ownership_model.py) against the real kernel over veth."""

import time

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

import xsk

from ..ownership_model import FRAMES, OwnershipMachine, World
from .traffic import template


class VethWorld(World):
    """A TX socket on one end and an RX socket on the other, one UMEM: sent frames come back
    through the receiver's fill and RX rings."""

    def __init__(self, umem: xsk.Umem, pair) -> None:
        self.umem = umem
        self.pair = pair
        self.template = template(pair)

    def open(self) -> None:
        a, b = self.pair.a, self.pair.b
        self.sender = xsk.Socket(self.umem, a.ifname, netns=a.netns, rx=False, ring_size=32)
        self.receiver = xsk.Socket(self.umem, b.ifname, netns=b.netns, tx=False, ring_size=32, fill_frames=16)

    def settle(self) -> None:
        time.sleep(0.002)  # veth delivers in the receiver's softirq, just after the send


def test_ownership_state_machine_over_veth(veth_pair):
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        class Machine(OwnershipMachine):
            world = VethWorld(umem, veth_pair)

        run_state_machine_as_test(Machine, settings=settings(
            max_examples=20, stateful_step_count=30, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
