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
def bench():  # type: ignore[no-untyped-def]
    loader = importlib.machinery.SourceFileLoader("xsk_tools_bench", str(BENCH))
    spec = importlib.util.spec_from_loader("xsk_tools_bench", loader)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    loader.exec_module(module)
    return module


def test_median(bench) -> None:  # type: ignore[no-untyped-def]
    assert bench._median([3.0]) == 3.0
    assert bench._median([5.0, 1.0, 3.0]) == 3.0
    assert bench._median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_paired_ratio_is_per_round_and_skips_rounds_without_both(bench) -> None:  # type: ignore[no-untyped-def]
    c = [1.0, None, 2.0, 0.5]
    x = [0.9, 1.0, 2.2, 0.5]
    r = bench._paired(c, x)
    # rounds 0, 2 and 3 pair up (0.9, 1.1, 1.0); round 1 had no valid C run
    assert r == {"ratio": 1.0, "ratio_min": 0.9, "ratio_max": 1.1, "pairs": 3}
    assert bench._paired([None], [1.0])["ratio"] is None


def test_row_medians_and_a_path_without_valid_runs(bench) -> None:  # type: ignore[no-untyped-def]
    def run(mpps: float) -> dict:
        return {"mpps": mpps, "user_ns_per_pkt": 10.0 * mpps, "sys_ns_per_pkt": 100.0}

    row = bench._row("tx", 64, [run(1.0), run(3.0), None], [run(1.0), run(2.0), run(9.0)])
    assert row["c_mpps"] == 2.0 and row["xsk_mpps"] == 2.0
    assert row["ratio"] == pytest.approx(0.833, abs=1e-3) and row["pairs"] == 2
    assert "note" not in row
    empty = bench._row("rx", 256, [None, None], [run(1.0), None])
    assert empty["ratio"] is None and empty["c_mpps"] is None and "no round" in empty["note"]


def test_ring_benchmark_smoke(bench) -> None:  # type: ignore[no-untyped-def]
    out = bench.ring_bench(64, 20, traced_packets=2560)
    assert out["accounting_balanced"] is True
    assert out["xsk_ns_per_pkt"] > 0 and out["c_ns_per_pkt"] > 0
    assert out["packets_traced"] == 2560  # 20 rounds of 64 frames, each sent and received
    # the fixed footprint: 4096 frames of 2048 bytes, and 12 bytes of ledger per frame
    assert out["umem_bytes"] == 4096 * 2048 and out["ledger_bytes"] == 4096 * 12
    assert out["rss_kib"] > 0 and isinstance(out["rss_growth_kib"], int)
