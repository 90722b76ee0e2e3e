"""pytest plugin (entry point ``xsk``): veth-pair fixtures for testing XDP/AF_XDP code.

Fixtures (function scope; need root, or CAP_NET_ADMIN + CAP_SYS_ADMIN):

``veth_pair``
    A fresh VethPair (two namespaces, one veth pair, IPv4 addresses, IPv6 off), removed
    after the test even when it fails.
``veth_pair_factory``
    ``veth_pair_factory(queues=4, ipv6=True, ...)`` makes pairs with VethPair's keyword
    arguments; every pair it made is removed after the test.

Without the privileges the fixtures skip the test, except under ``CI=true``, where they
fail it: a CI run that silently skipped its kernel tests would prove nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from .._privileges import CAP_NET_ADMIN, CAP_SYS_ADMIN, has
from ..errors import PrivilegeError
from .veth import VethPair


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
