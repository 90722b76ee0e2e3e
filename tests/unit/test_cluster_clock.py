"""xsk.cluster._clock and the start report: offsets measured NTP-style over fake clocks, the
kernel's clock discipline read with adjtimex(2), and the rule that gives a one-way latency
between hosts only with a stated, small error (hosts with skewed clocks, unsynchronised ones,
synchronised ones with a small esterror). No engine, no kernel traffic."""

from __future__ import annotations

import itertools

import pytest

from xsk.cluster import Endpoint, Plan, Route
from xsk.cluster._clock import ERROR_FRACTION, Offset, kernel_clock, latency_rule, measure, pair_error
from xsk.cluster._results import clock, join
from xsk.cluster._run import start_report
from xsk.traffic import Stream


class FakeClocks:
    """A controller clock and a host clock ``skew_ns`` ahead, with call legs of given lengths
    (each sample ``i``: ``out[i]`` ns to the host, ``back[i]`` ns back)."""

    def __init__(self, skew_ns, out, back):
        self.t = 1_000_000_000_000
        self.skew = skew_ns
        self.legs = itertools.cycle(zip(out, back, strict=True))
        self.back = 0

    def now(self):
        self.t += self.back
        self.back = 0
        return self.t

    def remote(self):
        there, self.back = next(self.legs)
        self.t += there
        return self.t + self.skew


def test_the_offset_kept_is_the_tightest_round_trip_and_its_bound_holds_the_true_skew():
    clocks = FakeClocks(skew_ns=3_500_000, out=[900_000, 100_000, 40_000, 700_000], back=[100_000, 900_000,
                                                                                          60_000, 300_000])
    off = measure(clocks.remote, n=8, now=clocks.now)
    assert (off.rtt_ns, off.bound_ns, off.samples) == (100_000, 50_000, 8)
    assert abs(off.offset_ns - 3_500_000) <= off.bound_ns  # asymmetric legs: off by 10 µs, within ±50 µs
    assert off.offset_ns == 3_500_000 - 10_000
    assert off.as_dict() == {"offset_us": 3490.0, "bound_us": 50.0, "rtt_us": 100.0, "samples": 8}


def test_adjtimex_is_read_as_the_kernel_says():
    k = kernel_clock()
    assert set(k) >= {"synced", "esterror_us", "maxerror_us", "status", "state"}
    assert k["synced"] == (not k["status"] & 0x40 and k["state"] != 5)
    assert k["esterror_us"] >= 0 and k["maxerror_us"] >= 0


def hosts(**spec):
    """Identities and offsets for ``clock()``: per host (boot id, synced, esterror µs, offset µs,
    bound µs[, how many µs the offset drifted by the end])."""
    ids, start, end = {}, {}, {}
    for h, (boot, synced, est, off_us, bound_us, *drift) in spec.items():
        ids[h] = {"boot_id": boot, "hostname": h.lower(),
                  "kernel_clock": {"synced": synced, "esterror_us": est, "maxerror_us": 5 * est}}
        start[h] = Offset(int(off_us * 1000), int(bound_us * 1000), int(2 * bound_us * 1000), 12)
        end[h] = Offset(int((off_us + sum(drift)) * 1000), int(bound_us * 1000), int(2 * bound_us * 1000), 12)
    return clock(ids, start, end)


def lat_row(p50):
    return {"latency_us": {"min": p50 / 2, "p50": p50, "p99": p50 * 2}, "jitter_us": 3.0}


def test_one_boot_id_is_exact_whatever_was_measured():
    info = hosts(A=("b", False, 16_000_000, 0, 400), B=("b", False, 16_000_000, 900, 400))
    row = lat_row(50.0)
    latency_rule(row, "A", "B", info)
    assert row["latency_us"]["p50"] == 50.0 and row["latency_error_us"] == 0


def test_skewed_unsynchronised_clocks_give_no_latency_and_say_why_with_the_numbers():
    info = hosts(A=("a", True, 20, 0, 300), C=("c", False, 16_000_000, 1200, 100))
    row = lat_row(80.0)
    latency_rule(row, "A", "C", info)
    assert row["latency_us"] is None and row["jitter_us"] is None and "latency_error_us" not in row
    note = row["latency_note"]
    assert note.startswith("A↔C offset measured 1.2 ms ± 0.4 ms through the engine")
    assert "C's clock is not synchronised (adjtimex STA_UNSYNC)" in note and "no one-way latency" in note
    assert info["hosts"]["C"]["synced"] is False and info["hosts"]["C"]["start"]["offset_us"] == 1200.0


def test_synchronised_clocks_with_a_small_esterror_give_latency_with_its_error():
    info = hosts(A=("a", True, 3, 0, 300), B=("b", True, 4, 150, 300))
    row = lat_row(500.0)
    latency_rule(row, "A", "B", info)
    assert row["latency_us"]["p50"] == 500.0 and row["latency_error_us"] == 7.0
    assert "esterror A 3 µs + B 4 µs" in row["latency_basis"]
    small = lat_row(50.0)  # the same clocks against a latency 10 times smaller: 7 µs is too much
    latency_rule(small, "A", "B", info)
    assert small["latency_us"] is None and "up to 7 µs against a latency p50 of 50 µs" in small["latency_note"]
    assert ERROR_FRACTION * 50.0 < 7.0


def test_kernels_that_claim_sync_but_disagree_with_the_measurement_give_no_latency():
    info = hosts(A=("a", True, 3, 0, 50), B=("b", True, 4, 5000, 50))  # 5 ms apart; maxerror 35 µs
    err, why = pair_error(info["hosts"], "A", "B")
    assert err is None and "beyond the 35 µs their kernels' maxerror allows" in why


def test_unsynchronised_but_tightly_measured_clocks_give_latency_with_the_measured_error():
    """Offset + bound over start and end (drift 20 µs) against a long latency: given, with that error."""
    info = hosts(A=("a", False, 16_000_000, 0, 10), B=("b", False, 16_000_000, 30, 10, 20))
    err, _ = pair_error(info["hosts"], "A", "B")
    assert err == 30 + 20 + 20
    row = lat_row(5000.0)
    latency_rule(row, "A", "B", info)
    assert row["latency_error_us"] == 70.0 and row["latency_us"]["p50"] == 5000.0


def test_the_join_applies_the_rule_per_stream():
    a, b, c = Endpoint("A", "a0"), Endpoint("B", "b0"), Endpoint("C", "c0")
    s = [Stream("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)", name=n, rate="1k", count=10) for n in ("a-b", "a-c")]
    plan = Plan([Route(s[0], a, b), Route(s[1], Endpoint("A", "a1"), c)])
    info = hosts(A=("m1", True, 2, 0, 300), B=("m1", True, 2, 0, 300), C=("m2", False, 16_000_000, 900, 300))
    sent = {k: {"per_stream": {n: {"ids": [0], "seq": True, "packets": 10, "bytes": 600, "pps": 1.0,
                                   "asked_pps": 1.0}}} for k, n in (("A:a0", "a-b"), ("A:a1", "a-c"))}
    got = {k: {"receive_mode": "poll", "flows": {}, "per_stream": {"0": {
        "name": n, "packets": 10, "bytes": 600, "gaps": 0, "duplicates": 0, "reordered": 0,
        "latency_us": {"min": 5.0, "p50": 8.0, "p99": 12.0}, "jitter_us": 1.0}}}
        for k, n in (("B:b0", "a-b"), ("C:c0", "a-c"))}
    out = join(plan, sent, got, {}, info)
    assert out["a-b"]["latency_us"]["p50"] == 8.0 and out["a-b"]["latency_error_us"] == 0  # one machine
    assert out["a-c"]["latency_us"] is None and "A↔C" in out["a-c"]["latency_note"]


def test_the_start_report_corrects_each_senders_first_frame_by_its_offset():
    at = 1_800_000_000_000_000_000
    sent: dict[str, dict[str, int | None]] = {
        "A:a0": {"first_frame_ns": at + 30_000}, "B:b0": {"first_frame_ns": at + 5_000_000 + 80_000},
        "C:c0": {"first_frame_ns": None}}
    offsets = {"B": Offset(5_000_000, 200_000, 400_000, 12), "A": Offset(1_000, 500, 1_000, 12)}
    out = start_report({"at_ns": at, "margin_s": 2.5}, sent, offsets, {"A"})
    assert out["senders"]["A:a0"] == {"first_frame_ns": at + 30_000, "after_start_us": 30.0, "bound_us": 0.0}
    assert out["senders"]["B:b0"]["after_start_us"] == 80.0 and out["senders"]["B:b0"]["bound_us"] == 200.0
    assert out["senders"]["C:c0"]["after_start_us"] is None
    assert out["skew_us"] == 50.0 and out["margin_s"] == 2.5


@pytest.mark.parametrize("bad", [5.0, "soon", True, -1])
def test_a_start_at_that_is_no_realtime_instant_is_refused_in_one_line(bad):
    from xsk.errors import ConfigError
    from xsk.traffic._generator import _start_at_ns

    with pytest.raises(ConfigError, match=r"start_at .*: an instant on the realtime clock") as caught:
        _start_at_ns(bad)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", [5.0, "soon", True])
def test_a_cluster_start_at_that_has_passed_or_is_no_instant_is_refused_before_anything_starts(bad):
    """Refused in one line before the controller connects to the engine (nothing listens at this address)."""
    pytest.importorskip("distributed")
    from xsk.cluster import ClusterRun
    from xsk.errors import UsageError

    plan = Plan([Route(Stream("Ether()/IP(dst='10.0.0.2')/UDP(dport=9000)", name="s", count=5),
                       Endpoint("A", "a0"), Endpoint("B", "b0"))])
    run = ClusterRun(plan, "tcp://127.0.0.1:9")
    with pytest.raises(UsageError, match=r"start_at .*: an instant still to come") as caught:
        run.start(start_at=bad)
    assert "\n" not in str(caught.value) and not run.lost
