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


def build(out_dir: Path) -> list[Path]:
    clang = shutil.which("clang")
    if clang is None:
        sys.exit("clang not found: install it (apt-get install clang llvm) to build the XDP programs")
    out_dir.mkdir(parents=True, exist_ok=True)
    multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
    built = []
    for src in sorted(SRC.glob("*.c")):
        obj = out_dir / (src.stem + ".o")
        if not obj.exists() or obj.stat().st_mtime < src.stat().st_mtime:
            cmd = [clang, "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", f"-I{multiarch}",
                   "-c", str(src), "-o", str(obj)]
            subprocess.run(cmd, check=True)
        built.append(obj)
    return built


if __name__ == "__main__":
    for path in build(Path(sys.argv[1] if len(sys.argv) > 1 else SRC.parent / "xsk" / "_bpf")):
        print(path)
