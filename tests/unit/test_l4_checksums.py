"""UDP/TCP checksums over a batch: verified and recomputed in C, scapy's checksums the oracle.

A "partial" checksum is what a local sender with TX checksum offload puts on the wire of a
veth: the folded pseudo-header sum, not complemented (Linux: ~csum_tcpudp_magic(..., 0)).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

import xsk
from xsk import headers, replies
from xsk.headers import CSUM_BAD, CSUM_NONE, CSUM_OK, CSUM_PARTIAL

ETH = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")


def _pseudo_fold(pkt) -> int:
    """The folded pseudo-header sum a sender leaves for offload, computed independently of xsk."""
    ip = pkt[IP] if IP in pkt else pkt[IPv6]
    l4 = ip.payload
    raw = bytes(l4)
    if IP in pkt:
        pseudo = bytes(map(int, ip.src.split("."))) + bytes(map(int, ip.dst.split("."))) + bytes(
            [0, ip.proto]) + len(raw).to_bytes(2, "big")
    else:
        import ipaddress
        pseudo = (ipaddress.IPv6Address(ip.src).packed + ipaddress.IPv6Address(ip.dst).packed
                  + len(raw).to_bytes(4, "big") + bytes([0, 0, 0, ip.nh]))
    total = sum(int.from_bytes(pseudo[i:i + 2], "big") for i in range(0, len(pseudo), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _with_csum(pkt, value: int) -> bytes:
    layer = UDP if UDP in pkt else TCP
    at = len(pkt) - len(pkt[layer]) + (6 if layer is UDP else 16)
    raw = bytearray(bytes(pkt))
    raw[at:at + 2] = value.to_bytes(2, "big")
    return bytes(raw)


def _zero_sum_payload(tcp: bool) -> bytes:
    """A 2-byte payload that makes the datagram's checksum compute to 0 (IPv4, ports 1 and 2):
    a payload word w lowers the checksum (the complement of the sum) by w."""
    ip = IP(src="198.51.100.7", dst="198.51.100.8")
    base = Ether(bytes(ETH / ip / ((TCP if tcp else UDP)(sport=1, dport=2)) / b"\0\0"))
    csum = (base[TCP] if tcp else base[UDP]).chksum
    return (csum if csum != 0xFFFF else 0).to_bytes(2, "big")


def _batch(umem, frames):
    b = umem.take(len(frames))
    for i, f in enumerate(frames):
        b.write(i, f)
    return b


def _frames():
    v4 = ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=40000, dport=7) / b"hello, checksum!"
    v6 = ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2) / (b"x" * 33)
    tcp = ETH / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=80, flags="PA") / b"odd"
    tcp6 = ETH / IPv6(src="2001:db8::1", dst="2001:db8::3") / TCP(sport=9, dport=10) / b"seven77"
    return [Ether(bytes(p)) for p in (v4, v6, tcp, tcp6)]


def test_states_valid_partial_bad_and_none():
    good = _frames()
    frames = [bytes(p) for p in good]
    frames += [_with_csum(p, _pseudo_fold(p)) for p in good]  # what a local sender leaves
    frames += [_with_csum(p, 0x1234) for p in good]
    frames.append(_with_csum(good[0], 0))  # IPv4 UDP without a checksum
    frames.append(bytes(ETH / b"\x88\xb5 not IP at all"))
    frames.append(bytes(good[0])[:-4])  # the IP header says 4 bytes more than the frame has
    with xsk.Umem(frame_count=32, hugepages="off") as umem:
        b = _batch(umem, frames)
        h = headers.parse(b, verify_checksums=True)
        assert h.l4_csum.tolist() == [CSUM_OK] * 4 + [CSUM_PARTIAL] * 4 + [CSUM_BAD] * 4 + [
            CSUM_NONE, CSUM_NONE, CSUM_BAD]
        assert h.l4_csum_ok.tolist() == [True] * 4 + [False] * 8 + [True, True, False]
        assert h.l4_csum_partial.tolist() == [False] * 4 + [True] * 4 + [False] * 7
        assert h.l4_csum_bad.tolist() == [False] * 8 + [True] * 4 + [False, False, True]
        assert headers.count_checksums(b) == (2, 4, 4, 5)  # the same states, counted in one pass
        assert replies.finish_partial_checksums(b, h) == 4  # only those four change
        assert [bytes(b.data(i)) for i in range(4)] == frames[:4]
        assert [bytes(b.data(i)) for i in range(8, 15)] == frames[8:]
        b.release()


def test_fix_finishes_partial_checksums_as_the_sender_s_offload_would():
    good = _frames()
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = _batch(umem, [_with_csum(p, _pseudo_fold(p)) for p in good])
        h = headers.parse(b, verify_checksums=True)
        assert replies.finish_partial_checksums(b, h) == 4
        assert [bytes(b.data(i)) for i in range(4)] == [bytes(p) for p in good]
        assert headers.parse(b, verify_checksums=True).l4_csum.tolist() == [CSUM_OK] * 4
        b.release()


def test_fix_only_where_asked_and_leaves_frames_without_l4_alone():
    good = _frames()
    other = bytes(ETH / b"\x88\xb5 not IP")
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        frames = [_with_csum(good[0], 0x1111), _with_csum(good[1], 0x2222), other]
        b = _batch(umem, frames)
        h = headers.parse(b)
        assert replies.fix_l4_checksums(b, h, np.array([False, True, True])) == 1
        assert bytes(b.data(0)) == frames[0] and bytes(b.data(1)) == bytes(good[1]) and bytes(b.data(2)) == other
        b.release()


def test_checksums_need_verify_checksums():
    with xsk.Umem(frame_count=4, hugepages="off") as umem:
        b = _batch(umem, [bytes(_frames()[0])])
        with pytest.raises(xsk.ConfigError, match="verify_checksums=True"):
            _ = headers.parse(b).l4_csum_ok
        with pytest.raises(xsk.ConfigError, match="verify_checksums=True"):
            replies.finish_partial_checksums(b, headers.parse(b))
        b.release()


_ZERO_SUM_UDP, _ZERO_SUM_TCP = _zero_sum_payload(False), _zero_sum_payload(True)


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=300), v6=st.booleans(), tcp=st.booleans(),
       sport=st.integers(1, 65535), dport=st.integers(1, 65535), corrupt=st.integers(0, 65535))
@example(payload=b"", v6=False, tcp=False, sport=1, dport=2, corrupt=0)  # the old field 0 and 0xffff,
@example(payload=b"\x01", v6=True, tcp=True, sport=65535, dport=65535, corrupt=0xFFFF)  # an odd length
@example(payload=_ZERO_SUM_UDP, v6=False, tcp=False, sport=1, dport=2, corrupt=0)  # a sum of 0: sent 0xffff
@example(payload=_ZERO_SUM_TCP, v6=False, tcp=True, sport=1, dport=2, corrupt=0xFFFF)  # TCP keeps 0x0000
def test_agrees_with_scapy_on_any_datagram(payload, v6, tcp, sport, dport, corrupt):
    ip = IPv6(src="2001:db8::7", dst="2001:db8::8") if v6 else IP(src="198.51.100.7", dst="198.51.100.8")
    l4 = TCP(sport=sport, dport=dport) if tcp else UDP(sport=sport, dport=dport)
    good = Ether(bytes(ETH / ip / l4 / payload))
    right = (good[TCP] if tcp else good[UDP]).chksum
    with xsk.Umem(frame_count=4, hugepages="off") as umem:
        b = _batch(umem, [bytes(good), _with_csum(good, corrupt)])
        h = headers.parse(b, verify_checksums=True)
        assert headers.count_checksums(b) == tuple(int(np.count_nonzero(h.l4_csum == s)) for s in range(4))
        want = CSUM_OK if corrupt == right or (not tcp and not v6 and corrupt == 0) else None
        assert h.l4_csum[0] == CSUM_OK
        if want is not None:
            assert h.l4_csum[1] in (CSUM_OK, CSUM_NONE)
        elif corrupt == _pseudo_fold(good):
            assert h.l4_csum[1] == CSUM_PARTIAL
        else:
            assert h.l4_csum[1] in (CSUM_BAD, CSUM_OK)  # 0x0000 and 0xffff are the same sum
        replies.fix_l4_checksums(b, h)
        assert bytes(b.data(0)) == bytes(good)
        assert bytes(b.data(1)) == bytes(good)  # whatever the field held before
        b.release()


@pytest.mark.parametrize("helper", ["reflect", "swap_ips", "swap_ports"])
def test_the_swaps_finish_partial_checksums_by_default_without_a_verified_parse(helper):
    """A natural echo (parse without verify_checksums, swap, send) answers a client whose veth
    leaves checksums to offload: the reply is valid on the wire. Valid, bad and absent
    checksums are left as they came; finish_partial=False leaves the partial ones too."""
    good = _frames()
    frames = [bytes(p) for p in good] + [_with_csum(p, _pseudo_fold(p)) for p in good]
    frames += [_with_csum(good[0], 0x1234), _with_csum(good[0], 0), bytes(ETH / b"\x88\xb5 not IP at all")]
    with xsk.Umem(frame_count=32, hugepages="off") as umem:
        b = _batch(umem, frames)
        getattr(replies, helper)(b, headers.parse(b))
        got = headers.parse(b, verify_checksums=True).l4_csum.tolist()
        assert got == [CSUM_OK] * 8 + [CSUM_BAD, CSUM_NONE, CSUM_NONE]
        b.release()
        b = _batch(umem, frames)
        getattr(replies, helper)(b, headers.parse(b), finish_partial=False)
        got = headers.parse(b, verify_checksums=True).l4_csum.tolist()
        assert got == [CSUM_OK] * 4 + [CSUM_PARTIAL] * 4 + [CSUM_BAD, CSUM_NONE, CSUM_NONE]
        b.release()
