"""Value ranges for per-packet field variation: addresses, ports, MACs; bad input is a ConfigError."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsk.errors import ConfigError
from xsk.traffic import _ranges as ranges


def test_ranges():
    assert list(ranges.ports("1000-1003")) == [1000, 1001, 1002, 1003]
    v, rows = ranges.addresses("10.0.0.254-10.0.1.1")
    assert v == 4 and [bytes(r) for r in rows] == [bytes([10, 0, 0, x]) for x in (254, 255)] + [
        bytes([10, 0, 1, 0]), bytes([10, 0, 1, 1])]
    v, rows = ranges.addresses("fd00::ffff:ffff:ffff:ffff-fd00::1:0:0:0:1")
    assert v == 6 and len(rows) == 3
    assert bytes(rows[1]) == bytes.fromhex("fd000000000000010000000000000000")
    assert [bytes(r) for r in ranges.macs("02:00:00:00:00:fe-02:00:00:00:01:00")][-1] == bytes.fromhex("020000000100")
    for bad in ("", "2000-1000", "x", "70000", "1-2-3"):
        with pytest.raises(ConfigError):
            ranges.ports(bad)
    for bad in ("10.0.0.1-fd00::1", "10.0.0.300", "10.0.0.0-11.0.0.0"):
        with pytest.raises(ConfigError):
            ranges.addresses(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_range_parsers_never_crash(text):
    for parse in (ranges.ports, ranges.addresses, ranges.macs):
        with contextlib.suppress(ConfigError):
            parse(text)
