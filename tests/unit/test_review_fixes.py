"""Regression tests for problems a review found: threads, fork(), bounds, empty receives."""

import gc
import mmap
import os
import threading
import time

import numpy as np
import pytest

import xsk


def test_two_threads_sharing_a_umem_never_corrupt_the_ledger():
    umem = xsk.Umem(frame_count=4096, hugepages="off")
    errors = []

    def churn():
        deadline = time.monotonic() + 0.7
        try:
            while time.monotonic() < deadline:
                umem.release(umem.take(256))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert umem.accounting() == (4096, 0, 0, 0, 4096) and umem.ledger.c.pool_len == 4096
    umem.close()


def test_forked_child_gets_a_fence_not_someone_elses_memory():
    umem = xsk.Umem(frame_count=1024, hugepages="off")
    batch = umem.take(4)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for use in (lambda: umem.take(1), lambda: batch.data(0), lambda: batch.write(0, b"x")):
                try:
                    use()
                    code |= 1
                except xsk.ClosedError:
                    pass
            with open("/proc/self/maps") as maps:
                span = [line for line in maps if line.startswith(f"{umem._addr:x}-")]
            code |= 0 if span and span[0].split()[1].startswith("---") else 2
            del batch
            umem_ref = umem  # the inherited object goes away in the child...
            del umem_ref
            gc.collect()
            fresh = mmap.mmap(-1, 1 << 22)  # ...and the child's own memory keeps working
            fresh[:4] = b"ok!!"
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    umem.release(batch)
    umem.close()


def test_views_and_patches_stay_inside_their_frames():
    with xsk.Umem(frame_count=8, hugepages="off") as umem:
        b = umem.take(2)
        b.lens[0] = 4096
        with pytest.raises(xsk.FrameTooLargeError):
            b.data(0)
        with pytest.raises(xsk.FrameTooLargeError):
            b.patch(2040, np.zeros((2, 16), dtype=np.uint8))
        umem.release(b)
