"""The UMEM's mapping: MADV_DONTFORK, and what a fork()ed child finds where it was."""

import gc
import mmap
import os

import xsk


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
