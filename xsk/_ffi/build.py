"""cffi API-mode build of ``xsk._xsk_cffi``: libxdp and libbpf, and the C units beside this file.

Each C unit declares what Python may call once, in its header, between the lines
``/* XSK_CDEF_BEGIN */`` and ``/* XSK_CDEF_END */``: that part is valid C for the unit and
the other units, and is handed to cffi as it is. ``bpf.cdef`` holds what Python sees of
libbpf (objects, maps, BTF, test runs), ``libs.cdef`` of libxdp and the AF_XDP uapi. API mode
compiles a check of every declaration against the real headers, so a struct or constant that
drifts fails the build instead of corrupting memory.

The units are separate compilation units, in order of what they depend on:

    ledger    the frame-ownership ledger and its inline batch primitives
    datapath  one socket's data path: batch <-> rings, the kernel wakeup, forward
    system    socket options, busy polling, MADV_DONTFORK on rings, the log bridge
    xdplink   the redirect program's bpf_link: attach, find and share it across processes
    packet    patcher, header parser, MAC swaps, sequence statistics
    standin   the stand-in kernel for rings in ordinary memory (tests and benchmarks)

ledger.h's primitives are inline, so datapath.c's hot loops are specialised by -O3 as they
would be in one unit with the ledger (``tools/instructions`` counts the result).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
UNITS = ("ledger", "datapath", "system", "xdplink", "packet", "mix", "standin")
LIBRARIES = ("bpf.cdef", "libs.cdef")
_CDEF = re.compile(r"/\* XSK_CDEF_BEGIN \*/\n(.*?)/\* XSK_CDEF_END \*/", re.DOTALL)


def unit_cdef(unit: str) -> str:
    """The declarations Python sees of one C unit: its header's XSK_CDEF part."""
    header = HERE / f"{unit}.h"
    found = [m.group(1) for m in _CDEF.finditer(header.read_text())]
    if len(found) != 1:
        raise SystemExit(f"{header}: expected one XSK_CDEF_BEGIN ... XSK_CDEF_END part, found {len(found)}")
    return found[0]


def cdef() -> str:
    """Everything Python sees, in dependency order."""
    return "\n".join([*((HERE / f).read_text() for f in LIBRARIES), *(unit_cdef(u) for u in UNITS)])


ffibuilder = FFI()
ffibuilder.cdef(cdef())
ffibuilder.set_source(
    "xsk._xsk_cffi",
    "#include <linux/if_link.h>\n#include <linux/if_xdp.h>\n#include <bpf/btf.h>\n"
    "#include <xdp/libxdp.h>\n#include <xdp/xsk.h>\n"
    + "".join(f'#include "{u}.h"\n' for u in UNITS),
    sources=[os.path.relpath(HERE / f"{u}.c") for u in UNITS],  # setuptools refuses absolute paths
    include_dirs=[str(HERE)],
    libraries=["xdp", "bpf"],
    extra_compile_args=["-O3", "-Wall", "-Wno-unused-function"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
