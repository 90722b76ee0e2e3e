"""xsk.replies: one C call per batch each, checked before any frame changes, and equal to the
numpy references below (the helpers' implementations before they moved to C)."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk import headers, replies


def test_swap_macs_swaps_every_frame_and_refuses_a_frame_too_short_for_it():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(3)
        for i in range(3):
            b.write(i, bytes([i] * 6 + [0xA0 + i] * 6) + b"payload")
        replies.swap_macs(b)
        assert [bytes(b.data(i)[:12]) for i in range(3)] == [bytes([0xA0 + i] * 6 + [i] * 6) for i in range(3)]
        before = b.gather(12)
        b.set_offsets(np.array([0, 0, umem.frame_size - 8]))  # the last frame's data can't hold two MACs
        with pytest.raises(xsk.ConfigError, match="too close to the end of its frame"):
            replies.swap_macs(b)
        b.set_offsets(0)
        assert np.array_equal(b.gather(12), before)  # nothing was swapped
        b.release()


# --- the C helpers against numpy references (the helpers' former implementations) ----------------


def ref_swap_ips(rows: np.ndarray, h) -> np.ndarray:
    out = rows.copy()
    for version, src, width in ((4, 12, 4), (6, 8, 16)):
        for i in np.flatnonzero(h.ip_version == version):
            at = int(h.l3[i]) + src
            out[i, at:at + 2 * width] = np.concatenate([rows[i, at + width:at + 2 * width], rows[i, at:at + width]])
    return out


def ref_swap_ports(rows: np.ndarray, h) -> np.ndarray:
    out = rows.copy()
    for i in np.flatnonzero((h.src_port > 0) | (h.dst_port > 0)):
        at = int(h.l4[i])
        out[i, at:at + 4] = np.concatenate([rows[i, at + 2:at + 4], rows[i, at:at + 2]])
    return out


def ref_update_word(rows: np.ndarray, offsets, csum_offsets, words, where) -> np.ndarray:
    out = rows.copy()
    for i in np.flatnonzero(where):
        o, c, new = int(offsets[i]), int(csum_offsets[i]), int(words[i]) & 0xFFFF
        old = int(rows[i, o]) << 8 | int(rows[i, o + 1])
        hc = int(rows[i, c]) << 8 | int(rows[i, c + 1])
        total = (~hc & 0xFFFF) + (~old & 0xFFFF) + new
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        out[i, o:o + 2] = [new >> 8, new & 0xFF]
        out[i, c:c + 2] = [(~total & 0xFFFF) >> 8, ~total & 0xFF]
    return out


@functools.cache
def _frames() -> list[bytes]:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether

    return [bytes(p) for p in (
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"x" * 10),
        Ether() / Dot1Q(vlan=5) / IP(src="10.0.0.3", dst="10.0.0.4") / TCP(sport=3, dport=4),
        Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5, dport=6),
        Ether() / IP(src="10.0.0.5", dst="10.0.0.6") / ICMP(),
        Ether() / ARP(),
    )]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.lists(st.booleans(), min_size=40, max_size=40))
def test_swaps_match_the_numpy_reference(picks, mask):
    frames = [_frames()[k] for k in picks]
    where = np.array(mask[:len(frames)])
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        b = umem.take(len(frames))
        for i, f in enumerate(frames):
            b.write(i, f)
        h = headers.parse(b)
        width = max(map(len, frames))
        before = b.gather(width)
        replies.swap_ips(b, h)
        assert np.array_equal(b.gather(width), ref_swap_ips(before, h))
        replies.swap_ports(b, h)
        assert np.array_equal(b.gather(width), ref_swap_ports(ref_swap_ips(before, h), h))
        replies.reflect(b, h)  # all three again: back to the original MACs swapped once more
        expect = ref_swap_ports(ref_swap_ips(ref_swap_ports(ref_swap_ips(before, h), h), h), h)
        expect[:, :12] = np.concatenate([expect[:, 6:12], expect[:, :6]], axis=1)
        assert np.array_equal(b.gather(width), expect)
        partial = b.gather(width)
        replies.swap_ips(b, h, where=where)
        ref = ref_swap_ips(partial, h)
        assert np.array_equal(b.gather(width), np.where(where[:, None], ref, partial))
        b.release()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=30), st.data())
def test_update_word_matches_the_numpy_reference(words, data):
    n = len(words)
    where = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    with xsk.Umem(frame_count=64, hugepages="off") as umem:
        b = umem.take(n)
        for i in range(n):
            b.write(i, _frames()[0])
        h = headers.parse(b)
        before = b.gather(60)
        replies.update_word(b, h.l4, h.l4 + 6, np.array(words), where)  # the UDP source port's word... its checksum
        assert np.array_equal(b.gather(60), ref_update_word(before, h.l4, h.l4 + 6, words, where))
        b.release()


def test_helpers_check_every_frame_before_changing_any():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(2)
        for i in range(2):
            b.write(i, _frames()[0])
        h = headers.parse(b)
        before = b.gather(60)
        records = h.records()
        records["l4"][1] = umem.frame_size  # past its frame: refused, and frame 0 untouched too
        with pytest.raises(xsk.ConfigError, match="outside its frame"):
            replies.swap_ports(b, h)
        with pytest.raises(xsk.ConfigError, match="outside its frame"):
            replies.update_word(b, h.l4, h.l4 + 6, 7)
        assert np.array_equal(b.gather(60), before)
        one = b.select(np.array([True, False]))
        for helper in (lambda: replies.swap_ips(one, h), lambda: replies.fix_l4_checksums(one, h),
                       lambda: replies.set_payloads(one, h, [b"x"]), lambda: replies.set_payload(one, h, 0, b"x")):
            with pytest.raises(xsk.ConfigError, match="headers of 2 frames for a batch of 1"):
                helper()
        one.release()
        for helper in (lambda: replies.set_payloads(one, h, [b"x"]), lambda: replies.reflect(one, h),
                       lambda: replies.swap_macs(one), lambda: replies.fix_l4_checksums(one, h),
                       lambda: replies.update_word(one, h.l4, h.l4 + 6, 7)):
            with pytest.raises(xsk.FrameOwnershipError, match="already handed over"):
                helper()  # a spent batch's frames are someone else's: no helper touches them
        b.release()


def test_headers_from_separate_arrays_work_with_the_c_helpers():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(1)
        b.write(0, _frames()[0])
        rows = b.gather(headers.HEAD)
        h = headers.parse_rows(rows, b.lens)  # numpy-made: records() builds the C layout
        replies.swap_ports(b, h)
        assert bytes(b.data(0)[34:38]) == bytes([0, 2, 0, 1])
        b.release()


def test_every_helper_on_a_umem_whose_frames_are_not_a_power_of_two():
    """Unaligned chunk mode allows 3000-byte frames: each helper finds a frame's room by the
    remainder, not a mask, and gives what it gives on 2048-byte frames."""
    frame = bytes(Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(src="192.0.2.1", dst="192.0.2.2")
                  / UDP(sport=5, dport=7) / b"question")
    results = []
    for size, unaligned in ((3000, True), (2048, False)):
        with xsk.Umem(frame_count=8, frame_size=size, unaligned=unaligned, hugepages="off") as umem:
            b = umem.take(3)
            for i in range(3):
                b.write(i, frame)
            h = headers.parse(b, verify_checksums=True)
            assert h.l4_csum_ok.all() and headers.count_checksums(b) == (0, 3, 0, 0)
            replies.reflect(b, h)
            replies.swap_macs(b)
            replies.update_word(b, h.l4 + 2, h.l4 + 6, 9)
            replies.fix_l4_checksums(b, h)
            replies.set_payloads(b, h, [b"a", b"bb", b"answer"])
            with pytest.raises(xsk.FrameTooLargeError):
                replies.set_payloads(b, h, [b"x" * (size - 40)] * 3)
            results.append([bytes(b.data(i)) for i in range(3)])
            assert headers.parse(b, verify_checksums=True).l4_csum_ok.all()
            b.release()
    assert results[0] == results[1]
