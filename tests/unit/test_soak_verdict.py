"""tools/soak's verdict fails on what it claims to check: each planted fault below is one that
a run could show (a rate not reached, a run too short for a memory curve), fed to the verdict
with everything else of a good run."""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "soak"


@pytest.fixture(scope="module")
def soak():
    loader = importlib.machinery.SourceFileLoader("xsk_tools_soak_verdict", str(TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


ACC = {"pool": 4096, "user": 0, "fill": 0, "tx": 0, "total": 4096}
CURVE = {"samples": 8, "start_kib": 80000, "end_kib": 80010, "peak_growth_kib": 12, "slope_kib_per_min": 1.0}
KERNEL = {"rx_dropped": 0, "rx_ring_full": 0, "rx_fill_ring_empty_descs": 0, "rx_invalid_descs": 0}


def good_run(packets: int = 300_000, pps: float = 30_000.0) -> dict:
    common = {"accounting": ACC, "ledger_checks": 10, "ledger_missed": 0, "seconds": 10.0, "rss_curve": CURVE,
              "kernel": KERNEL, "returncode": 0}
    return {"gen": {**common, "packets": packets, "pps": pps, "bps": pps * 4000},
            "fwd": {**common, "forwarded": packets},
            "sink": {**common, "packets": packets, "lost": 0, "duplicates": 0, "reordered": 0, "per_stream": {}}}


def test_a_good_run_passes(soak):
    result = soak.verdict(good_run(), 300_000, 30_000.0, 2048)
    assert result["passed"], result["failures"]


def test_a_rate_not_reached_fails(soak):
    reports = good_run(pps=18_900.0)  # as a run on a busy machine did: 63% of the rate asked
    result = soak.verdict(reports, 300_000, 30_000.0, 2048)
    assert not result["passed"]
    assert result["failures"] == ["gen sent at 18,900 pps, 63% of the 30,000 asked (at least 95% needed, "
                                  "--min-rate): not a soak at that rate"]
    assert soak.verdict(reports, 300_000, 30_000.0, 2048, min_rate=0.6)["passed"]  # what the user allows


def test_a_rate_in_bits_is_checked_in_bits(soak):
    reports = good_run()
    reports["gen"]["bps"] = 90e6
    result = soak.verdict(reports, 300_000, 30_000.0, 2048, bps=100e6)
    assert not result["passed"] and "90,000,000 bit/s, 90%" in result["failures"][0]


def test_a_run_too_short_for_a_memory_curve_fails(soak):
    reports = copy.deepcopy(good_run())
    reports["fwd"]["rss_curve"] = {"samples": 1}
    result = soak.verdict(reports, 300_000, 30_000.0, 2048)
    assert not result["passed"]
    assert result["failures"] == ["fwd: too short to check its memory (1 samples, two are needed from 2 s after its "
                                  "first frames): more --packets or a lower --rate"]


def test_growth_over_the_limit_fails(soak):
    reports = copy.deepcopy(good_run())
    reports["sink"]["rss_curve"] = {**CURVE, "peak_growth_kib": 4096}
    assert "sink: resident set grew 4096 KiB" in soak.verdict(reports, 300_000, 30_000.0, 2048)["failures"][0]
