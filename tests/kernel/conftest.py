"""Kernel tests: real AF_XDP sockets over veth pairs in throwaway namespaces.

They need root (or CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN, CAP_BPF) and a kernel with
AF_XDP. Without them the tests skip, except under CI=true, where they fail loudly.
After every test: no namespace, veth or XDP program of ours is left; every UMEM the test made
in this process passes the ledger's whole consistency check (``Ledger.verify``: counts, pool
stack, no stray marks) with no descriptor from the kernel that named a frame it did not hold;
and every UMEM made through ``make_umem`` is back with all its frames in the pool. Every process
the tests start verifies its own ledgers too (XSK_VERIFY_LEDGER=1, set below), and the JSON
summaries the tests read are checked for it (``tests/kernel/traffic.py``'s ``ledger_whole``).
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

import xsk
from xsk.testing import leftover_namespaces

AF_XDP = 44


@pytest.fixture(autouse=True)
def every_process_verifies_its_ledger(monkeypatch):
    """Every process a kernel test starts (xsk commands, Generator/Sink workers, the examples)
    inherits XSK_VERIFY_LEDGER=1: its loops verify the whole ledger once a second, its summary
    once more and reports kernel_errors, and every UMEM verifies itself when it closes
    (xsk._ledger.verify_everywhere). Set per test, so unit tests that break a ledger on purpose
    in the same session are not affected."""
    monkeypatch.setenv("XSK_VERIFY_LEDGER", "1")


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "kernel tests need root"
    try:
        socket.socket(AF_XDP, socket.SOCK_RAW, 0).close()
    except OSError as exc:
        return f"this kernel refuses AF_XDP sockets: {exc}"
    return None


@pytest.fixture(autouse=True)
def kernel_available():
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: failing instead of skipping)")
        pytest.skip(reason)


def _root_xdp_links() -> list[str]:
    # Our tests attach XDP only inside their own namespaces, so any new one here is a leak.
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip() for line in out.splitlines() if "prog/xdp" in line]


@pytest.fixture(autouse=True)
def nothing_left_behind(kernel_available):
    before_ns = set(leftover_namespaces())
    before_xdp = set(_root_xdp_links())
    yield
    assert set(leftover_namespaces()) - before_ns == set(), "a test left namespaces behind"
    assert set(_root_xdp_links()) - before_xdp == set(), "a test left an XDP program attached"


@pytest.fixture(autouse=True)
def every_ledger_verified(monkeypatch):
    """Every Umem the test makes in this process: its whole ledger checked after the test, closed or not."""
    made: list[xsk.Umem] = []
    init = xsk.Umem.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(xsk.Umem, "__init__", recording)
    yield
    for umem in made:
        assert umem.ledger.kernel_errors == 0, f"{umem!r}: the kernel returned descriptors of frames it did not hold"
        umem.ledger.verify()


@pytest.fixture
def make_umem():
    """Umem(...) that is checked after the test: closed, or all frames back in the pool."""
    made: list[xsk.Umem] = []

    def make(**kwargs) -> xsk.Umem:
        kwargs.setdefault("hugepages", "auto")
        umem = xsk.Umem(**kwargs)
        made.append(umem)
        return umem

    yield make
    for umem in made:
        umem.ledger.verify()
        if not umem.closed:
            acc = umem.accounting()
            assert acc.balanced
            assert not umem._sockets, f"{umem!r} still has sockets open after the test"
            assert acc.pool == acc.total, f"frames not returned: {acc}"
            umem.close()


@pytest.fixture(scope="session")
def test_program():
    """``test_program(name)``: the BPF object built from tests/bpf/<name>.c (xsk.testing's
    compile_bpf, cached); ``test_program(name, "tools")`` builds tools/<name>.c."""
    from pathlib import Path

    from xsk.testing._compile import compile_bpf

    root = Path(__file__).resolve().parents[2]

    def compiled(name: str, folder: str = "tests/bpf") -> str:
        return str(compile_bpf(root / folder / f"{name}.c"))

    return compiled
