"""xsk.traffic._health: the fixed verification schedule, missed seconds counted, the RSS figures."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from xsk.traffic import _health as health_mod
from xsk.traffic._health import Health, slope_per_minute


class FakeUmem:
    def __init__(self) -> None:
        self.verified = 0
        self.ledger = SimpleNamespace(kernel_errors=0)

    def verify(self) -> None:
        self.verified += 1


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    rss = [50_000]
    monkeypatch.setattr(health_mod.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(health_mod, "rss_kib", lambda: rss[0])
    return now, rss


def test_schedule_is_fixed_and_a_stall_is_counted(clock):
    now, _ = clock
    umem = FakeUmem()
    h = Health(umem, verify=True)
    now[0] = 100.5
    assert not h.due()
    now[0] = 101.3  # late by 0.3: the next instant stays at 102, not 102.3
    assert h.due()
    h.check()
    now[0] = 101.9
    assert not h.due()
    now[0] = 102.0
    assert h.due()
    h.check()
    now[0] = 105.5  # 103, 104 and 105 passed; one check now covers 105, two seconds went unchecked
    h.check()
    out = h.summary()
    assert out["ledger_missed"] == 2
    assert out["ledger_checks"] == umem.verified == 4  # three in the loop, one final


def test_without_periodic_checks_the_summary_still_verifies_once(clock, monkeypatch):
    monkeypatch.delenv("XSK_VERIFY_LEDGER", raising=False)
    now, _ = clock
    umem = FakeUmem()
    h = Health(umem, verify=False)
    now[0] = 101.5
    h.check()  # a scheduled instant: only the footprint is sampled
    assert umem.verified == 0
    umem.ledger.kernel_errors = 3
    out = h.summary()
    assert umem.verified == 1 and out["ledger_checks"] == 1 and out["kernel_errors"] == 3


def test_the_environment_turns_the_periodic_checks_on(clock, monkeypatch):
    monkeypatch.setenv("XSK_VERIFY_LEDGER", "1")
    now, _ = clock
    umem = FakeUmem()
    h = Health(umem, verify=False)
    now[0] = 101.5
    h.check()
    assert umem.verified == 1


def test_rss_growth_peak_and_slope(clock):
    now, rss = clock
    h = Health(FakeUmem(), verify=False)
    for second in range(1, 61):  # a leak of 100 KiB a second, one noisy spike
        now[0] = 100.0 + second
        rss[0] = 50_000 + 100 * second + (5_000 if second == 30 else 0)
        h.check()
    now[0] = 160.5
    out = h.summary()
    assert out["rss_growth_kib"] == 6000 - 100
    assert out["rss_peak_growth_kib"] == 3000 + 5000 - 100  # the spike at second 30
    assert out["rss_slope_kib_per_min"] == pytest.approx(6000, rel=0.02)


def test_slope_of_a_flat_footprint_is_zero():
    assert slope_per_minute([(float(t), 1000) for t in range(10)]) == 0.0
    assert slope_per_minute([(0.0, 1), (1.0, 2)]) == 0.0  # too few samples to say


def test_growth_counts_from_a_second_after_traffic_began(clock):
    """A receiver idles before its first frame; what that frame faults in (ring pages, a
    stream's window) is warm-up, and only what grows after it counts."""
    now, rss = clock
    h = Health(FakeUmem(), verify=False)
    for second in range(1, 4):  # idle: no traffic yet
        now[0] = 100.0 + second
        h.check()
    now[0] = 103.4
    h.traffic_started()
    rss[0] = 50_512  # the first frames' one-time step
    now[0] = 104.0
    h.check()  # inside the warm-up second: not the baseline
    for second in range(5, 31):  # 25 s of samples after the warm-up: enough for a slope
        now[0] = 100.0 + second
        rss[0] += 10
        h.check()
    h.traffic_started()  # only the first call counts
    out = h.summary()
    assert out["rss_start_kib"] == 50_522  # the sample at 105
    assert out["rss_growth_kib"] == out["rss_peak_growth_kib"] == 250
    assert out["rss_slope_kib_per_min"] == pytest.approx(600, rel=0.02)


def test_a_run_shorter_than_its_warm_up_reports_its_last_sample(clock):
    now, rss = clock
    h = Health(FakeUmem(), verify=False)
    now[0] = 100.2
    h.traffic_started()
    rss[0] = 51_000
    out = h.summary()
    assert out["rss_start_kib"] == out["rss_kib"] == 51_000 and out["rss_growth_kib"] == 0
    assert out["rss_slope_kib_per_min"] is None and "no trend" in out["rss_slope_note"]


def test_a_short_run_reports_no_slope_and_says_why(clock):
    """Five seconds of a one-off step would read as thousands of KiB a minute: no slope, a note."""
    now, rss = clock
    h = Health(FakeUmem(), verify=False)
    for second in range(1, 6):
        now[0] = 100.0 + second
        rss[0] = 50_000 + (2_000 if second >= 3 else 0)
        h.check()
    out = h.summary()
    assert out["rss_slope_kib_per_min"] is None
    assert out["rss_slope_note"].startswith("no trend from 4 s of samples (it needs 20 s")
    assert out["rss_growth_kib"] == 2_000


def test_merged_footprints_have_a_slope_only_where_every_worker_had_one():
    from xsk.traffic._results import merge_footprints

    long = {"rss_kib": 10, "rss_slope_kib_per_min": 5.0, "ledger_checks": 3}
    short = {"rss_kib": 12, "rss_slope_kib_per_min": None, "rss_slope_note": "no trend", "ledger_checks": 1}
    assert merge_footprints([long, long]) == {"rss_kib": 10, "rss_slope_kib_per_min": 5.0, "ledger_checks": 6}
    assert merge_footprints([long, short]) == {"rss_kib": 12, "rss_slope_kib_per_min": None,
                                               "rss_slope_note": "no trend", "ledger_checks": 4}
