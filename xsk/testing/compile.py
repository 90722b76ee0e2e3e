"""Compile a BPF program's C source with clang, cached, so a test can keep its C next to it.

The cache (``$XSK_BPF_CACHE``, else ``$XDG_CACHE_HOME/xsk/bpf``, else ``~/.cache/xsk/bpf``)
keys an object by the source, the flags, the include directories and clang's version, and
keeps the list of headers the compile read (clang's dependency output) with their content
hashes: an edited header recompiles too. Objects are written under a temporary name and
renamed, so parallel test runs never read a half-written one. The returned path belongs to
the cache; it stays valid until the cache is cleared.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import CompileError, ConfigError, NotBuiltError

BASE_FLAGS = ("-O2", "-g", "-target", "bpf")


def cache_dir() -> Path:
    """Where compiled objects are kept."""
    if os.environ.get("XSK_BPF_CACHE"):
        return Path(os.environ["XSK_BPF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xsk" / "bpf"


@functools.cache
def _clang() -> tuple[str, str]:
    clang = shutil.which("clang")
    if clang is None:
        raise NotBuiltError("clang is not installed: BPF programs are compiled with it "
                            "(apt-get install clang llvm libbpf-dev)")
    version = subprocess.run([clang, "--version"], capture_output=True, text=True, check=True).stdout
    return clang, version.splitlines()[0] if version else ""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _deps_fresh(deps_file: Path) -> bool:
    try:
        deps = json.loads(deps_file.read_text())
        return all(_digest(Path(path).read_bytes()) == digest for path, digest in deps.items())
    except (OSError, ValueError):
        return False


def _read_depfile(path: Path) -> list[str]:
    """The files a compile read, from clang's -MD output (``obj: a.c b.h \\`` lines)."""
    text = path.read_text().replace("\\\n", " ")
    _, _, files = text.partition(":")
    return [f for f in files.split() if f]


def compile_bpf(source: str | os.PathLike[str], *, cflags: Iterable[str] = (),
                include_dirs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Compile a BPF C source (a path to a ``.c`` file, or the C text itself when it contains a
    newline) with ``clang -O2 -g -target bpf`` and return the object's path, from the cache
    when nothing it depends on changed.

    ``cflags``: extra clang flags (``-DPORT=9000``...); ``include_dirs``: extra ``-I``
    directories. A compile error raises :class:`~xsk.CompileError` with clang's message.
    """
    if isinstance(cflags, str) or isinstance(include_dirs, str):
        raise ConfigError("cflags and include_dirs are lists, e.g. cflags=['-DPORT=53']", argument="cflags")
    text_given = isinstance(source, str) and "\n" in source
    if text_given:
        code = str(source).encode()
        name = "inline"
    else:
        path = Path(os.fspath(source))
        if not path.is_file():
            raise ConfigError(f"no C source file {str(path)!r}", argument="source")
        code = path.read_bytes()
        name = path.stem
    includes = [str(Path(d).resolve()) for d in include_dirs]
    flags = [*cflags]
    clang, version = _clang()
    multiarch = f"-I/usr/include/{platform.machine()}-linux-gnu"
    key = _digest(json.dumps([code.hex(), flags, includes, version]).encode())[:24]
    out_dir = cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    obj, deps_file = out_dir / f"{name}-{key}.o", out_dir / f"{name}-{key}.deps.json"
    if obj.is_file() and _deps_fresh(deps_file):
        return obj
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        if text_given:
            src = Path(tmp) / f"{name}.c"
            src.write_bytes(code)
        else:  # compiled where it is, so "includes" resolve next to it first, as with clang itself
            src = path.resolve()
        tmp_obj, depfile = Path(tmp) / "out.o", Path(tmp) / "out.d"
        cmd = [clang, *BASE_FLAGS, multiarch, *(f"-I{d}" for d in includes), *flags,
               "-MD", "-MF", str(depfile), "-c", str(src), "-o", str(tmp_obj)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            where = "the C source given" if text_given else str(source)
            output = done.stderr.replace(str(src), "<source>") if text_given else done.stderr
            tail = "\n".join(output.strip().splitlines()[-20:])
            raise CompileError(f"clang could not compile {where}:\n{tail}", output=output)
        deps = {f: _digest(Path(f).read_bytes()) for f in _read_depfile(depfile) if Path(f).resolve() != src}
        tmp_deps = Path(tmp) / "deps.json"
        tmp_deps.write_text(json.dumps(deps))
        os.replace(tmp_obj, obj)
        os.replace(tmp_deps, deps_file)
    return obj
