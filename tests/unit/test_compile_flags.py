"""compile_bpf's system flags: clang -target bpf reaches the host's glibc headers (no
libc6-dev-i386 needed), bpf/build.py passes the same flags, and the cache keys on them.
Compiles only (no loading): no privileges needed."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import xsk
from xsk.testing import _compile as compile_mod
from xsk.testing._compile import compile_bpf, multiarch, system_flags

ROOT = Path(__file__).resolve().parents[2]
needs_clang = pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")

GLIBC_REACHING = """
#include <linux/bpf.h>
#include <linux/if.h>
#include <linux/icmp.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <bpf/bpf_helpers.h>
char name[IFNAMSIZ];
SEC("xdp") int p(struct xdp_md *ctx) { return sizeof(struct icmphdr) + sizeof(struct tcphdr) > 0; }
char _license[] SEC("license") = "GPL";
"""


def test_bpf_build_passes_the_same_system_flags():
    """bpf/build.py runs before xsk is built (setup.py), so it keeps its own copy: run as the
    program it is, it says the same flags."""
    done = subprocess.run([sys.executable, str(ROOT / "bpf" / "build.py"), "--system-flags"], capture_output=True,
                          text=True, check=True)
    assert tuple(done.stdout.split()) == system_flags()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the x86-64 glibc layout")
def test_on_x86_64_the_multiarch_directory_and_the_arch_macro():
    assert multiarch() == "x86_64-linux-gnu"
    assert system_flags() == ("-I/usr/include/x86_64-linux-gnu", "-D__x86_64__")


def test_without_compilers_the_triplet_comes_from_the_machine(monkeypatch):
    monkeypatch.setattr(compile_mod.shutil, "which", lambda name: None)
    multiarch.cache_clear()
    try:
        assert multiarch() == f"{platform.machine()}-linux-gnu"
    finally:
        multiarch.cache_clear()


@needs_clang
def test_headers_that_reach_glibc_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("XSK_BPF_CACHE", str(tmp_path))
    obj = compile_bpf(GLIBC_REACHING, cflags=["-Wall", "-Werror"])
    machine = subprocess.run(["readelf", "-h", str(obj)], capture_output=True, text=True).stdout \
        if shutil.which("readelf") else "Linux BPF"
    assert "Linux BPF" in machine  # the macro is glibc's business: the target stays BPF


@needs_clang
@pytest.mark.skipif(platform.machine() != "x86_64", reason="the x86-64 arch macro")
def test_the_users_cflags_come_after_ours(tmp_path, monkeypatch):
    monkeypatch.setenv("XSK_BPF_CACHE", str(tmp_path))
    source = "#ifdef __x86_64__\n#error the host macro is on\n#endif\nint x;\n"
    with pytest.raises(xsk.CompileError, match="the host macro is on"):
        compile_bpf(source)
    compile_bpf(source, cflags=["-U__x86_64__"])


@needs_clang
def test_the_cache_keys_on_the_system_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("XSK_BPF_CACHE", str(tmp_path))
    source = "int x;\n"
    first = compile_bpf(source)
    monkeypatch.setattr(compile_mod, "system_flags", lambda: ("-DOTHER_HOST=1",))
    assert compile_bpf(source) != first
