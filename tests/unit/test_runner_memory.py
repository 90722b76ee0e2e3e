"""Runner over MemorySockets (no kernel): what happens to replies the TX ring has no room for."""

from __future__ import annotations

import numpy as np

import xsk
from xsk._runner import Runner
from xsk.testing import MemorySocket


def test_replies_the_tx_ring_never_takes_are_counted_and_returned_not_lost():
    with (xsk.Umem(frame_count=512, hugepages="off") as umem, MemorySocket(umem, ring_size=64, rx_len=60) as rx,
          MemorySocket(umem, ring_size=16) as tx):
        # nothing drains the replies' TX ring: it holds 16
        tx.kernel_running = False
        every = Runner(rx, lambda b, h: True, batch=32, tx=tx, send_retries=3)
        stats = every.run(count=32, handle_signals=False)
        # 16 fit on the first send and the two retries place none: 16 dropped, back to the fill ring
        assert (stats.received, stats.replied, stats.tx_dropped, stats.returned) == (32, 16, 16, 0)
        odd = Runner(rx, lambda b, h: np.arange(len(b)) % 2 == 1, batch=8, tx=tx, send_retries=1)
        stats = odd.run(count=8, handle_signals=False)
        assert (stats.received, stats.replied, stats.tx_dropped, stats.returned) == (8, 0, 4, 4)
        acc = umem.accounting()
        assert acc.user == 0 and acc.tx == 16  # nothing left with the user; 16 wait for the kernel
        tx.kernel_running = True
        assert tx.flush(timeout=1)
        umem.verify()


def test_a_reply_that_fits_only_partly_goes_on_the_next_try():
    """The first send takes what the TX ring has room for and wakes the stand-in kernel, which
    completes it; the retry sends the rest. With one try only, the rest are counted dropped."""
    with (xsk.Umem(frame_count=512, hugepages="off") as umem, MemorySocket(umem, ring_size=64, rx_len=60) as rx,
          MemorySocket(umem, ring_size=16) as tx):
        stats = Runner(rx, lambda b, h: True, batch=32, tx=tx, send_retries=2).run(count=32, handle_signals=False)
        assert (stats.received, stats.replied, stats.tx_dropped, stats.returned) == (32, 32, 0, 0)
        stats = Runner(rx, lambda b, h: True, batch=32, tx=tx, send_retries=1).run(count=32, handle_signals=False)
        assert (stats.received, stats.replied, stats.tx_dropped, stats.returned) == (32, 16, 16, 0)
        assert tx.flush(timeout=1) and umem.accounting().user == 0
        umem.verify()
