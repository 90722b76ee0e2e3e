"""cffi API-mode build of ``xsk._xsk_cffi``: libxdp and libbpf, and the C units beside this file.

Each C unit declares what Python may call once, in its header, between the lines
``/* XSK_CDEF_BEGIN */`` and ``/* XSK_CDEF_END */``: that part is valid C for the unit and
the other units, and is handed to cffi as it is. ``bpf.cdef`` holds what Python sees of
libbpf (objects, maps, BTF, test runs), ``libs.cdef`` of libxdp and the AF_XDP uapi,
``sockdiag.cdef`` of the sock_diag uapi (which processes hold a queue). ``redirect.h`` is a
header without a unit (``HEADERS``): the redirect program's map values and RX metadata, which
bpf/xsk_redirect.c includes too, so C, BPF and Python read one declaration. API mode
compiles a check of every declaration against the real headers, so a struct or constant that
drifts fails the build instead of corrupting memory.

The units are separate compilation units, in order of what they depend on:

    ledger    the frame-ownership ledger and its inline batch primitives
    parse     the header parser every unit that reads frames uses (xsk.headers)
    rewrite   in-place swaps of addresses and ports, a word set with its checksum (xsk.replies)
    txmd      AF_XDP TX metadata: requests in front of frames, completion timestamps, the
              UMEM registration that reserves room for them (libxdp 1.5+, probed below)
    datapath  one socket's data path: batch <-> rings, the kernel wakeup, forward
    system    socket options, busy polling, MADV_DONTFORK on rings, the log bridge
    bpflink   the redirect program's bpf_link: attach, find and share it across processes
    patch     the generator's patcher: fields, sequence header, lengths, checksums (xsk.traffic._fields)
    csum      UDP/TCP checksums verified, recomputed, and payloads replaced (xsk.headers, xsk.replies)
    seqstats  the sink's per-stream sequence statistics and latency histogram (xsk.traffic._seqstats)
    mix       the multi-stream scheduler (xsk.traffic._mix)
    standin   the stand-in kernel for rings in ordinary memory (tests and benchmarks)
    jit       the compiled-handler loop: receive, call a handler per frame, send / give back (xsk.jit)

ledger.h's primitives are inline, so datapath.c's hot loops are specialised by -O3 as they
would be in one unit with the ledger (``tools/instructions`` counts the result).

What the installed libxdp can do is found here, at build time, so one source builds on
Debian 12 (libxdp 1.3) and 13 (1.5): a UMEM with TX metadata needs ``xsk_umem__create_opts``
and ``struct xsk_umem_opts.tx_metadata_len`` (libxdp 1.5). A compile-and-link probe decides;
without them txmd.c's registration is a stub returning -EOPNOTSUPP, and Python reads
``lib.XSK_HAVE_TX_METADATA`` (0 or 1) and ``lib.xsk_txmd_libxdp_version()`` to say why.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
UNITS = ("ledger", "parse", "rewrite", "txmd", "datapath", "system", "bpflink", "patch", "csum", "seqstats", "mix",
         "standin", "jit")
LIBRARIES = ("bpf.cdef", "libs.cdef", "sockdiag.cdef")
# Headers that declare layouts shared with the BPF programs in bpf/ and have no C unit (see redirect.h)
HEADERS = ("redirect",)
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
    return "\n".join([*((HERE / f).read_text() for f in LIBRARIES), *(unit_cdef(h) for h in HEADERS),
                      *(unit_cdef(u) for u in UNITS)])


_UMEM_OPTS_PROBE = """
#include <xdp/xsk.h>
int main(void)
{
	struct xsk_umem_opts opts = {.sz = sizeof(opts), .tx_metadata_len = 24};
	return xsk_umem__create_opts((void *)0, (void *)0, (void *)0, &opts) != (void *)0;
}
"""


def libxdp_version() -> str:
    """The installed libxdp's version as pkg-config gives it, or "unknown"."""
    try:
        out = subprocess.run(["pkg-config", "--modversion", "libxdp"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def have_umem_opts() -> bool:
    """Does the installed libxdp declare and export xsk_umem__create_opts with tx_metadata_len?
    (Compiled and linked like the extension; a compiler that fails for another reason says no,
    and the build goes on without TX metadata.)"""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(_UMEM_OPTS_PROBE)
        try:
            out = subprocess.run([*cc, str(src), "-o", str(Path(tmp) / "probe"), "-lxdp", "-lbpf"],
                                 capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return False
        return out.returncode == 0


def macros() -> list[tuple[str, str | None]]:
    """What the probes found, for the C units (txmd.h)."""
    version = libxdp_version().replace('"', "")
    found: list[tuple[str, str | None]] = [("XSK_LIBXDP_VERSION", f'"{version}"')]
    if have_umem_opts():
        found.append(("XSK_HAVE_UMEM_OPTS", "1"))
    return found


ffibuilder = FFI()
ffibuilder.cdef(cdef())
ffibuilder.set_source(
    "xsk._xsk_cffi",
    "#include <sys/socket.h>\n#include <linux/netlink.h>\n#include <linux/sock_diag.h>\n"
    "#include <linux/xdp_diag.h>\n"
    "#include <linux/if_link.h>\n#include <linux/if_xdp.h>\n#include <bpf/btf.h>\n"
    "#include <xdp/libxdp.h>\n#include <xdp/xsk.h>\n"
    + "".join(f'#include "{u}.h"\n' for u in (*HEADERS, *UNITS)),
    sources=[os.path.relpath(HERE / f"{u}.c") for u in UNITS],  # setuptools refuses absolute paths
    include_dirs=[str(HERE)],
    libraries=["xdp", "bpf"],
    define_macros=macros(),
    # A declaration that drifted from the system's headers (libbpf 1.5 dropped a const that 1.1
    # had) only warns in C, and pip -q hides warnings: these fail the build instead.
    extra_compile_args=["-O3", "-Wall", "-Wno-unused-function", "-Werror=discarded-qualifiers",
                        "-Werror=incompatible-pointer-types", "-Werror=implicit-function-declaration",
                        "-Werror=int-conversion"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
