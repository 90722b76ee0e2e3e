"""pytest plugin (entry point ``xsk``): veth-pair fixtures for testing XDP/AF_XDP code.

Fixtures (function scope; need root, or CAP_NET_ADMIN + CAP_SYS_ADMIN):

``veth_pair``
    A fresh VethPair (two namespaces, one veth pair, IPv4 addresses, IPv6 off), removed
    after the test even when it fails.
``veth_pair_factory``
    ``veth_pair_factory(queues=4, ipv6=True, ...)`` makes pairs with VethPair's keyword
    arguments; every pair it made is removed after the test.

``routed_pair``
    A fresh :class:`xsk.testing.RoutedPair` (``a —— router —— b``, the router's own
    forwarding off), removed after the test even when it fails.

``xdp_program``
    ``xdp_program(source, name=None, constants=None, cflags=(), include_dirs=())`` loads an
    XDP program for ``BPF_PROG_TEST_RUN`` (:class:`xsk.testing.XdpProgram`): ``source`` is
    a ``.c`` file (compiled, cached), C text, or a ``.o`` object. Every program it loaded is
    closed after the test.

``assert got == want`` on two scapy packets shows, on failure, the layers and fields that
differ (:func:`xsk.testing.packet_diff`) instead of two reprs. Prefer
``assert_packet_equal(got, want)``: scapy's ``==`` compares field values, so a packet built
with fields left for scapy to fill (checksums, lengths) is unequal to the same bytes parsed.

Without the privileges the fixtures skip the test, except under ``CI=true``, where they
fail it: a CI run that silently skipped its kernel tests would prove nothing. The same holds
for a kernel feature a test using these fixtures turns out to lack (``xsk.UnsupportedError``
raised in the test: native XDP, a map type, a helper): skipped with the reason, failed under
``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .._privileges import CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, has
from ..errors import PrivilegeError
from ._veth import VethPair

if TYPE_CHECKING:
    from pluggy import Result

    from ._routed import RoutedPair
    from ._xdp import XdpProgram


def _unavailable(reason: str) -> NoReturn:
    """Skip the test, or under ``CI=true`` fail it: a CI run that skipped its kernel tests proves nothing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " — CI=true, so this fails instead of skipping")
    pytest.skip(reason)


def _require_privileges() -> None:
    if not (has(CAP_NET_ADMIN) and has(CAP_SYS_ADMIN)):
        _unavailable("veth pairs need CAP_NET_ADMIN and CAP_SYS_ADMIN (run the tests as root)")


@pytest.fixture
def veth_pair_factory() -> Iterator[Callable[..., VethPair]]:
    _require_privileges()
    made: list[VethPair] = []

    def make(**kwargs: Any) -> VethPair:
        pair = VethPair(**kwargs)
        try:
            pair.create()
        except PrivilegeError as exc:  # capabilities present, but the kernel said no (a read-only sysctl...)
            _unavailable(str(exc))
        made.append(pair)
        return pair

    try:
        yield make
    finally:
        for pair in reversed(made):
            pair.destroy()


@pytest.fixture
def veth_pair(veth_pair_factory: Callable[..., VethPair]) -> VethPair:
    return veth_pair_factory()


@pytest.fixture
def routed_pair() -> Iterator[RoutedPair]:
    _require_privileges()
    from ._routed import RoutedPair

    pair = RoutedPair()
    try:
        pair.create()
    except PrivilegeError as exc:
        _unavailable(str(exc))
    try:
        yield pair
    finally:
        pair.destroy()


@pytest.fixture
def xdp_program() -> Iterator[Callable[..., XdpProgram]]:
    if not ((has(CAP_BPF) or has(CAP_SYS_ADMIN)) and (has(CAP_NET_ADMIN) or has(CAP_SYS_ADMIN))):
        _unavailable("loading XDP programs needs CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN): run as root")
    from ._compile import compile_bpf
    from ._xdp import XdpProgram

    loaded: list[XdpProgram] = []

    def load(source: str | os.PathLike[str], name: str | None = None, constants: dict[str, Any] | None = None,
             cflags: tuple[str, ...] = (), include_dirs: tuple[str, ...] = ()) -> XdpProgram:
        text = isinstance(source, str) and "\n" in source
        path = compile_bpf(source, cflags=cflags, include_dirs=include_dirs) \
            if text or os.fspath(source).endswith(".c") else source
        prog = XdpProgram.load(path, name=name, constants=constants)
        loaded.append(prog)
        return prog

    try:
        yield load
    finally:
        for prog in reversed(loaded):
            prog.close()


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """``assert got == want`` on scapy packets: the fields that differ, layer by layer."""
    if op != "==":
        return None
    try:
        from scapy.packet import Packet
    except ImportError:  # pragma: no cover - scapy is a dependency
        return None
    if not (isinstance(left, Packet) and isinstance(right, Packet)):
        return None
    from ._compare import packet_diff

    lines = packet_diff(left, right)
    if not lines:
        return [f"{left.summary()} == {right.summary()}",
                "the packets are equal on the wire: scapy's == compares field values, and a field left",
                "for scapy to fill in (None) differs from its value; compare with",
                "xsk.testing.assert_packet_equal(got, want) instead"]
    return [f"{left.summary()} == {right.summary()}", "packets differ:", *lines]


_OURS = {"veth_pair", "veth_pair_factory", "routed_pair", "xdp_program"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Result[None], None]:
    """A test on our fixtures that meets a missing kernel feature skips (fails under CI=true)."""
    outcome = yield
    excinfo = outcome.excinfo
    if excinfo is None or not _OURS & set(getattr(item, "fixturenames", ())):
        return
    from ..errors import UnsupportedError

    if isinstance(excinfo[1], UnsupportedError):
        try:
            _unavailable(f"the kernel lacks a feature this test needs: {excinfo[1]}")
        except BaseException as replaced:  # skip or fail, in place of the error
            outcome.force_exception(replaced)
