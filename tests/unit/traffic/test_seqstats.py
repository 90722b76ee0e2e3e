"""Sequence statistics: loss, duplicates, reordering and latency in fixed memory, in place or from rows."""

import struct

import numpy as np
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import xsk
from xsk.traffic._seqstats import WINDOW, SeqStats


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


def _timed_frames(stream, nums, sent_ns, length=60):
    """Frames of `stream` numbered `nums`, frame i sent at sent_ns[i]."""
    base = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(bytes(18)))
    base = base + bytes(length - len(base))
    rows = []
    for n, t in zip(nums, sent_ns, strict=True):
        f = bytearray(base)
        f[42:60] = b"XK" + struct.pack(">QQ", (stream << 56) | n, t)
        rows.append(np.frombuffer(bytes(f), np.uint8))
    return np.stack(rows), np.full(len(rows), len(base))


def test_histogram_buckets_hold_their_values_and_are_at_most_0_8_percent_wide():
    from xsk._binding import lib
    from xsk.traffic._seqstats import BUCKETS, bucket_bounds

    rng = np.random.default_rng(1)
    values = np.unique(np.concatenate([np.arange(0, 3000), (2.0 ** rng.uniform(0, 41.9, 20000)).astype(np.int64)]))
    idx = np.array([lib.xsk_hist_index(int(v)) for v in values])
    low, high = bucket_bounds(idx)
    assert (low <= values).all() and (values < high).all()
    assert (np.diff(idx) >= 0).all() and idx.max() < BUCKETS
    assert ((high - low) / np.maximum(low, 1) <= 1 / 128 + 1e-12)[low >= 256].all()
    assert lib.xsk_hist_index(1 << 60) == BUCKETS - 1  # beyond the range: the last bucket


def test_per_stream_latency_percentiles_and_jitter_against_numpy_and_rfc3550():
    rng = np.random.default_rng(7)
    s = SeqStats()
    arrival = 10**12
    truth = {}
    for stream, scale in ((1, 20_000), (2, 400_000)):
        lat = rng.lognormal(np.log(scale), 0.6, 5000).astype(np.int64)
        rows, lens = _timed_frames(stream, range(5000), [arrival - v for v in lat], length=100 + stream)
        for i in range(0, 5000, 250):  # the same arrival time for a batch, as the sink reads them
            s.add_batch(rows[i:i + 250], lens[i:i + 250], now_ns=arrival)
        truth[stream] = lat
    out = s.summary(histogram=True)
    assert out["streams"] == 2 and set(out["per_stream"]) == {"1", "2"}
    for stream, lat in truth.items():
        r = out["per_stream"][str(stream)]
        assert (r["packets"], r["bytes"], r["lost"]) == (5000, 5000 * (100 + stream), 0)
        for q in (50, 90, 99, 99.9):
            want = np.percentile(lat, q, method="inverted_cdf") / 1000
            assert want <= r["latency_us"][f"p{q:g}"] <= want * (1 + 1 / 128) + 0.001, (stream, q)
        assert r["latency_us"]["min"] == round(lat.min() / 1000, 2)
        assert r["latency_us"]["max"] == round(lat.max() / 1000, 2)
        assert r["latency_us"]["mean"] == round(lat.mean() / 1000, 2)
        j = 0.0
        for d in np.diff(-lat):  # transit = arrival - sent = lat; D = transit_i - transit_{i-1}
            j += (abs(d) - j) / 16
        assert r["jitter_us"] == round(j / 1000, 2)
        assert sum(c for _, _, c in r["latency_hist_us"]) == 5000
    total = np.concatenate(list(truth.values()))
    assert np.percentile(total, 99, method="inverted_cdf") / 1000 <= out["latency_us"]["p99"]


def test_loss_is_counted_on_its_own_stream_and_queues_merge_exactly():
    a, b = SeqStats(), SeqStats()
    rows, lens = _timed_frames(0, [0, 1, 2, 3, 4], [1000] * 5)
    a.add_batch(rows, lens, now_ns=5000)
    rows, lens = _timed_frames(3, [0, 2, 4, 4], [1000, 2000, 3000, 3000])  # 1 and 3 lost, 4 twice
    b.add_batch(rows, lens, now_ns=9000)
    merged = SeqStats.merged([a.export(), b.export()])
    assert merged["per_stream"]["0"]["lost"] == 0 and merged["per_stream"]["3"]["lost"] == 2
    assert merged["per_stream"]["3"]["duplicates"] == 1 and merged["lost"] == 2
    both = SeqStats()
    for rows, lens, now in ((*_timed_frames(0, [0, 1, 2, 3, 4], [1000] * 5), 5000),
                            (*_timed_frames(3, [0, 2, 4, 4], [1000, 2000, 3000, 3000]), 9000)):
        both.add_batch(rows, lens, now_ns=now)
    assert both.summary() == merged
