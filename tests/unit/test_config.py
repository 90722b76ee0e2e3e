"""Configuration is validated up front, with errors that say what is allowed."""

import pytest

import xsk


@pytest.mark.parametrize("frame_size", [0, 1000, 1024, 3000, 8192, "2048"])
def test_frame_size(frame_size):
    with pytest.raises(xsk.ConfigError, match=r"^frame_size: must be 2048 or 4096"):
        xsk.Umem(frame_size=frame_size, hugepages="off")


@pytest.mark.parametrize("count", [0, -1, 1 << 25])
def test_frame_count(count):
    with pytest.raises(xsk.ConfigError, match="frame_count"):
        xsk.Umem(frame_count=count, hugepages="off")


def test_headroom_must_leave_room():
    with pytest.raises(xsk.ConfigError, match="headroom"):
        xsk.Umem(frame_size=2048, headroom=2048 - 256 - 64, hugepages="off")
    with xsk.Umem(frame_count=4, headroom=128, hugepages="off") as u:
        assert u.headroom == 128


def test_hugepage_policy():
    with pytest.raises(xsk.ConfigError, match=r"^hugepages: must be"):
        xsk.Umem(hugepages="yes")  # type: ignore[arg-type]  # the wrong value is the test


@pytest.mark.parametrize("ring_size", [0, 3, 1000, 2047])
def test_ring_size_must_be_power_of_two(ring_size):
    with xsk.Umem(frame_count=8, hugepages="off") as u, pytest.raises(xsk.ConfigError, match="power of two"):
        xsk.Socket(u, "lo", ring_size=ring_size)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "fast"}, "^mode: must be"),
    ({"xdp_mode": "hw"}, "^xdp_mode: must be"),
    ({"rx": False, "tx": False}, "rx=True, tx=True"),
    ({"queue": -1}, "^queue: must be"),
])
def test_socket_arguments(kwargs, message):
    with xsk.Umem(frame_count=8, hugepages="off") as u, pytest.raises(xsk.ConfigError, match=message):
        xsk.Socket(u, "lo", **kwargs)


def test_umem_close_is_idempotent_and_take_after_close_raises():
    u = xsk.Umem(frame_count=8, hugepages="off")
    u.close()
    u.close()
    with pytest.raises(xsk.ClosedError):
        u.take(1)


def test_accounting_always_sums():
    with xsk.Umem(frame_count=8, hugepages="off") as u:
        b = u.take(3)
        acc = u.accounting()
        assert acc.balanced and acc.user == 3 and acc.total == 8
        u.release(b)


def test_unaligned_chunk_mode_frame_sizes():
    with xsk.Umem(frame_count=8, frame_size=3000, unaligned=True, hugepages="off") as umem:
        b = umem.take(3)
        assert list(b.addrs) == [0, 3000, 6000] and list(b.frame_indices) == [0, 1, 2]
        b.set_offsets(100)
        assert list(b.offsets) == [100] * 3 and b.room(0) == 2900
        b.release()
        umem.verify()
    for bad in (2047, 4097, 4001):
        with pytest.raises(xsk.ConfigError, match="even number from 2048 to 4096"):
            xsk.Umem(frame_count=8, frame_size=bad, unaligned=True, hugepages="off")
    with pytest.raises(xsk.ConfigError, match="unaligned=True allows"):
        xsk.Umem(frame_count=8, frame_size=3000, hugepages="off")
