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


def test_read_at_on_one_frame_checks_its_bounds_like_the_general_path():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(1)
        b.write_template(bytes(range(100)))
        assert b.read_at(14, 4).tolist() == [[14, 15, 16, 17]]
        assert b.read_at(np.int64(14), 2).tolist() == b.read_at(np.array([14]), 2).tolist() == [[14, 15]]
        room = int(b.room_all()[0])
        assert b.read_at(room - 1, 1).shape == (1, 1)
        for offset in (-1, room):
            with pytest.raises(xsk.FrameTooLargeError, match="past the end"):
                b.read_at(offset, 1)
        b.write_at(14, np.array([9, 9], dtype=np.uint8))
        assert b.read_at(13, 4).tolist() == [[13, 9, 9, 16]]
        b.release()
