"""How large a frame may be: one UMEM frame, and what the interface's MTU lets through."""

import pytest

from xsk.cli.common import in_flags
from xsk.errors import ConfigError
from xsk.traffic._limits import check_mtu, umem_fit, vlan_tags, wire_limit

UNTAGGED = bytes(12) + b"\x08\x00" + bytes(46)
TAGGED = bytes(12) + b"\x81\x00\x00\x05\x08\x00" + bytes(42)


def test_the_hint_for_a_frame_too_big_for_its_umem_frame_is_what_fits_it():
    assert umem_fit(3000, 2048).startswith("use frame_size=4096")
    jumbo = umem_fit(9000, 2048)
    assert "frame_size=4096" not in jumbo.split(":")[-1] and "multi-buffer" in jumbo
    assert "send 4096 bytes or less" in jumbo


def test_the_wire_limit_is_the_mtu_the_ethernet_header_and_the_frames_tags():
    assert vlan_tags(UNTAGGED) == 0 and vlan_tags(TAGGED) == 1
    assert wire_limit(1500, UNTAGGED) == 1514 and wire_limit(1500, TAGGED) == 1518


def test_frames_over_the_mtu_are_refused_saying_what_to_do():
    check_mtu("lab-a", 1500, [(None, 1514, UNTAGGED)])
    check_mtu("lab-a", None, [(None, 9000, UNTAGGED)])  # no MTU known: nothing to say
    with pytest.raises(ConfigError) as info:
        check_mtu("lab-a", 1500, [(None, 1515, UNTAGGED)])
    message = in_flags(str(info.value))
    assert message.startswith("the 1515-byte frames are longer than lab-a's MTU of 1500 lets through (1514 bytes")
    assert "Use --size 1514 or less" in message and "ip link set lab-a mtu 1501" in message
    with pytest.raises(ConfigError, match=r"stream 'big': its 2000-byte frames .*\(1518 bytes.* Give it sizes up to "
                                          r"1518, or raise the MTU \(ip link set lab-a mtu 1982"):
        check_mtu("lab-a", 1500, [("big", 2000, TAGGED)])
    with pytest.raises(ConfigError, match=r"the 2000-byte frames .* unsent. Raise the MTU"):
        check_mtu("lab-a", 1500, [(None, 2000, UNTAGGED)], sized=False)
