"""Rates as the command line takes them: packets/s with k/M/G, or bit rates of frame bytes."""

import pytest

from xsk.errors import ConfigError
from xsk.traffic._pacer import Pacer, Rate, parse_rate, rate_value


def test_rates():
    assert parse_rate("100k", 60) == 100_000
    assert parse_rate("1.5M", 60) == 1_500_000
    assert parse_rate("2Gbit", 1000) == pytest.approx(250_000)
    for bad in ("", "fast", "-1", "0"):
        with pytest.raises(ConfigError):
            parse_rate(bad, 60)


@pytest.mark.parametrize("text, pps", [
    ("200kpps", 200_000), ("2Mpps", 2e6), ("5 pps", 5), ("1e6", 1e6),  # packets/s
    ("100kbps", 100e3 / 480), ("1Gbps", 1e9 / 480), ("500Mbit/s", 500e6 / 480), ("2Gbit", 2e9 / 480),  # L2
    ("10kbit L2", 10e3 / 480),
    # L1: the 60-byte frame, its FCS (4), preamble (8) and gap (12): 84 bytes on the wire, 14.88 Mpps at 10G
    ("10Gbit L1", 10e9 / 672), ("1Gbps-L1", 1e9 / 672), ("1gbit_l1", 1e9 / 672),
])
def test_rate_units_as_engineers_write_them(text, pps):
    assert parse_rate(text, 60) == pytest.approx(pps)


def test_a_percentage_is_of_the_line_rate_on_the_wire():
    assert rate_value("50%") == Rate(50.0, "percent")
    assert parse_rate("50%", 60, line_bps=10e9) == pytest.approx(10e9 / 2 / 672)
    with pytest.raises(ConfigError, match="needs the link's line rate; give an absolute rate"):
        parse_rate("50%", 60)
    with pytest.raises(ConfigError, match="at most 100%"):
        rate_value("150%")


@pytest.mark.parametrize("text", ["10kb", "1MB/s", "10B", "3Mbps?", "1kpps L1", "1Gbyte", "1Tbit"])
def test_ambiguous_or_unknown_units_are_refused_naming_the_forms_taken(text):
    with pytest.raises(ConfigError) as info:
        parse_rate(text, 60)
    message = str(info.value)
    assert text in message and "200kpps" in message and "'10Gbit L1'" in message and "50%" in message
    if text in ("10kb", "1MB/s", "10B"):
        assert "ambiguous (bits or bytes?" in message


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _drive(pacer: Pacer, clock: _Clock, until: float, stall_at: float | None = None, stall: float = 0.0):
    """Send whatever the pacer allows, jumping the clock to its next instant; (time, n) per send."""
    sends = []
    while clock.t < until:
        if stall_at is not None and clock.t >= stall_at:
            clock.t += stall  # descheduled: nothing sent for `stall` seconds
            stall_at = None
        n = pacer.allowance()
        if n:
            pacer.consumed(n)
            sends.append((clock.t, n))
        else:
            clock.t = max(pacer.next_at(), clock.t + 1e-9)
    return sends


def test_the_schedule_holds_and_no_send_exceeds_the_burst():
    clock = _Clock()
    pacer = Pacer(10_000, 8, clock=clock)
    sends = _drive(pacer, clock, 101.0)
    assert max(n for _, n in sends) <= 8
    assert abs(pacer.sent - 10_000) <= 1


def test_a_backlog_is_made_up_at_the_catch_up_rate_not_at_once():
    clock = _Clock()
    pacer = Pacer(10_000, 8, clock=clock)  # 0.1 s stall = 1,000 packets behind
    sends = _drive(pacer, clock, 101.0, stall_at=100.3, stall=0.1)
    assert abs(pacer.sent - 10_000) <= 1, "the second's average holds"
    after = [(t, n) for t, n in sends if t >= 100.4]
    # in any 10 ms after the stall, at most catch_up x the rate (plus one burst)
    for t0, _ in after:
        window = sum(n for t, n in after if t0 <= t < t0 + 0.01)
        assert window <= 2 * 10_000 * 0.01 + 8, (t0, window)
    # and the backlog is gone within stall / (catch_up - 1), with a little slack
    behind = [t for t, _ in after if pacer_backlog(sends, t, 10_000, 100.0) > 8]
    assert not behind or max(behind) < 100.4 + 0.1 + 0.005


def pacer_backlog(sends, at: float, pps: float, t0: float) -> float:
    return (at - t0) * pps - sum(n for t, n in sends if t <= at)


def test_catch_up_must_exceed_one():
    with pytest.raises(ConfigError, match="catch_up"):
        Pacer(1000, 1, catch_up=1.0)
