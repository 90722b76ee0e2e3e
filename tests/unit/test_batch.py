"""Batch contents: views and writes stay inside the frames the batch owns."""

import numpy as np
import pytest

import xsk


def test_views_and_patches_stay_inside_their_frames():
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        b = umem.take(2)
        b.lens[0] = 4096
        with pytest.raises(xsk.FrameTooLargeError):
            b.data(0)
        with pytest.raises(xsk.FrameTooLargeError):
            b.patch(2040, np.zeros((2, 16), dtype=np.uint8))
        umem.release(b)
