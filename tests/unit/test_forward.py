"""Socket.forward on in-memory rings: RX ring -> TX ring in one C call, never through user space.

The stand-in kernel (xsk_standin_run) turns fill-ring frames into received packets and
completes every TX descriptor whenever it runs, so the ledger's invariants can be checked
after every step: no frame is ever USER during a forward, none is lost.
"""

import numpy as np
import pytest

import xsk
from xsk.testing import MemorySocket

DST, SRC = bytes(range(1, 7)), bytes(range(11, 17))
H = 256  # the stand-in kernel puts received data this far into each frame


@pytest.fixture
def umem():
    u = xsk.Umem(frame_count=1024, hugepages="off")
    yield u
    u.close()


def _balanced(umem: xsk.Umem) -> xsk.Accounting:
    acc = umem.accounting()
    assert acc.pool + acc.user + acc.fill + acc.tx == umem.frame_count
    assert acc.user == 0  # forwarded frames never belong to user space
    assert umem.ledger.kernel_errors == 0
    umem.verify()
    return acc


def _stamp_every_frame(umem: xsk.Umem) -> np.ndarray:
    """Write DST|SRC where every frame's received data starts; return the area as an array."""
    area = np.frombuffer(umem._map, dtype=np.uint8).reshape(umem.frame_count, umem.frame_size)
    area[:, H:H + 6] = np.frombuffer(DST, dtype=np.uint8)
    area[:, H + 6:H + 12] = np.frombuffer(SRC, dtype=np.uint8)
    return area


def test_forward_moves_received_frames_to_tx_and_swaps_macs(umem):
    area = _stamp_every_frame(umem)
    with MemorySocket(umem, ring_size=512, rx_len=60) as sock:
        sock._kick()  # the stand-in kernel receives into the frames on the fill ring
        k = sock.forward(64, timeout=0, swap_macs=True)  # TX until a later call reaps their completions
        assert k == 64
        acc = _balanced(umem)
        assert acc.tx == 64
        swapped = np.all(area[:, H:H + 6] == np.frombuffer(SRC, dtype=np.uint8), axis=1) & \
            np.all(area[:, H + 6:H + 12] == np.frombuffer(DST, dtype=np.uint8), axis=1)
        tx_frames = umem.ledger.frames_in("TX")
        assert sorted(np.flatnonzero(swapped)) == sorted(tx_frames)  # exactly the forwarded ones
        total = k
        for _ in range(50):
            total += sock.forward(256, timeout=0)  # this one runs the stand-in kernel after each call
            _balanced(umem)
        assert total > 1000
        sock.flush(timeout=1)
        acc = _balanced(umem)
        assert acc.tx == 0


def test_forward_takes_no_more_than_the_tx_ring_has_room_for(umem):
    with MemorySocket(umem, ring_size=64, rx_len=60) as sock:
        sock._kick()
        rx_waiting = umem.accounting().fill
        # the stand-in kernel sleeps: nothing drains the TX ring
        sock.kernel_running = False
        assert sock.forward(256, timeout=0) == 64  # the TX ring holds 64
        assert sock.forward(256, timeout=0) == 0  # full: the frames wait on the RX ring
        acc = _balanced(umem)
        assert acc.tx == 64 and acc.fill + acc.tx >= rx_waiting
        assert sock._path.tx_full
        # with a timeout it waits for TX room (the stand-in kernel, awake again, completes the
        # ring in that wait), not for RX, and then forwards the next frames
        sock.kernel_running = True
        assert sock.forward(256, timeout=5) == 64
        assert not sock._path.tx_full
        _balanced(umem)


def test_forward_out_of_another_socket_on_the_same_umem(umem):
    with MemorySocket(umem, ring_size=256) as a, MemorySocket(umem, ring_size=256) as b:
        a._kick()
        k = a.forward(32, timeout=0, out=b)
        assert k == 32
        acc = _balanced(umem)
        assert acc.tx == 32
        assert b.outstanding() == 32


def test_forward_refuses_what_it_cannot_do(umem):
    other = xsk.Umem(frame_count=64, hugepages="off")
    with MemorySocket(umem) as sock, MemorySocket(other, ring_size=32) as foreign:
        with pytest.raises(xsk.ConfigError, match="share one UMEM"):
            sock.forward(8, timeout=0, out=foreign)
        with pytest.raises(ValueError, match="at least 1"):
            sock.forward(0, timeout=0)
        sock.tx_enabled = False
        with pytest.raises(xsk.ConfigError, match="tx=False"):
            sock.forward(8, timeout=0)
        sock.tx_enabled = True
        sock.multi_buffer = True
        with pytest.raises(xsk.ConfigError, match="single-buffer"):
            sock.forward(8, timeout=0)
        sock.multi_buffer = False
        _balanced(umem)
    other.close()


def test_forward_after_close_raises(umem):
    sock = MemorySocket(umem)
    sock.close()
    with pytest.raises(xsk.ClosedError):
        sock.forward(8, timeout=0)


def _frames() -> list[tuple[bytes, bytes]]:
    """(frame, the reply forward(swap_macs, swap_ips, swap_ports) must make of it), padded to 90 bytes."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Raw

    m1, m2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
    pairs = [
        (Ether(dst=m1, src=m2) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1234, dport=9000) / Raw(b"x" * 8),
         Ether(dst=m2, src=m1) / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=9000, dport=1234) / Raw(b"x" * 8)),
        (Ether(dst=m1, src=m2) / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=40000, dport=80),
         Ether(dst=m2, src=m1) / IPv6(src="fd00::2", dst="fd00::1") / TCP(sport=80, dport=40000)),
        (Ether(dst=m1, src=m2) / Dot1Q(vlan=7) / IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=5, dport=6),
         Ether(dst=m2, src=m1) / Dot1Q(vlan=7) / IP(src="10.1.0.2", dst="10.1.0.1") / UDP(sport=6, dport=5)),
        (Ether(dst=m1, src=m2) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(),  # no ports to swap
         Ether(dst=m2, src=m1) / IP(src="10.0.0.2", dst="10.0.0.1") / ICMP()),
        (Ether(dst=m1, src=m2) / ARP(psrc="10.0.0.1", pdst="10.0.0.2"),  # no IP header: MACs only
         Ether(dst=m2, src=m1) / ARP(psrc="10.0.0.1", pdst="10.0.0.2")),
    ]
    # swapped addresses leave every checksum as it was, so scapy computes the same ones
    return [(bytes(a).ljust(90, b"\0"), bytes(b).ljust(90, b"\0")) for a, b in pairs]


def test_forward_makes_the_same_replies_as_xsk_replies(umem):
    """forward's C swaps against the frames scapy builds, and against recv + xsk.replies + send."""
    from xsk import headers, replies

    kinds = _frames()
    area = np.frombuffer(umem._map, dtype=np.uint8).reshape(umem.frame_count, umem.frame_size)
    for f in range(umem.frame_count):
        area[f, H:H + 90] = np.frombuffer(kinds[f % len(kinds)][0], dtype=np.uint8)
    with MemorySocket(umem, ring_size=512, rx_len=90) as sock:
        sock._kick()
        k = sock.forward(100, timeout=0, swap_macs=True, swap_ips=True, swap_ports=True)
        assert k == 100
        for f in umem.ledger.frames_in("TX"):
            assert bytes(area[f, H:H + 90]) == kinds[f % len(kinds)][1], f"frame {f}, kind {f % len(kinds)}"
        b = sock.recv(100, timeout=0)  # the Python route makes the same bytes
        assert len(b)
        frames = b.frame_indices.copy()
        h = headers.parse(b)
        replies.swap_macs(b)
        replies.swap_ips(b, h)
        replies.swap_ports(b, h)
        for f in frames:
            assert bytes(area[f, H:H + 90]) == kinds[f % len(kinds)][1]
        sock.release(b)
    del area
