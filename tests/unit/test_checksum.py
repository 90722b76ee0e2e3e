"""Internet checksums, full and incremental (RFC 1071, RFC 1624)."""

import numpy as np

from xsk import checksum


def test_checksum_helpers_agree():
    data = bytes(range(37))
    assert checksum.checksum(data) == checksum.finish(checksum.row_sums(
        np.frombuffer(data + b"\0", np.uint8).reshape(1, -1)))[0]
    new = data[:10] + b"\x12\x34" + data[12:]
    assert checksum.incremental(checksum.checksum(data), data[10:12], new[10:12]) == checksum.checksum(new)
