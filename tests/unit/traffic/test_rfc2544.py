"""RFC 2544's searches against a modelled device: a capacity (pps) it forwards whole, a buffer
for bursts, a generator with a top speed, and noise that loses frames once in a while."""

from __future__ import annotations

import math
import random

import pytest

from xsk.errors import ConfigError
from xsk.traffic._rfc2544 import Trial, l1_bps, render, search_burst, search_rate


def device(capacity: float, *, generator: float = 1e9, noisy: set[int] | None = None,
           loss_above: float = 1.0):
    """trial(rate, seconds) of a device forwarding up to ``capacity`` pps whole; above it, it loses
    ``loss_above`` of the excess. Trials whose index is in ``noisy`` lose one frame anyway."""
    calls: list[float | None] = []

    def trial(rate: float | None, seconds: float) -> Trial:
        offered = generator if rate is None else min(rate, generator)
        sent = round(offered * seconds)
        excess = max(0.0, offered - capacity) * seconds
        received = sent - math.ceil(excess * loss_above)
        if noisy and len(calls) in noisy:
            received -= 1
        calls.append(rate)
        return Trial(rate=rate, seconds=seconds, sent=sent, received=received, achieved=sent / seconds)

    trial.calls = calls  # type: ignore[attr-defined]  # the fake's record, read by the tests
    return trial


def test_ndr_is_found_within_the_resolution_and_verified():
    found = search_rate(device(30_000), max_rate=100_000, seconds=1, resolution=0.01)
    assert found.verified
    assert found.resolution <= 0.01
    assert 29_000 <= found.rate <= 30_000
    assert found.passing is not None and found.passing.lost == 0
    assert found.trials[-1].seconds == 2  # the verification runs twice as long
    assert not found.limited_by_generator


def test_pdr_accepts_the_loss_it_is_given():
    dev = device(30_000, loss_above=0.5)  # loses half of what exceeds its capacity
    ndr = search_rate(dev, max_rate=100_000, seconds=1, resolution=0.005)
    pdr = search_rate(device(30_000, loss_above=0.5), max_rate=100_000, seconds=1, acceptable=0.05,
                      resolution=0.005)
    # loss ratio (r - 30k) / 2 / r <= 5%  <=>  r <= 33,333
    assert 29_800 <= ndr.rate <= 30_000
    assert 33_000 <= pdr.rate <= 33_334


def test_a_device_faster_than_the_generator_is_reported_as_generator_limited():
    found = search_rate(device(1e9, generator=50_000), max_rate=None, seconds=1)
    assert found.rate == pytest.approx(50_000)
    assert found.limited_by_generator and found.verified


def test_a_generator_that_cannot_reach_the_asked_rate_lowers_the_ceiling():
    found = search_rate(device(80_000, generator=50_000), max_rate=100_000, seconds=1)
    assert found.rate == pytest.approx(50_000) and found.limited_by_generator


def test_one_noisy_trial_near_the_edge_is_repeated_and_does_not_end_the_search_low():
    clean = search_rate(device(30_000), max_rate=100_000, seconds=1)
    # find the trials that land near the edge on a clean run, then make the first of them noisy
    edge = next(i for i, t in enumerate(clean.trials) if t.rate and t.rate > 29_000 and t.lost == 0)
    noisy = search_rate(device(30_000, noisy={edge}), max_rate=100_000, seconds=1)
    assert noisy.rate >= 0.98 * clean.rate


def test_a_rate_that_does_not_hold_for_the_longer_trial_is_searched_below():
    # the verification (trial index of the first 2 s trial) loses: the answer must be lower and verified
    clean = search_rate(device(30_000), max_rate=100_000, seconds=1)
    check = next(i for i, t in enumerate(clean.trials) if t.seconds == 2)
    found = search_rate(device(30_000, noisy={check}), max_rate=100_000, seconds=1)
    assert found.rate < clean.rate
    assert found.verified and found.rate > 0
    assert all(t.seconds == 2 for t in found.trials[check:])  # from then on, trials as long as the check


def test_a_device_that_loses_at_every_rate_gives_zero_and_says_it_was_not_verified():
    found = search_rate(device(0, loss_above=0.01), max_rate=100_000, seconds=1, max_trials=30)
    assert found.rate == 0 and not found.verified and found.passing is None


def test_random_noise_still_converges_within_the_trial_budget():
    rng = random.Random(7)
    noisy = {i for i in range(40) if rng.random() < 0.15}
    found = search_rate(device(30_000, noisy=noisy), max_rate=100_000, seconds=1, max_trials=24)
    assert len(found.trials) <= 24
    assert found.rate <= 30_000  # never above what the device forwards whole


def test_back_to_back_finds_the_buffer():
    def burst(n: int) -> Trial:
        return Trial(rate=None, seconds=0.01, sent=n, received=min(n, 4096), achieved=n / 0.01)

    found = search_burst(burst, max_burst=100_000, repeats=2)
    assert all(4096 - 4096 // 50 <= f <= 4096 for f in found) and len(found) == 2
    assert search_burst(burst, max_burst=1000, repeats=1) == [1000]


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError, match="acceptable loss"):
        search_rate(device(1), max_rate=10, seconds=1, acceptable=1.5)
    with pytest.raises(ConfigError, match="resolution"):
        search_rate(device(1), max_rate=10, seconds=1, resolution=0)
    with pytest.raises(ConfigError):
        search_burst(lambda n: Trial(None, 1, n, n, n), max_burst=0)


def test_l1_rate_counts_preamble_and_gap():
    assert l1_bps(1_488_095, 64) == pytest.approx(1e9, rel=1e-6)  # 10GbE's... at 1 GbE: 64-byte line rate


def test_the_table_says_how_each_figure_came_to_be():
    found = search_rate(device(30_000), max_rate=100_000, seconds=1)
    results = {"acceptable_loss_pct": 0.0, "trial_seconds": 1.0,
               "sizes": [{"size": 64, **found.as_dict(), "l1_mbps": 20.16, "l2_mbps": 15.36,
                          "latency": {"latency_us": {"p50": 12.5, "p99": 40.0}}}]}
    text = render(results)
    assert "NDR" in text and "1 s trials" in text and "yes" in text and "12.5" in text
