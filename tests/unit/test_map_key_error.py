"""xsk.maps.MapKeyError: a KeyError that names the map and the key (the maps themselves are
exercised in tests/kernel/test_xdp_harness.py)."""

from ipaddress import IPv4Address

import pytest

from xsk.maps import MapKeyError


def test_a_key_error_that_says_which_map():
    error = MapKeyError("blocked_v4", 0x01020304, (0x01020304).to_bytes(4, "little"))
    assert isinstance(error, KeyError)
    assert str(error) == "map 'blocked_v4' has no key 16909060 (bytes 04 03 02 01)"
    assert error.args == (0x01020304,) and error.key == 0x01020304 and error.map_name == "blocked_v4"
    with pytest.raises(KeyError, match="map 'blocked_v4'"):
        raise error


def test_bytes_keys_and_long_keys_show_no_bytes_twice():
    assert str(MapKeyError("m", b"\x01\x02", b"\x01\x02")) == "map 'm' has no key b'\\x01\\x02'"
    flow = {"saddr": 1, "daddr": 2, "sport": 3, "dport": 4, "proto": 17}
    assert str(MapKeyError("flows", flow, bytes(20))) == f"map 'flows' has no key {flow!r}"


def test_the_reason_follows():
    error = MapKeyError("colours", IPv4Address("0.0.0.4"), bytes([0, 0, 0, 4]), "an array's indexes are 0..3")
    assert str(error) == ("map 'colours' has no key IPv4Address('0.0.0.4') (bytes 00 00 00 04): "
                          "an array's indexes are 0..3")
