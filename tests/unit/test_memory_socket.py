"""xsk.testing.MemorySocket: a real Socket over rings in ordinary memory, with a stand-in kernel."""

import pytest

import xsk
from xsk.testing import MemoryRing, MemorySocket


@pytest.fixture
def umem():
    with xsk.Umem(frame_count=256, hugepages="off") as u:
        yield u


def test_it_is_a_socket_with_everything_a_socket_has(umem):
    with MemorySocket(umem, ring_size=64) as sock:
        assert isinstance(sock, xsk.Socket)
        real_attributes = {"umem", "ifname", "queue", "netns", "ring_size", "rx_enabled", "tx_enabled", "busy_poll",
                           "busy_poll_budget", "multi_buffer", "fill_frames", "mode", "fd", "ifindex", "ns_id"}
        assert real_attributes <= set(dir(sock))
        assert sock.mode == "memory" and sock.xdp_mode is None and not sock.closed
        assert sock.statistics() == dict.fromkeys(xsk.STATISTICS, 0)
        assert sock.fill_frames == 64 and umem.accounting().fill == 64  # topped up on opening
    assert sock.closed and umem.accounting().pool == 256
    with pytest.raises(xsk.ClosedError):
        sock.statistics()


def test_recv_needs_a_positive_max_and_keeps_accounts(umem):
    sock = MemorySocket(umem, ring_size=64)
    with pytest.raises(ValueError, match="max: must be at least 1"):
        sock.recv(0)
    for _ in range(50):
        b = umem.take(32, 60)
        sock.send(b)
        if len(b):
            umem.release(b)
        got = sock.recv(32, timeout=0)
        sock.release(got)
    assert umem.accounting().balanced
    sock.close()
    assert umem.accounting().pool == 256


def test_the_stand_in_kernel_receives_what_is_on_the_fill_ring_as_rx_len_byte_frames(umem):
    with MemorySocket(umem, ring_size=64, rx_len=100) as sock:
        sock.poll(0)  # where a real socket would sleep, the stand-in kernel runs
        got = sock.recv(16, timeout=0)
        assert len(got) == 16 and set(got.lens) == {100}
        assert set(got.offsets) == {256}  # the kernel's headroom in front of received data
        got.release()


def test_a_paused_kernel_leaves_the_rings_alone(umem):
    with MemorySocket(umem, ring_size=64) as sock:
        sock.kernel_running = False
        b = umem.take(8, 60)
        assert sock.send(b) == 8
        assert len(sock.recv(8, timeout=0)) == 0 and umem.accounting().tx == 8
        sock.kernel_running = True
        sock.flush(timeout=1)
        assert umem.accounting().tx == 0


def test_bad_arguments_are_config_errors(umem):
    with pytest.raises(xsk.ConfigError, match="rx_len"):
        MemorySocket(umem, rx_len=0)
    with pytest.raises(xsk.ConfigError, match="power of two"):
        MemorySocket(umem, ring_size=48)
    with pytest.raises(xsk.ConfigError, match="power of two"):
        MemoryRing(6, "fill")
    with pytest.raises(xsk.ConfigError, match=r"^rx_len: 1793-byte packets don't fit the 1792 bytes"):
        MemorySocket(umem, rx_len=2048 - 256 + 1)
    assert umem.accounting().pool == 256
