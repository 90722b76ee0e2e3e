"""tools/bench's summary logic (pure) and its in-memory ring benchmark as a smoke run.

No timing is asserted: only that the figures are made the way the README says they are.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench"


@pytest.fixture(scope="module")
def bench():
    loader = importlib.machinery.SourceFileLoader("xsk_tools_bench", str(BENCH))
    spec = importlib.util.spec_from_loader("xsk_tools_bench", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_median(bench) -> None:
    assert bench._median([3.0]) == 3.0
    assert bench._median([5.0, 1.0, 3.0]) == 3.0
    assert bench._median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert bench._median([None, 4.0, None, 2.0]) == 3.0  # rounds without a valid run don't count
    assert bench._median([None]) is None


def test_a_run_the_receiver_contradicts_never_counts(bench, monkeypatch) -> None:
    """Every printed figure goes through _valid_run: < 99% received is discarded and retried,
    whichever tool's result format (the reference's "mpps", gen's "pps")."""
    tries = iter([
        ({"packets": 1000, "pps": 9e6}, {"packets": 15, "mpps": 0.1}),  # completions without transmissions
        ({"packets": 1000, "mpps": 1.0}, {"packets": 989, "mpps": 0.9}),  # 98.9%: still a drop
        ({"packets": 1000, "pps": 8e5}, {"packets": 990, "mpps": 0.79}),  # 99%: counts
    ])
    monkeypatch.setattr(bench, "_pair", lambda rx, tx, end: next(tries))
    report: dict = {}
    sent = bench._valid_run([], [], None, 0, report, "gen", "varied", 256)
    assert sent == {"packets": 1000, "pps": 8e5} and bench._mpps(sent) == 0.8
    assert [(d["path"], d["who"], d["received"], d["sender_mpps"]) for d in report["discarded_runs"]] == [
        ("gen", "varied", 15, 9.0), ("gen", "varied", 989, 1.0)]
    monkeypatch.setattr(bench, "_pair", lambda rx, tx, end: ({"packets": 10, "mpps": 1.0}, {"packets": 0, "mpps": 0}))
    assert bench._valid_run([], [], None, 1, report, "rx", "c", 64) is None
    assert len(report["discarded_runs"]) == 2 + bench._ATTEMPTS


def test_paired_ratio_is_per_round_and_skips_rounds_without_both(bench) -> None:
    c = [1.0, None, 2.0, 0.5]
    x = [0.9, 1.0, 2.2, 0.5]
    r = bench._paired(c, x)
    # rounds 0, 2 and 3 pair up (0.9, 1.1, 1.0); round 1 had no valid C run
    assert r == {"ratio": 1.0, "ratio_min": 0.9, "ratio_max": 1.1, "pairs": 3}
    assert bench._paired([None], [1.0])["ratio"] is None


def test_row_medians_and_a_path_without_valid_runs(bench) -> None:
    def run(mpps: float) -> dict:
        return {"mpps": mpps, "user_ns_per_pkt": 10.0 * mpps, "sys_ns_per_pkt": 100.0}

    row = bench._row("tx", 64, [run(1.0), run(3.0), None], [run(1.0), run(2.0), run(9.0)])
    assert row["c_mpps"] == 2.0 and row["xsk_mpps"] == 2.0
    assert row["ratio"] == pytest.approx(0.833, abs=1e-3) and row["pairs"] == 2
    assert "note" not in row
    empty = bench._row("rx", 256, [None, None], [run(1.0), None])
    assert empty["ratio"] is None and empty["c_mpps"] is None and "no round" in empty["note"]


TRACED = 200_064  # 1563 rounds of 64 frames, each sent and received


def test_ring_benchmark_allocates_nothing_per_packet(bench) -> None:
    out = bench.ring_bench(64, 20, traced_packets=TRACED)
    assert out["accounting_balanced"] is True
    assert out["xsk_ns_per_pkt"] > 0 and out["c_ns_per_pkt"] > 0
    assert out["packets_traced"] == TRACED
    # the fixed footprint: 4096 frames of 2048 bytes, and 12 bytes of ledger per frame
    assert out["umem_bytes"] == 4096 * 2048 and out["ledger_bytes"] == 4096 * 12
    # one object kept per round would be >= 50 KB here (see the next test); numpy's small-block
    # cache accounts for a few hundred bytes
    assert out["alloc_growth_bytes"] < 4096, out
    assert out["rss_growth_kib"] < 1024, out  # a bound only: RSS moves in pages; tracemalloc is the exact figure


def test_ring_benchmark_sees_a_leak(bench, monkeypatch) -> None:
    """The measurement is sensitive: a release that keeps 64 bytes a round shows as >= 100 KB."""
    from xsk.testing import MemorySocket

    kept: list[bytes] = []
    release = MemorySocket.release

    def leaky(self, batch):
        kept.append(bytes(64) + bytes([len(kept) % 256]))
        return release(self, batch)

    monkeypatch.setattr(MemorySocket, "release", leaky)
    out = bench.ring_bench(64, 20, traced_packets=TRACED)
    assert out["alloc_growth_bytes"] >= (TRACED // 128) * 64, out


@pytest.fixture(scope="module")
def latency():
    path = Path(__file__).resolve().parents[2] / "tools" / "latency"
    loader = importlib.machinery.SourceFileLoader("xsk_tools_latency", str(path))
    spec = importlib.util.spec_from_loader("xsk_tools_latency", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_latency_percentiles_and_medians(latency) -> None:
    values = [float(v) for v in range(1, 1001)]  # 1..1000 us
    assert latency._percentile(values, 0.50) == 501.0
    assert latency._percentile(values, 0.99) == 991.0
    assert latency._percentile(values, 0.999) == 1000.0
    assert latency._median([3.0, 1.0, 2.0, 10.0]) == 2.5


def test_helper_costs_time_every_helper_on_both_batch_sizes(latency) -> None:
    """`tools/latency --helpers` runs each helper on frames it can act on (a helper that raised
    would end the tool), and reports both figures for each; no timing is asserted."""
    rows = latency.helper_costs(number=8)
    names = [r["helper"] for r in rows]
    assert {"headers.parse", "replies.reflect", "replies.set_payloads (array)", "Batch.select (every frame)"} <= set(
        names) and len(names) == len(set(names)) == 13
    assert all(r["us_one_frame"] > 0 and r["ns_per_frame_256"] > 0 for r in rows)


def test_in_memory_rows_end_with_the_compiled_runner_at_batch_1_and_64(latency) -> None:
    """`tools/latency --in-memory` measures the compiled Runner (xsk.jit) beside the Python steps;
    a short run shows every row is made (no timing is asserted)."""
    rows = latency.in_memory(requests=20)
    compiled = [r for r in rows if r["step"].startswith("compiled Runner")]
    assert [r["step"].rsplit(" ", 1)[1] for r in compiled[:2]] == ["1", "64"]
    assert all(r["us_per_request"] > 0 and r["ns_per_frame"] > 0 for r in compiled)
    threads = compiled[2]  # two compiled loops on two threads against one, beside the C loop
    for row in (threads, threads["c_loop"]):
        assert row["one_thread_mpps"] > 0 and row["two_threads_mpps"] > 0 and row["windows"] >= 2
        low, high = row["scaling_iqr"]
        assert 0 < low <= row["scaling"] <= high
    assert threads["of_c_scaling"] == pytest.approx(threads["scaling"] / threads["c_loop"]["scaling"], abs=0.01)
    assert len(rows) == len(compiled) + 6 and len(compiled) == 3


def test_paired_summary_takes_each_round_s_ratio_and_the_pooled_one(latency) -> None:
    """Round k: compiled answers in 10 us, fwd in 10 us except round 0 (20 us); kernel-spin 20 us.
    Per round the ratio is the rounds' p50s (1.0 but once 0.5), pooled the p50s of all requests."""
    names = ("compiled", "fwd", "kernel-spin")
    rounds = 5
    rtts = [[[10_000] * 9 for _ in range(rounds)],
            [[20_000 if k == 0 else 10_000] * 9 for k in range(rounds)],
            [[20_000] * 9 for _ in range(rounds)]]
    out = latency._paired_summary(names, rtts, [0, 1, 0])
    assert out["latency_us"]["fwd"] == {"p50": 10.0, "p99": 20.0, "answered": 45, "lost": 1}
    r = out["ratios"]["compiled_over_fwd_p50"]
    assert (r["pooled"], r["per_round"], r["iqr"]) == (1.0, 1.0, [1.0, 1.0])
    assert out["ratios"]["compiled_over_kernel_spin_p50"]["per_round"] == 0.5
    assert out["ratios"]["fwd_over_kernel_spin_p50"]["iqr"] == [0.5, 0.5]
