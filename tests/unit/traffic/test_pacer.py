"""Rates as the command line takes them: packets/s with k/M/G, or bit rates of frame bytes."""

import pytest

from xsk.errors import ConfigError
from xsk.traffic.pacer import parse_rate


def test_rates():
    assert parse_rate("100k", 60) == 100_000
    assert parse_rate("1.5M", 60) == 1_500_000
    assert parse_rate("2Gbit", 1000) == pytest.approx(250_000)
    for bad in ("", "fast", "-1", "0"):
        with pytest.raises(ConfigError):
            parse_rate(bad, 60)
