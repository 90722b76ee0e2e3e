"""replies.swap_macs: one C call, checked before any frame changes."""

import numpy as np
import pytest

import xsk
from xsk import replies


def test_swap_macs_swaps_every_frame_and_refuses_a_frame_too_short_for_it():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(3)
        for i in range(3):
            b.write(i, bytes([i] * 6 + [0xA0 + i] * 6) + b"payload")
        replies.swap_macs(b)
        assert [bytes(b.data(i)[:12]) for i in range(3)] == [bytes([0xA0 + i] * 6 + [i] * 6) for i in range(3)]
        before = b.gather(12)
        b.set_offsets(np.array([0, 0, umem.frame_size - 8]))  # the last frame's data can't hold two MACs
        with pytest.raises(xsk.ConfigError, match="too close to the end of its frame"):
            replies.swap_macs(b)
        b.set_offsets(0)
        assert np.array_equal(b.gather(12), before)  # nothing was swapped
        b.release()
