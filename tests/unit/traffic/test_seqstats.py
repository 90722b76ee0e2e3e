"""Sequence statistics: loss, duplicates, reordering and latency in fixed memory, in place or from rows."""

import struct

import numpy as np
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import xsk
from xsk.traffic.seqstats import WINDOW, SeqStats


def _seq_frames(nums, stream=0):
    base = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(bytes(18)))
    rows = []
    for n in nums:
        f = bytearray(base)
        f[42:60] = b"XK" + struct.pack(">QQ", (stream << 56) | n, 1000)
        rows.append(np.frombuffer(bytes(f), np.uint8))
    return np.stack(rows), np.full(len(rows), len(base))


def test_seqstats_counts_loss_duplicates_reordering():
    s = SeqStats()
    for chunk in ([0, 1, 2, 3], [5, 4, 4], [9, 7], [0]):
        rows, lens = _seq_frames(chunk)
        s.add_batch(rows, lens, now_ns=3000)
    out = s.summary()
    assert out["lost"] == 2  # 6 and 8
    assert out["duplicates"] == 2  # the second 4 and the second 0
    assert out["reordered"] == 2  # 4 after 5, 7 after 9
    assert out["latency_us"]["min"] == 2.0


def test_seqstats_window_keeps_memory_fixed_and_counts_what_falls_behind():
    s = SeqStats()
    for first in range(0, 3 * WINDOW, 4096):  # far more numbers than the window holds
        rows, lens = _seq_frames(range(first, first + 4096))
        s.add_batch(rows, lens, now_ns=3000)
    (stream,) = s.streams.values()
    assert len(stream.bits) == WINDOW
    rows, lens = _seq_frames([3 * WINDOW - 5, 3 * WINDOW - 5, 5])  # a duplicate inside, one long gone
    s.add_batch(rows, lens, now_ns=3000)
    out = s.summary()
    assert out["duplicates"] == 2 and out["too_late"] == 1 and out["lost"] == 0


def test_seqstats_reads_a_batch_in_place_like_rows():
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        rows, lens = _seq_frames([0, 1, 3, 2, 2, 9])
        b = umem.take(len(rows))
        for i, row in enumerate(rows):
            b.write(i, row.tobytes())
        in_place, copied = SeqStats(), SeqStats()
        in_place.add_frames(b, now_ns=3000)
        copied.add_batch(rows, lens, now_ns=3000)
        assert in_place.summary() == copied.summary()
        assert in_place.summary()["lost"] == 5 and in_place.summary()["duplicates"] == 1
        b.release()
