"""Compile a BPF program's C source with clang, cached, so a test can keep its C next to it.

The cache (``$XSK_BPF_CACHE``, else ``$XDG_CACHE_HOME/xsk/bpf``, else ``~/.cache/xsk/bpf``)
keys an object by the source, the flags (ours, see below, and yours), the include directories
and clang's version, and keeps the list of headers the compile read (clang's dependency output)
with their content hashes: an edited header recompiles too. Objects are written under a temporary name and
renamed, so parallel test runs never read a half-written one. The returned path belongs to
the cache; it stays valid until the cache is cleared.

System headers: with ``-target bpf`` clang knows no host, so :func:`system_flags` gives it the
host's: the multiarch include directory (``/usr/include/x86_64-linux-gnu`` on Debian x86-64,
where ``asm/types.h`` and glibc's ``bits/`` live) and the architecture macro glibc's headers
test. Without ``__x86_64__``, glibc's ``gnu/stubs.h`` takes the target for 32-bit x86 and
includes ``gnu/stubs-32.h``, which only ``libc6-dev-i386`` ships: every header that reaches
``features.h`` (``<linux/icmp.h>``, ``<linux/if.h>``, ``<sys/socket.h>``, ``<netinet/in.h>``...)
then fails with "'gnu/stubs-32.h' file not found". With it, glibc takes its 64-bit headers
(``__WORDSIZE`` 64, as a BPF ``long`` is). The macro changes no code generation (the target
stays BPF; objects built without glibc headers come out byte for byte the same); a program
that must not see it can pass ``-U__x86_64__`` in ``cflags``, which come after.
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
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import CompileError, ConfigError, NotBuiltError

BASE_FLAGS = ("-O2", "-g", "-target", "bpf")
# The macros glibc's gnu/stubs.h and bits/wordsize.h test to pick the host's word size, per
# multiarch triplet. x86-64's test __x86_64__ (stubs.h: without it, stubs-32.h). aarch64's need
# none: stubs.h tests only __AARCH64EB__ and wordsize.h __LP64__, which a BPF target defines.
# Other hosts: add theirs when seen. Keep in step with bpf/build.py.
ARCH_MACROS = {"x86_64-linux-gnu": ("-D__x86_64__",)}


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


def _print_multiarch(command: Sequence[str]) -> str:
    try:
        done = subprocess.run([*command], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@functools.cache
def multiarch() -> str:
    """The host's multiarch triplet ("x86_64-linux-gnu"): what clang, else gcc, else
    ``dpkg-architecture`` says, else ``<uname -m>-linux-gnu``."""
    for command in (["clang", "-print-multiarch"], ["gcc", "-print-multiarch"],
                    ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]):
        if shutil.which(command[0]) and (triplet := _print_multiarch(command)):
            return triplet
    return f"{platform.machine()}-linux-gnu"


@functools.cache
def system_flags() -> tuple[str, ...]:
    """The flags that let ``-target bpf`` read the host's system headers (see the module's
    docstring): ``-I`` the multiarch include directory, when there is one, and the
    architecture macro glibc needs, e.g. ``("-I/usr/include/x86_64-linux-gnu", "-D__x86_64__")``."""
    triplet = multiarch()
    include = Path("/usr/include") / triplet
    return (*([f"-I{include}"] if include.is_dir() else []), *ARCH_MACROS.get(triplet, ()))


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

    ``cflags``: extra clang flags (``["-DPORT=9000"]``...), after ours; ``include_dirs``: extra
    ``-I`` directories. The host's system headers are reachable (:func:`system_flags`), so
    ``<linux/icmp.h>``, ``<linux/if.h>`` and others that include glibc's work. A compile error
    raises :class:`~xsk.CompileError` with clang's message.
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
    ours = [*BASE_FLAGS, *system_flags()]
    key = _digest(json.dumps([code.hex(), ours, flags, includes, version]).encode())[:24]
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
        cmd = [clang, *ours, *(f"-I{d}" for d in includes), *flags,
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
