"""xsk.headers: the C parser (parse, straight from the UMEM) against the numpy reference
(parse_rows), on well-formed and malformed frames alike."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import xsk
from xsk import headers

FIELDS = ("ethertype", "vlan", "l3", "ip_version", "proto", "src_ip4", "dst_ip4", "src_ip6", "dst_ip6",
          "l4", "src_port", "dst_port", "payload", "udp_len", "udp", "tcp")


@st.composite
def frames(draw):
    out = bytearray(draw(st.binary(min_size=12, max_size=12)))
    for _ in range(draw(st.integers(0, 2))):
        out += draw(st.sampled_from([b"\x81\x00", b"\x88\xa8"])) + draw(st.binary(min_size=2, max_size=2))
    kind = draw(st.sampled_from(["ip4", "ip6", "arp", "other"]))
    other = draw(st.binary(min_size=2, max_size=2))
    out += {"ip4": b"\x08\x00", "ip6": b"\x86\xdd", "arp": b"\x08\x06", "other": other}[kind]
    proto = draw(st.sampled_from([6, 17, 1, 58, 0]))
    if kind == "ip4":
        ihl = draw(st.sampled_from([5, 5, 6, 15, 2]))
        ip = bytearray(draw(st.binary(min_size=ihl * 4 if ihl >= 5 else 20, max_size=60)))
        ip[0] = 0x40 | ihl
        ip[9] = proto
        out += ip
    elif kind == "ip6":
        ip = bytearray(draw(st.binary(min_size=40, max_size=40)))
        ip[6] = proto
        out += ip
    out += draw(st.binary(min_size=0, max_size=120))
    cut = draw(st.integers(12, len(out)))  # truncated frames too
    return bytes(out[:cut])


@settings(max_examples=400, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=16))
def test_c_parser_matches_the_numpy_reference(batch_frames):
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        b = umem.take(len(batch_frames))
        umem.array[:] = 0  # bytes past a frame's length read as zeros in both parsers
        for i, f in enumerate(batch_frames):
            b.write(i, f)
        got = headers.parse(b)
        rows = np.zeros((len(b), headers.HEAD), dtype=np.uint8)
        for i, f in enumerate(batch_frames):
            rows[i, : min(len(f), headers.HEAD)] = np.frombuffer(f[: headers.HEAD], dtype=np.uint8)
        want = headers.parse_rows(rows, b.lens)
        verified = headers.parse(b, verify_checksums=True)  # its own inlined parse, the same fields
        for name in FIELDS:
            for parsed in (got, verified):
                assert np.array_equal(np.asarray(getattr(parsed, name), dtype=np.int64),
                                      np.asarray(getattr(want, name), dtype=np.int64)), name
        assert headers.count_checksums(b) == tuple(int(np.count_nonzero(verified.l4_csum == s)) for s in range(4))
        for mask, proto in ((got.udp, 17), (got.tcp, 6)):  # the masks' meaning, from the fields
            assert np.array_equal(mask, (np.asarray(want.proto) == proto) & (np.asarray(want.l4) >= 0))
            assert not mask.flags.writeable
        b.release()
