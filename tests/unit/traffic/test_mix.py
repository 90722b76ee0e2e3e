"""The multi-stream scheduler in memory: frames made right (lengths, checksums, sequence
numbers), interleaved by rate, sizes in their ratio, unsent packets given back. scapy is the
oracle for every header; no kernel here (tests/kernel/test_profiles.py sends them over veth)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

import xsk
from xsk.traffic._mix import Mix, catch_up_depth, resolve
from xsk.traffic._profile import Profile, Stream

MS = 1_000_000


def _profile():
    udp = Stream(Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(sport=1, dport=9), name="imix",
                 rate=30_000, size="imix", fields={"src_port": "1000-1009", "dst_ip": "192.0.2.2-192.0.2.9"})
    tcp6 = Stream("Ether(dst='02:00:00:00:00:0b')/IPv6(src='fd00::1', dst='fd00::2')/TCP(dport=80)/Raw(b'x'*30)",
                  name="tcp6", rate=10_000, size="110-125", seq=True)
    return Profile([udp, tcp6])


def _plans():
    return resolve(_profile(), src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")


def _rebuilt(frame: bytes) -> bytes:
    """The frame as scapy builds it with every length and checksum recomputed."""
    p = Ether(frame)
    for layer in (IP, IPv6, UDP, TCP):
        if layer in p:
            for name in ("len", "plen", "chksum"):
                if name in p[layer].fields:
                    delattr(p[layer], name)
    return bytes(p)


def _run(mix, umem, until_ns, step_ns=MS, batch=64):
    frames, which = [], []
    b = umem.take(0)
    for now in range(0, until_ns, step_ns):
        while True:
            n = mix.due(now)
            if not n:
                break
            b = umem.take(min(n, batch), into=b)
            assert mix.fill(b, now) == len(b)
            frames += [bytes(b.data(i)) for i in range(len(b))]
            which += mix._which[:len(b)].tolist()
            b.release()
    return frames, which


def test_frames_are_whole_packets_interleaved_by_rate_with_dense_sequence_numbers():
    plans = _plans()
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        frames, which = _run(mix, umem, 100 * MS)
    which = np.array(which)
    # the last instant is 99 ms: packets 0..2970 of the 30k pps stream, 0..990 of the 10k one
    assert abs(int((which == 0).sum()) - 2971) <= 2 and abs(int((which == 1).sum()) - 991) <= 2
    # frame by frame: in any 40 consecutive frames, about 3 of the imix stream for each tcp6 one
    for at in range(0, len(which) - 40, 40):
        assert 26 <= int((which[at:at + 40] == 0).sum()) <= 34
    seqs: dict[int, list[int]] = {0: [], 1: []}
    sizes = []
    for f, w in zip(frames, which, strict=True):
        assert _rebuilt(f) == f, "lengths and checksums as scapy computes them"
        p = Ether(f)
        payload = bytes((p[UDP] if UDP in p else p[TCP]).payload)
        assert payload[:2] == b"XK"
        seq = struct.unpack(">Q", payload[2:10])[0]
        assert seq >> 56 == w
        seqs[w].append(seq & ((1 << 56) - 1))
        if w == 0:
            sizes.append(len(f))
    assert all(v == list(range(len(v))) for v in seqs.values())
    cycles = len(sizes) // 12
    whole = sizes[:cycles * 12]  # every 12 frames: 7 of 60, 4 of 590, 1 of 1514 bytes
    assert {s: whole.count(s) for s in (60, 590, 1514)} == {60: 7 * cycles, 590: 4 * cycles, 1514: cycles}
    big = [i for i, s in enumerate(whole) if s == 1514]
    assert set(np.diff(big)) == {12}, "spread out, not bunched"


def test_fields_walk_their_ranges_per_stream():
    plans = _plans()
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        frames, which = _run(Mix(plans, umem, 64), umem, 5 * MS)
    udp = [Ether(f) for f, w in zip(frames, which, strict=True) if w == 0]
    assert [p[UDP].sport for p in udp[:12]] == [1000 + i % 10 for i in range(12)]
    assert [p[IP].dst for p in udp[:9]] == [f"192.0.2.{2 + i % 8}" for i in range(9)]


def test_unsent_packets_are_given_back_and_sent_again_with_the_same_numbers():
    plans = _plans()
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        b = umem.take(mix.due(10 * MS))
        n = mix.fill(b, 10 * MS)
        first = [bytes(b.data(i))[42:60] for i in range(n)]
        mix.unsend(5, n)  # only five left
        b.release()
        assert mix.due(10 * MS) >= n - 5  # the five given back are due again
        again = umem.take(n - 5)
        assert mix.fill(again, 10 * MS) == n - 5
        # the same packets, but the transmit time (last 8 bytes of the header) is taken anew
        assert [bytes(again.data(i))[42:52] for i in range(n - 5)] == [f[:10] for f in first[5:]]
        again.release()
        assert sum(r["packets"] for r in mix.results()) == n


def test_start_count_and_duration_bound_each_stream():
    s = [Stream(Ether() / IP() / UDP(), name="late", rate=1000, start=0.05, count=20),
         Stream(Ether() / IP() / UDP(), name="short", rate=1000, duration=0.03)]
    plans = resolve(Profile(s), src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        mix = Mix(plans, umem, 16)
        assert mix.next_ns(0) == 0
        _run(mix, umem, 200 * MS, batch=16)
        late, short = mix.results()
        assert late["packets"] == 20 and late["first_s"] == pytest.approx(0.05, abs=0.0011)
        assert short["packets"] == 30 and short["last_s"] < 0.03
        assert mix.next_ns(200 * MS) == -1  # both finished


def test_a_stream_behind_its_schedule_catches_up_at_twice_its_rate():
    plans = resolve(Profile([Stream(Ether() / IP() / UDP(), rate=10_000, burst=8)]), src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        _run(mix, umem, 10 * MS, step_ns=MS // 10)
        assert mix.results()[0]["packets"] == 100
        # nothing sent from 10 ms to 60 ms: 500 packets behind. One wake-up may send what twice the
        # rate sends in 10 ms, at most 64 frames (one batch): never the backlog at once
        assert mix.due(60 * MS) == catch_up_depth(8, 10_000) == 64, "one batch at once, not the backlog"
        counts = []
        b = umem.take(0)
        for now in range(60 * MS, 160 * MS, MS // 10):
            n = mix.due(now)
            if n:
                b = umem.take(n, into=b)
                mix.fill(b, now)
                b.release()
            counts.append(mix.results()[0]["packets"])
        per_ms = np.diff(counts[::10])
        assert per_ms[0] <= 64 + 20 + 1 and per_ms[1:].max() <= 20 + 1, "then caught up at most at 2 x 10k pps"
        assert per_ms[5:40].min() >= 19, "and at that rate while behind"
        assert abs(counts[-1] - 1600) <= 1, "then back on the schedule"


def test_sizes_below_the_packet_or_beyond_the_frame_are_refused_naming_the_stream():
    big = Stream(Ether() / IP() / UDP() / (b"x" * 100), name="big", size=64)
    with pytest.raises(xsk.ConfigError, match=r"stream 0 \('big'\): size: size 64 is smaller than the stream's 142"):
        resolve(Profile([big]), src_mac="02:00:00:00:00:0a")
    jumbo = Stream(Ether() / IP() / UDP(), name="jumbo", size=3000)
    with pytest.raises(xsk.ConfigError, match=r"'jumbo'\): size: size 3000 does not fit a 2048-byte UMEM frame"):
        resolve(Profile([jumbo]), src_mac="02:00:00:00:00:0a")


def test_a_multi_burst_stream_sends_its_bursts_with_the_gap_between_them():
    s = Stream(Ether() / IP() / UDP(), name="mb", rate=10_000, burst=5, bursts=3, ibg=0.01)
    unpaced = Stream(Ether() / IP() / UDP(), name="flat", burst=4, bursts=2, ibg=0.02, start=0.001)
    plans = resolve(Profile([s, unpaced]), src_mac="02:00:00:00:00:0a")
    assert (plans[0].count, plans[1].count) == (15, 8)
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        mix = Mix(plans, umem, 16)
        sent_at: dict[int, list[int]] = {0: [], 1: []}
        b = umem.take(0)
        for now in range(0, 60 * MS, MS // 20):
            n = mix.due(now)
            if n:
                b = umem.take(n, into=b)
                for w in mix.last_streams(mix.fill(b, now)).tolist():
                    sent_at[w].append(now)
                b.release()
        assert mix.next_ns(60 * MS) == -1
    # packet k of "mb" is due at k * 0.1 ms + (k // 5) * 10 ms: three bursts of five, 10 ms between
    step = MS // 20
    want = [k * MS // 10 + (k // 5) * 10 * MS for k in range(15)]
    assert sent_at[0] == [-(-t // step) * step for t in want], "each at the first step not before it is due"
    # unpaced: each burst of four at once, at 1 ms and 21 ms
    assert sent_at[1] == [MS] * 4 + [21 * MS] * 4


def test_a_chained_stream_starts_when_the_one_before_it_has_sent_its_last_frame():
    a = Stream(Ether() / IP() / UDP(), name="a", rate=20_000, count=10, next="b")
    b = Stream(Ether() / IP() / UDP(), name="b", count=5, start=0.002, next="c")
    c = Stream(Ether() / IP() / UDP(), name="c", rate=1000, duration=0.005)
    plans = resolve(Profile([c, b, a]), src_mac="02:00:00:00:00:0a")  # in any order
    assert [p.after for p in plans] == [1, 2, None]
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        mix = Mix(plans, umem, 64)
        _, which = _run(mix, umem, 40 * MS, step_ns=MS // 10)
        results = {r["name"]: r for r in mix.results()}
    assert which == [2] * 10 + [1] * 5 + [0] * 5, "a's ten, then b's five, then c's five"
    assert results["a"]["last_s"] == pytest.approx(0.00045, abs=1e-4)
    # b is due 2 ms after the round that saw a finished; c for 5 ms after b's end
    assert results["b"]["first_s"] == pytest.approx(results["a"]["last_s"] + 0.0021, abs=2e-4)
    assert results["c"]["first_s"] == pytest.approx(results["b"]["last_s"] + 0.0001, abs=2e-4)
    assert results["c"]["last_s"] - results["c"]["first_s"] < 0.005


def _ids(frames):
    """The stream id (top byte of the sequence number) of each frame, by the UDP payload."""
    out = []
    for f in frames:
        payload = bytes(Ether(f)[UDP].payload)
        out.append(struct.unpack(">Q", payload[2:10])[0] >> 56)
    return out


@pytest.mark.parametrize(("q", "want"), [(0, {7, 1}), (1, {15, 9})])
def test_a_stream_carries_the_id_it_was_given_on_every_queue(q, want):
    """Stream(id=7) next to an unnumbered stream 1: width 8, so queue index q sends 7 + 8q and 1 + 8q;
    the results say the same ids."""
    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    plans = resolve(Profile([Stream(pkt, name="seven", id=7, count=20), Stream(pkt, name="one", count=20)]),
                    src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(plans, umem, 64, q=q, nqueues=2)
        frames, which = _run(mix, umem, 2 * MS)
        results = mix.results()
    ids = _ids(frames)
    assert set(ids) == want
    assert {i for i, w in zip(ids, which, strict=True) if w == 0} == {7 + 8 * q}
    assert [r["id"] for r in results] == [7 + 8 * q, 1 + 8 * q]


def test_ids_that_do_not_fit_the_header_over_the_queues_are_refused():
    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    plans = resolve(Profile([Stream(pkt, name="high", id=200)]), src_mac="02:00:00:00:00:0a")
    with xsk.Umem(frame_count=256, hugepages="off") as umem, pytest.raises(xsk.ConfigError, match=(
            r"1 streams \(ids up to 200\) on 2 queues need 402 stream ids; at most 256: fewer queues, or lower ids")):
        Mix(plans, umem, 64, q=0, nqueues=2)
