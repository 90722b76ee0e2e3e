"""Wrap-around and backpressure of the ring helpers on in-memory rings, over many laps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xsk
from xsk._binding import ffi, lib
from xsk.rings import MemoryRing


@settings(max_examples=40, deadline=None)
@given(ring_size=st.sampled_from([2, 4, 8, 16]), batches=st.lists(st.integers(1, 20), min_size=1, max_size=60),
       start=st.integers(0, 2**32 - 1))
def test_fill_rx_tx_comp_wrap(ring_size, batches, start):
    """Frames go round fill -> rx -> tx -> comp with indices starting anywhere (32-bit wrap included)."""
    with xsk.Umem(frame_count=32, hugepages="off") as umem:
        rings = {k: MemoryRing(ring_size, k) for k in ("fill", "rx", "tx", "comp")}
        for ring in rings.values():
            ring.producer[0] = ring.consumer[0] = start
            lib.xsk_shim_fake_ring(ring.c, ffi.from_buffer("uint32_t[]", ring.producer),
                                   ffi.from_buffer("uint32_t[]", ring.consumer),
                                   ffi.from_buffer("uint32_t[]", ring.flags), ffi.from_buffer(ring.entries),
                                   ring_size, 1 if ring.kind in ("fill", "tx") else 0)
        led = umem.ledger
        addrs, lens = np.zeros(64, np.uint64), np.zeros(64, np.uint32)
        for want in batches:
            expected = min(want, ring_size, led.pool_available)  # the fill ring was drained last round
            pushed = lib.xsk_shim_fill_from_pool(led.c, rings["fill"].c, want, 1)
            assert pushed == expected
            got = rings["fill"].kernel_consume(ring_size)
            descs = np.zeros(len(got), dtype=rings["rx"].entries.dtype)
            descs["addr"], descs["len"] = got, 60
            assert rings["rx"].kernel_produce(descs) == len(got)
            token = led.new_token()
            n = lib.xsk_shim_rx(led.c, rings["rx"].c, ffi.from_buffer("uint64_t[]", addrs),
                                ffi.from_buffer("uint32_t[]", lens), 64, token)
            assert n == len(got)
            bad = ffi.new("uint32_t *")
            k = lib.xsk_shim_tx(led.c, rings["tx"].c, ffi.from_buffer("uint64_t[]", addrs),
                                ffi.from_buffer("uint32_t[]", lens), n, token, 1, 1, bad)
            assert k == n  # the TX ring was drained last round, so it has room
            sent = rings["tx"].kernel_consume(ring_size)
            assert np.array_equal(sent["addr"], got) and set(sent["len"]) <= {60}
            rings["comp"].kernel_produce(sent["addr"])
            assert lib.xsk_shim_complete(led.c, rings["comp"].c, 64) == n
            assert umem.accounting() == (32, 0, 0, 0, 32)
        for ring in rings.values():
            assert int(ring.producer[0]) == int(ring.consumer[0])


def test_backpressure_never_loses_frames():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        tx = MemoryRing(4, "tx")
        b = umem.take(10)
        b.fill(bytes(60))
        bad = ffi.new("uint32_t *")
        total = 0
        while len(b):
            k = lib.xsk_shim_tx(umem.ledger.c, tx.c, ffi.from_buffer("uint64_t[]", b._addrs),
                                ffi.from_buffer("uint32_t[]", b._lens), len(b), b._token, 1, 1, bad)
            b._consume(k)
            total += k
            acc = umem.accounting()
            assert acc.balanced and acc.tx + acc.user == 10
            tx.kernel_consume(3)
        assert total == 10 and b.spent


def test_ring_size_must_be_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        MemoryRing(6, "fill")
