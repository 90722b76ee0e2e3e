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
