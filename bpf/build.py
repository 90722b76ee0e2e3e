"""Compile every XDP program in bpf/ to a BPF object: ``python bpf/build.py OUTDIR``.

One place for the clang invocation, used by setup.py (package data) and the Makefile.
An object is rebuilt only when its source is newer.
"""

import platform
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent


def compile_object(src: Path, obj: Path) -> Path:
    """Compile one XDP program's C source to a BPF object (if the object is older than the source)."""
    clang = shutil.which("clang")
    if clang is None:
        sys.exit("clang not found: install it (apt-get install clang llvm) to build the XDP programs")
    if not obj.exists() or obj.stat().st_mtime < src.stat().st_mtime:
        multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
        cmd = [clang, "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", f"-I{multiarch}",
               "-c", str(src), "-o", str(obj)]
        subprocess.run(cmd, check=True)
    return obj


def build(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [compile_object(src, out_dir / (src.stem + ".o")) for src in sorted(SRC.glob("*.c"))]


if __name__ == "__main__":
    for path in build(Path(sys.argv[1] if len(sys.argv) > 1 else SRC.parent / "xsk" / "_bpf")):
        print(path)
