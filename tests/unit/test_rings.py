"""Wrap-around and backpressure of the data path's ring moves on in-memory rings, over many laps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xsk
from xsk.testing import MemoryRing

from ..ring_path import RingPath


@settings(max_examples=40, deadline=None)
@given(ring_size=st.sampled_from([2, 4, 8, 16]), batches=st.lists(st.integers(1, 20), min_size=1, max_size=60),
       start=st.integers(0, 2**32 - 1))
def test_fill_rx_tx_comp_wrap(ring_size, batches, start):
    """Frames go round fill -> rx -> tx -> comp with indices starting anywhere (32-bit wrap included)."""
    with xsk.Umem(frame_count=32, hugepages="off") as umem:
        path = RingPath(umem, ring_size, owner=1, start=start)
        led = umem.ledger
        for want in batches:
            expected = min(want, ring_size, led.pool_available)  # the fill ring was drained last round
            assert path.refill(want) == expected
            got = path.fq.kernel_consume(ring_size)
            descs = np.zeros(len(got), dtype=path.rx.entries.dtype)
            descs["addr"], descs["len"] = got, 60
            assert path.rx.kernel_produce(descs) == len(got)
            token = led.new_token()
            addrs, lens, _ = path.recv(64, token)
            assert len(addrs) == len(got)
            k = path.send(addrs, lens, token)
            assert k == len(addrs)  # the TX ring was drained last round, so it has room
            sent = path.tx.kernel_consume(ring_size)
            assert np.array_equal(sent["addr"], got) and set(sent["len"]) <= {60}
            path.cq.kernel_produce(sent["addr"])
            assert path.complete() == k
            assert umem.accounting() == (32, 0, 0, 0, 32)
        for ring in (path.fq, path.cq, path.rx, path.tx):
            assert int(ring.producer[0]) == int(ring.consumer[0])


def test_backpressure_never_loses_frames():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        path = RingPath(umem, 4, owner=1)
        b = umem.take(10)
        b.write_template(bytes(60))
        total = 0
        while len(b):
            k = path.send(b._addrs, b._lens, b._token)
            b._consume(k)
            total += k
            acc = umem.accounting()
            assert acc.balanced and acc.tx + acc.user == 10
            path.tx.kernel_consume(3)
        assert total == 10 and b.spent
        assert umem.ledger.reclaim(1) == 10  # the socket is gone: its TX frames come back


def test_ring_size_must_be_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        MemoryRing(6, "fill")
