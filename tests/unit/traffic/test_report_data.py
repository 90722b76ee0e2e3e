"""What the report's charts and tables show, decided from the runs' JSON before matplotlib draws
it: one time axis from gen's start with the sink's idle seconds trimmed, rate panels by order of
magnitude, a burst found and sized, histograms as fractions of each stream, warnings as
sentences, Mbit/s per stream."""

from __future__ import annotations

from typing import Any

import pytest

from xsk.traffic import _report_data as data


def _lines(start: float, counts: list[dict[str, int]], step: float = 1.0) -> list[dict]:
    """Per-second lines of a run started at wall clock ``start``, with cumulative counts."""
    return [{"t": step * (i + 1), "time": start + step * (i + 1), "per_stream": c} for i, c in enumerate(counts)]


def test_the_axis_starts_at_gens_start_and_says_so():
    gen = _lines(1000.0, [{"a": 10}])
    sink = _lines(996.0, [{}])  # the sink started 4 s earlier
    zero, label = data.origin([data.run_start(gen)], [data.run_start(sink)])
    assert (zero, label) == (1000.0, "seconds since gen started")
    assert data.origin([], [996.0, 998.0]) == (996.0, "seconds since the sink started")
    assert data.origin([None], [None])[0] == 0.0


def test_a_sink_started_early_lines_up_with_gen_and_counts_nothing_before_its_first_frame():
    sink = _lines(996.0, [{}, {}, {}, {}, {"0": 50}, {"0": 150}])  # nothing listed until the first frame
    s = data.series(sink, "0", 1000.0, stream="voice", side="received")
    assert s.edges == [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0]
    assert s.packets == [0, 0, 0, 0, 50, 100] and s.rates[-1] == 100.0


def test_gens_last_partial_second_comes_from_its_summary():
    gen = _lines(1000.0, [{"a": 100}, {"a": 200}])
    s = data.series(gen, "a", 1000.0, stream="a", side="sent", end=(2.5, 260))
    assert s.edges == [0.0, 1.0, 2.0, 2.5] and s.packets == [100, 100, 60] and s.rates == [100.0, 100.0, 120.0]


def test_a_last_line_a_sliver_after_the_one_before_joins_its_interval_instead_of_spiking():
    gen = [*_lines(1000.0, [{"a": 100}, {"a": 200}]), {"t": 2.1, "time": 1002.1, "per_stream": {"a": 230}}]
    s = data.series(gen, "a", 1000.0, stream="a", side="sent")
    assert s.edges == [0.0, 1.0, 2.1] and s.packets == [100, 130]
    assert s.rates[-1] == pytest.approx(130 / 1.1)
    # only the last: a long first interval (a worker's start-up) leaves the seconds after it alone
    late = [{"t": 3.0, "time": 1003.0, "per_stream": {"a": 0}}, {"t": 4.0, "time": 1004.0, "per_stream": {"a": 50}},
            {"t": 5.0, "time": 1005.0, "per_stream": {"a": 100}}]
    assert data.series(late, "a", 1000.0, stream="a", side="sent").edges == [0.0, 3.0, 4.0, 5.0]


def test_the_idle_tail_is_trimmed_and_the_axis_ends_with_the_traffic():
    sent = data.Series("a", "sent", [0.0, 1.0, 2.0], [100.0, 100.0], [100, 100])
    got = data.Series("a", "received", [-4.0, 0.5, 1.5, 2.5, 3.5, 4.5, 9.5], [0, 100, 100, 0, 0, 0],
                      [0, 100, 100, 0, 0, 0])
    assert data.span([sent, got], gen_end=2.1) == (0.0, 2.5)
    assert data.span([got]) == (0.5, 2.5)  # a sink alone: from its first frame
    assert data.span([sent, got], gen_end=3.0) == (0.0, 3.0)


def test_a_50_pps_stream_gets_its_own_panel_beside_200k_pps_and_equals_share_one():
    groups = data.panels({"imix": 200_000.0, "bulk": 30_000.0, "burst": 10_000.0, "voice": 50.0, "late": 0.0})
    assert groups == [["imix", "bulk"], ["burst"], ["voice"], ["late"]]
    assert data.panels({"a": 100.0, "b": 10.0}) == [["a", "b"]]  # within the ratio: one panel
    assert data.panels({}) == []


def test_a_burst_is_found_and_sized_with_gens_own_rate():
    burst = data.Series("burst", "sent", [0.0, 1.0, 2.0, 3.0, 4.0], [0, 0, 10_000, 0], [0, 0, 10_000, 0])
    steady = data.Series("imix", "sent", [0.0, 1.0, 2.0, 3.0], [5, 5, 5], [5, 5, 5])
    found = data.bursts([burst, steady], {"burst": {"pps": 139_353.6}, "imix": {"pps": 5.0}})
    assert found == [data.Burst("burst", 10_000, 139_353.6, 2.0)]
    assert data.engineering(139_353.6) == "139k" and data.engineering(50) == "50"


def test_histograms_are_fractions_of_each_stream_so_a_small_one_is_as_tall_as_a_big_one():
    small = [[100.0, 101.0, 3], [1000.0, 1010.0, 1]]
    big = [[100.0, 101.0, 300_000], [1000.0, 1010.0, 100_000]]
    edges_s, frac_s = data.normalised_histogram(small)
    edges_b, frac_b = data.normalised_histogram(big)
    assert edges_s == edges_b and frac_s == frac_b
    assert sum(frac_s) == pytest.approx(1.0) and max(frac_s) == pytest.approx(0.75)
    assert len(edges_s) == len(frac_s) + 1 and edges_s[0] <= 100.0 < edges_s[1]
    assert edges_s[-1] / edges_s[0] == pytest.approx(10 ** (len(frac_s) / data.BINS_PER_DECADE))
    assert data.normalised_histogram([]) == ([], [])
    # a bucket from 0 (exact nanoseconds) goes by its high end
    edges, frac = data.normalised_histogram([[0.0, 0.001, 1], [0.001, 0.002, 1]])
    assert frac == [0.5, 0.0, 0.0, 0.5] and edges[0] == pytest.approx(0.001)
    assert data.cdf(small) == ([101.0, 1010.0], [0.75, 1.0])


def test_warnings_are_sentences_a_reader_takes_in_first():
    runs: list[tuple[str, dict[str, Any]]] = [
        ("gen.jsonl", {"warnings": ["stream 'x' sent nothing"], "interrupted": "SIGTERM",
                       "kernel": {"tx_ring_empty_descs": 900, "tx_invalid_descs": 0}}),
        ("sink.jsonl", {"kernel": {"rx_dropped": 1, "rx_fill_ring_empty_descs": 12}, "kernel_errors": 2})]
    losses = [{"voice": {"name": "voice", "sent": 500, "lost": 99, "loss_pct": 19.8, "extra": 0,
                         "counted_by": "sequence"},
               "bulk": {"name": "bulk", "sent": 10, "lost": None, "loss_pct": None, "extra": 0, "counted_by": "none"},
               "id 7": {"name": "id 7", "sent": 0, "lost": 0, "loss_pct": None, "extra": 3,
                        "counted_by": "sequence"}}]
    assert data.warnings(runs, losses) == [
        "gen.jsonl: stream 'x' sent nothing",
        "gen.jsonl: the run was interrupted (SIGTERM); its figures cover the time before that.",
        "sink.jsonl: the kernel counted 1 frame in rx_dropped, 12 frames in rx_fill_ring_empty_descs.",
        "sink.jsonl: 2 kernel errors during the run.",
        "Stream 'voice' lost 99 of 500 frames (19.8%).",
        "Stream 'bulk' has no sequence header and the sink was not given the profile: what it lost is unknown.",
        "Stream 'id 7': 3 frames arrived that the generator never sent.",
    ]
    assert data.warnings([("gen.jsonl", {"kernel": {"tx_ring_empty_descs": 5}})], []) == []


def test_mbit_per_second_from_a_streams_rate_and_mean_length():
    assert data.mbit_s({"packets": 1000, "bytes": 354_300, "pps": 200_000.0}) == pytest.approx(566.88)
    assert data.mbit_s({"packets": 0, "bytes": 0, "pps": None}) is None
