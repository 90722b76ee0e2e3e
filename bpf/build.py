"""Compile every XDP program in bpf/ to a BPF object: ``python bpf/build.py OUTDIR``
(``--system-flags``: print the flags that let ``-target bpf`` read the host's headers).

One place for the clang invocation, used by setup.py (package data) and the Makefile.
An object is rebuilt only when its source is newer.

System headers: ``-target bpf`` knows no host, so the host's multiarch include directory and the
architecture macro glibc's ``gnu/stubs.h`` tests are passed (the same as
``xsk.testing._compile.system_flags``, which this script can't import: setup.py runs it before
xsk is built). Without ``-D__x86_64__`` on x86-64, any header reaching glibc's ``features.h``
fails with "'gnu/stubs-32.h' file not found" unless libc6-dev-i386 is installed.
"""

import functools
import platform
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent
# The header the programs share with Python (map values, RX metadata): declared once, in xsk/_ffi
SHARED = SRC.parent / "xsk" / "_ffi"
SHARED_HEADERS = (SHARED / "redirect.h",)
# glibc's word-size macros per multiarch triplet (see xsk/testing/compile.py; keep in step)
ARCH_MACROS = {"x86_64-linux-gnu": ("-D__x86_64__",)}


def _print_multiarch(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@functools.cache
def multiarch() -> str:
    """The host's multiarch triplet: clang's, else gcc's, else dpkg-architecture's, else uname -m's."""
    for command in (["clang", "-print-multiarch"], ["gcc", "-print-multiarch"],
                    ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]):
        if shutil.which(command[0]) and (triplet := _print_multiarch(command)):
            return triplet
    return f"{platform.machine()}-linux-gnu"


@functools.cache
def system_flags() -> tuple[str, ...]:
    """``-I`` the multiarch include directory (when there is one) and glibc's architecture macro."""
    include = Path("/usr/include") / multiarch()
    return (*([f"-I{include}"] if include.is_dir() else []), *ARCH_MACROS.get(multiarch(), ()))


def compile_object(src: Path, obj: Path) -> Path:
    """Compile one XDP program's C source to a BPF object (if the object is older than the source
    or a shared header)."""
    clang = shutil.which("clang")
    if clang is None:
        sys.exit("clang not found: install it (apt-get install clang llvm) to build the XDP programs")
    newest = max(p.stat().st_mtime for p in (src, *SHARED_HEADERS))
    if not obj.exists() or obj.stat().st_mtime < newest:
        cmd = [clang, "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", *system_flags(), f"-I{SHARED}",
               "-c", str(src), "-o", str(obj)]
        subprocess.run(cmd, check=True)
    return obj


def build(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [compile_object(src, out_dir / (src.stem + ".o")) for src in sorted(SRC.glob("*.c"))]


if __name__ == "__main__":
    if sys.argv[1:] == ["--system-flags"]:  # what the tests compare with xsk.testing._compile's
        print(" ".join(system_flags()))
        sys.exit(0)
    for path in build(Path(sys.argv[1] if len(sys.argv) > 1 else SRC.parent / "xsk" / "_bpf")):
        print(path)
