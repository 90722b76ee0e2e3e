"""cffi API-mode build of ``xsk._xsk_cffi``: libxdp + libbpf + the per-batch shim.

The cdefs and the shim are real files beside this script so that editors,
compilers and reviewers see them as C.
"""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef((HERE / "cdefs.h").read_text())
ffibuilder.set_source(
    "xsk._xsk_cffi",
    '#include <linux/if_xdp.h>\n#include <xdp/libxdp.h>\n#include <xdp/xsk.h>\n#include "shim.h"\n'
    + (HERE / "shim.c").read_text(),
    include_dirs=[str(HERE)],
    libraries=["xdp", "bpf"],
    extra_compile_args=["-O3", "-Wall", "-Wno-unused-function"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
