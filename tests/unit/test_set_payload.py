"""replies.set_payloads: replies of another length, headers and checksums whole (scapy the oracle)."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

import xsk
from xsk import checksum, headers, replies
from xsk.headers import CSUM_OK

ETH = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")


def _rebuilt(frame: bytes):
    """The frame as scapy would build it from its fields with lengths and checksums recomputed."""
    p = Ether(frame)
    for layer, fields in ((IP, ("len", "chksum")), (IPv6, ("plen",)), (UDP, ("len", "chksum")), (TCP, ("chksum",))):
        if layer in p:
            for f in fields:
                setattr(p[layer], f, None)
    return bytes(Ether(bytes(p)))


def _batch(umem, frames):
    b = umem.take(len(frames))
    for i, f in enumerate(frames):
        b.write(i, f)
    return b


REQUESTS = [
    ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5000, dport=7) / b"GET key",
    ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5000, dport=7) / b"GET a-much-longer-key-name",
    ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=80, dport=4000, flags="PA") / b"req",
    ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=80, dport=4000, flags="PA") / b"",
]


def test_every_frame_gets_its_payload_with_lengths_and_checksums_whole():
    # lengths above 255 for UDP and TCP, both byte orders of every length field exercised; and an empty one
    answers = [b"VALUE is a longer reply than the request", b"y" * 700, b"x" * 1000, b""]
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        b = _batch(umem, [bytes(p) for p in REQUESTS])
        h = headers.parse(b)
        replies.set_payloads(b, h, answers)
        for i, answer in enumerate(answers):
            got = bytes(b.data(i))
            assert got.endswith(answer) and got == _rebuilt(got)
            assert len(got) == len(REQUESTS[i]) - len(REQUESTS[i].lastlayer().load if hasattr(
                REQUESTS[i].lastlayer(), "load") else b"") + len(answer)
        assert headers.parse(b, verify_checksums=True).l4_csum.tolist() == [CSUM_OK] * 4
        b.release()


def test_where_selects_frames_in_order_and_one_frame_form():
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        frames = [bytes(p) for p in REQUESTS[:3]]
        b = _batch(umem, frames)
        h = headers.parse(b)
        replies.set_payloads(b, h, [b"first", b"third"], where=np.array([True, False, True]))
        assert bytes(b.data(0)).endswith(b"first") and bytes(b.data(2)).endswith(b"third")
        assert bytes(b.data(1)) == frames[1]
        replies.set_payload(b, h, 1, b"second!")
        assert bytes(b.data(1)).endswith(b"second!") and bytes(b.data(1)) == _rebuilt(bytes(b.data(1)))
        b.release()


def test_bad_frames_are_refused_by_index_and_nothing_changes():
    arp = bytes(ETH / ARP(pdst="192.0.2.2"))
    with xsk.Umem(frame_count=8, frame_size=2048, hugepages="off") as umem:
        frames = [bytes(REQUESTS[0]), arp]
        b = _batch(umem, frames)
        h = headers.parse(b)
        with pytest.raises(xsk.ConfigError, match="frame 1 has no UDP/TCP payload"):
            replies.set_payloads(b, h, [b"ok", b"no"])
        with pytest.raises(xsk.FrameTooLargeError, match="frame 0: a 2040-byte payload"):
            replies.set_payloads(b, h, [b"z" * 2040], where=np.array([True, False]))
        with pytest.raises(xsk.ConfigError, match="1 payloads for 2 frames"):
            replies.set_payloads(b, h, [b"one"])
        assert [bytes(b.data(i)) for i in range(2)] == frames
        b.release()


def test_pseudo_header_sum_is_what_offload_leaves_and_l4_checksum_matches_scapy():
    p = Ether(bytes(REQUESTS[0]))
    seg = bytearray(bytes(p[UDP]))
    seg[6:8] = b"\0\0"
    assert checksum.l4_checksum("192.0.2.1", "192.0.2.2", 17, bytes(seg)) == p[UDP].chksum
    q = Ether(bytes(REQUESTS[1]))
    seg6 = bytearray(bytes(q[UDP]))
    seg6[6:8] = b"\0\0"
    assert checksum.l4_checksum("2001:db8::1", "2001:db8::2", 17, bytes(seg6)) == q[UDP].chksum
    partial = checksum.pseudo_header_sum("192.0.2.1", "192.0.2.2", 17, len(seg))
    frame = bytearray(bytes(p))
    frame[40:42] = partial.to_bytes(2, "big")  # UDP checksum at 14 + 20 + 6
    with xsk.Umem(frame_count=2, hugepages="off") as umem:
        b = _batch(umem, [bytes(frame)])
        assert headers.parse(b, verify_checksums=True).l4_csum_partial.tolist() == [True]
        b.release()


def _garbled(frame: bytes, v6: bool, tcp: bool, ip_csum: int, l4_csum: int) -> bytes:
    """The frame with whatever its IPv4 header checksum and L4 checksum fields may hold."""
    raw = bytearray(frame)
    l3 = 14
    l4 = l3 + (40 if v6 else (raw[l3] & 0x0F) * 4)
    if not v6:
        raw[l3 + 10:l3 + 12] = ip_csum.to_bytes(2, "big")
    at = l4 + (16 if tcp else 6)
    raw[at:at + 2] = l4_csum.to_bytes(2, "big")
    return bytes(raw)


@settings(max_examples=150, deadline=None)
@given(request=st.binary(max_size=200), answer=st.binary(max_size=1400), v6=st.booleans(), tcp=st.booleans(),
       ip_options=st.integers(0, 10), tcp_options=st.integers(0, 10), ip_csum=st.integers(0, 0xFFFF),
       l4_csum=st.integers(0, 0xFFFF))
def test_any_lengths_agree_with_scapy(request, answer, v6, tcp, ip_options, tcp_options, ip_csum, l4_csum):
    """Any request (IPv4 options, TCP options, any value in the old checksum fields) and any
    answer: the reply is what scapy builds from its fields."""
    ip = (IPv6(src="2001:db8::7", dst="2001:db8::8") if v6 else
          IP(src="198.51.100.7", dst="198.51.100.8", options=[IPOption_NOP()] * (4 * ip_options)))
    l4 = TCP(sport=1, dport=2, options=[("NOP", None)] * (4 * tcp_options)) if tcp else UDP(sport=1, dport=2)
    frame = _garbled(bytes(ETH / ip / l4 / request), v6, tcp, ip_csum, l4_csum)
    with xsk.Umem(frame_count=2, hugepages="off") as umem:
        b = _batch(umem, [frame])
        h = headers.parse(b)
        replies.set_payloads(b, h, [answer])
        got = bytes(b.data(0))
        assert got == _rebuilt(got) and got.endswith(answer)
        b.release()


def test_a_payload_taken_from_the_frame_itself_is_moved_not_smeared():
    """Rows that are a view of the UMEM, overlapping the payload they replace (a shift by two
    bytes either way): the reply holds the bytes as they were before the call."""
    request = bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5, dport=7) / bytes(range(40)))
    for shift in (2, -2):
        with xsk.Umem(frame_count=2, hugepages="off") as umem:
            b = _batch(umem, [request])
            h = headers.parse(b)
            start = int(b.addrs[0]) + int(h.payload[0]) + shift
            rows = umem.array[start:start + 30].reshape(1, 30)
            want = bytes(rows[0])
            replies.set_payloads(b, h, rows)
            got = bytes(b.data(0))
            assert got == _rebuilt(got) and got.endswith(want) and len(got) == 42 + 30
            b.release()


def test_a_tcp_header_shorter_than_its_fixed_part_is_refused():
    frame = bytearray(bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=1, dport=2) / b"data!"))
    frame[14 + 20 + 12] = 0x40  # data offset 4: 16 bytes, the checksum field would be payload
    with xsk.Umem(frame_count=2, hugepages="off") as umem:
        b = _batch(umem, [bytes(frame)])
        with pytest.raises(xsk.ConfigError, match="frame 0's TCP header is malformed"):
            replies.set_payloads(b, headers.parse(b), [b"reply"])
        assert bytes(b.data(0)) == bytes(frame)
        b.release()


def test_scapy_in_and_out_without_a_loop():
    packets = [ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=i) / (b"p%d" % i) for i in range(5)]
    with xsk.Umem(frame_count=8, frame_size=2048, hugepages="off") as umem:
        b = umem.take_packets(packets)
        assert len(b) == 5 and [bytes(p) for p in b.to_scapy()] == [bytes(p) for p in packets]
        assert b.packet(3)[UDP].dport == 3
        b.release()
        with pytest.raises(xsk.FrameTooLargeError, match="packet 1: 3000 bytes"):
            umem.take_packets([b"x" * 60, b"y" * 3000])
        with pytest.raises(xsk.ConfigError, match="9 packets but only 8 free frames"):
            umem.take_packets([b"z" * 60] * 9)
        assert umem.accounting().pool == 8  # all or nothing: no frame kept by a refused call


def test_an_array_of_payloads_gives_the_same_frames_as_a_list():
    """One row per payload (no Python per frame): frame for frame what the list form writes; a
    wrong shape or count is refused with the batch unchanged."""
    rows = np.arange(4 * 24, dtype=np.uint8).reshape(4, 24)
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        by_list, by_rows = (_batch(umem, [bytes(p) for p in REQUESTS]) for _ in range(2))
        replies.set_payloads(by_list, headers.parse(by_list), [bytes(r) for r in rows])
        before = [bytes(by_rows.data(i)) for i in range(4)]
        h = headers.parse(by_rows)
        with pytest.raises(xsk.ConfigError, match="one row per payload"):
            replies.set_payloads(by_rows, h, rows.reshape(-1))
        with pytest.raises(xsk.ConfigError, match="3 payloads for 4 frames"):
            replies.set_payloads(by_rows, h, rows[:3])
        assert [bytes(by_rows.data(i)) for i in range(4)] == before
        replies.set_payloads(by_rows, h, rows)
        assert [bytes(by_rows.data(i)) for i in range(4)] == [bytes(by_list.data(i)) for i in range(4)]
        assert all(bytes(by_rows.data(i)).endswith(bytes(rows[i])) for i in range(4))
        one = np.array([False, True, False, False])
        replies.set_payloads(by_rows, headers.parse(by_rows), rows[:1] + 1, where=one)
        assert bytes(by_rows.data(1)).endswith(bytes(rows[0] + 1)) and bytes(by_rows.data(0)).endswith(bytes(rows[0]))
        by_list.release()
        by_rows.release()


def test_payloads_of_wider_items_are_counted_in_bytes():
    """A memoryview of 16-bit items is 6 bytes though its len() is 3: alone or in a list."""
    wide = memoryview(array("H", [0x4141, 0x4242, 0x4343]))
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        b = _batch(umem, [bytes(REQUESTS[0])] * 3)
        h = headers.parse(b)
        replies.set_payload(b, h, 0, wide)
        replies.set_payloads(b, h, [b"xy", wide], where=np.array([False, True, True]))
        for i, want in enumerate((wide.tobytes(), b"xy", wide.tobytes())):
            got = bytes(b.data(i))
            assert got.endswith(want) and len(got) == 42 + len(want) and got == _rebuilt(got)
        b.release()
