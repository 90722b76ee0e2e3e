"""Hugepage backing: used when reserved, a warning and 4 KiB pages when not, an error when required."""

import mmap
import os

import pytest

import xsk
from xsk._binding import ffi
from xsk._umem import HUGEPAGE_SIZE, MAP_HUGETLB, free_hugepages


def _kernel_page_size(start: int) -> int:
    """KernelPageSize (kB) of the mapping that contains ``start``, from /proc/self/smaps."""
    current = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and ":" not in head:
                lo, hi = (int(x, 16) for x in head.split("-"))
                current = lo <= start < hi
            elif current and line.startswith("KernelPageSize:"):
                return int(line.split()[1])
    raise AssertionError("mapping not found in smaps")


def test_umem_is_backed_by_hugepages_when_reserved():
    if free_hugepages() < 8:
        reason = "no free hugepages (make test reserves them: tools/host-setup.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with xsk.Umem(frame_count=4096, hugepages="required") as umem:
        assert umem.hugepages
        start = int(ffi.cast("uintptr_t", ffi.from_buffer(umem._map)))
        assert _kernel_page_size(start) == 2048


@pytest.fixture
def no_free_hugepages():
    """Reserve every free hugepage in this process, so none are left for the UMEM."""
    free = free_hugepages()
    hog = mmap.mmap(-1, free * HUGEPAGE_SIZE, flags=mmap.MAP_PRIVATE | MAP_HUGETLB) if free else None
    assert free_hugepages() == 0 or hog is None
    yield
    if hog is not None:
        hog.close()


def test_required_raises_with_a_hint(no_free_hugepages):
    with pytest.raises(xsk.HugepagesUnavailableError, match="nr_hugepages"):
        xsk.Umem(frame_count=1024, hugepages="required")


def test_auto_falls_back_with_a_warning(no_free_hugepages):
    with pytest.warns(RuntimeWarning, match="using 4 KiB pages"), xsk.Umem(frame_count=1024) as umem:
        assert not umem.hugepages
        start = int(ffi.cast("uintptr_t", ffi.from_buffer(umem._map)))
        assert _kernel_page_size(start) == 4
