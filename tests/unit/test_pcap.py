"""pcap and pcapng: malformed files are PcapErrors naming what is wrong, never a crash."""

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsk import pcap


def test_pcap_errors(tmp_path):
    path = tmp_path / "x.pcap"
    with pcap.Writer(str(path)) as w:
        w.write([bytes(60), bytes(70)], 5)
    good = path.read_bytes()
    assert [len(f) for f in pcap.read(str(path)).frames] == [60, 70]
    cases = {
        good[:10]: "truncated pcap header",
        good[:-3]: "truncated",
        good[:24 + 8] + struct.pack("<I", 10**6) + good[24 + 12:]: "exceeds the snap length",
        b"\0" * 40: "not a pcap",
        good[:20] + struct.pack("<I", 101) + good[24:]: "not Ethernet",
    }
    for data, message in cases.items():
        path.write_bytes(data)
        with pytest.raises(pcap.PcapError, match=message):
            pcap.read(str(path))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), magic=st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"]))
def test_pcap_reader_fuzz(tmp_path_factory, data, magic):
    path = tmp_path_factory.mktemp("fuzz") / "f.pcap"
    path.write_bytes(magic + data)
    with contextlib.suppress(pcap.PcapError):
        pcap.read(str(path))


KIB256 = 256 * 1024


def _pcap_file(snaplen: int, caplen: int) -> bytes:
    """A pcap file whose header gives ``snaplen`` and whose one record holds ``caplen`` bytes."""
    header = struct.pack("<IHHiIII", pcap.PCAP_MAGIC_NS, 2, 4, 0, 0, snaplen, pcap.LINKTYPE_ETHERNET)
    return header + struct.pack("<IIII", 1, 2, caplen, caplen) + bytes(caplen)


def _block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _pcapng_file(snaplen: int, epb: int | None = None, spb: int | None = None) -> bytes:
    """A pcapng section with one Ethernet interface of ``snaplen`` and one packet block: an
    enhanced one holding ``epb`` bytes, or a simple one holding ``spb`` bytes."""
    data = _block(pcap.PCAPNG_SHB, struct.pack("<IHHq", pcap.BYTE_ORDER_MAGIC, 1, 0, -1))
    data += _block(pcap.PCAPNG_IDB, struct.pack("<HHI", pcap.LINKTYPE_ETHERNET, 0, snaplen))
    if epb is not None:
        data += _block(pcap.PCAPNG_EPB, struct.pack("<IIIII", 0, 0, 1, epb, epb) + bytes(epb))
    if spb is not None:
        data += _block(pcap.PCAPNG_SPB, struct.pack("<I", spb) + bytes(spb))
    return data


@pytest.mark.parametrize(("snaplen", "limit"), [(100, 100), (0, KIB256), (0xFFFFFFFF, KIB256), (KIB256 + 1, KIB256)])
def test_pcap_records_are_bounded_by_the_snap_length_and_256_kib(snaplen, limit):
    """docs/security.md: a pcap record holds at most the file's snap length and at most 256 KiB
    (0, an unknown snap length, is bounded by 256 KiB alone). A record of exactly the limit is
    read; one byte more is refused, naming the record, its offset and the limit."""
    assert [len(f) for f in pcap.parse_bytes(_pcap_file(snaplen, limit)).frames] == [limit]
    refused = f"record 0 at byte 24: {limit + 1} bytes exceeds the snap length {limit}$"
    with pytest.raises(pcap.PcapError, match=refused):
        pcap.parse_bytes(_pcap_file(snaplen, limit + 1))


@pytest.mark.parametrize(("snaplen", "limit"), [(100, 100), (0, KIB256), (0xFFFFFFFF, KIB256), (KIB256 + 1, KIB256)])
def test_pcapng_records_are_bounded_by_the_snap_length_and_256_kib(snaplen, limit):
    """The same for pcapng: an enhanced packet block holds at most its interface's snap length
    and 256 KiB (exactly the limit is read, one byte more refused); a simple packet block's
    frame is its original length cut to the snap length (the format's rule), and refused when
    that is more than 256 KiB."""
    assert [len(f) for f in pcap.parse_bytes(_pcapng_file(snaplen, epb=limit)).frames] == [limit]
    refused = f"packet block at byte 48: {limit + 1} bytes exceeds the snap length {limit}$"
    with pytest.raises(pcap.PcapError, match=refused):
        pcap.parse_bytes(_pcapng_file(snaplen, epb=limit + 1))
    assert [len(f) for f in pcap.parse_bytes(_pcapng_file(snaplen, spb=limit)).frames] == [limit]
    if snaplen and snaplen <= KIB256:
        assert [len(f) for f in pcap.parse_bytes(_pcapng_file(snaplen, spb=limit + 1)).frames] == [limit]
    else:
        with pytest.raises(pcap.PcapError, match="simple " + refused):
            pcap.parse_bytes(_pcapng_file(snaplen, spb=limit + 1))


def test_a_capture_frame_larger_than_a_umem_frame_is_refused_before_anything_is_sent(tmp_path):
    """docs/security.md: ``xsk gen --pcap`` and ``xsk replay`` refuse a frame larger than a UMEM
    frame before opening anything. In 2048-byte UMEM frames a 2048-byte frame is taken (gen
    plans its run; replay's recording is read); 2049 bytes are refused with both sizes named."""
    from xsk.errors import ConfigError
    from xsk.traffic._run_plan import plan, recording

    fits, too_big = str(tmp_path / "fits.pcap"), str(tmp_path / "too_big.pcap")
    with pcap.Writer(fits) as w:
        w.write([bytes(60), bytes(2048)], 1)
    with pcap.Writer(too_big) as w:
        w.write([bytes(60), bytes(2049)], 1)
    assert [len(f) for f in plan("lo", pcap=fits, frame_size=2048).pcap_frames] == [60, 2048]
    assert [len(f) for f in recording(fits, 2048).frames] == [60, 2048]
    refused = "holds a 2049-byte frame, larger than the 2048-byte UMEM frame"
    with pytest.raises(ConfigError, match=refused):
        plan("lo", pcap=too_big, frame_size=2048)
    with pytest.raises(ConfigError, match=refused):
        recording(too_big, 2048)
