"""The pytest plugin's fixtures skip without the means to make a veth pair, but fail under CI=true."""

import pytest

from xsk.errors import PrivilegeError
from xsk.testing import _veth as veth
from xsk.testing import plugin

NEEDS_A_PAIR = "def test_needs_a_pair(veth_pair):\n    pass\n"


def _refuse(self):
    raise PrivilegeError("making a veth pair: [Errno 13] Permission denied: read-only sysctl")


@pytest.mark.parametrize(("ci", "outcome"), [("true", "errors"), ("", "skipped")])
def test_a_pair_the_kernel_refuses_fails_under_ci_and_skips_otherwise(pytester, monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(plugin, "has", lambda cap: True)  # the capabilities are there...
    monkeypatch.setattr(veth.VethPair, "create", _refuse)  # ...but the kernel refuses the pair
    pytester.makepyfile(NEEDS_A_PAIR)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**{outcome: 1})
    if ci:
        result.stdout.fnmatch_lines(["*read-only sysctl — CI=true, so this fails instead of skipping*"])


@pytest.mark.parametrize(("ci", "outcome"), [("true", "errors"), ("", "skipped")])
def test_missing_capabilities_fail_under_ci_and_skip_otherwise(pytester, monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(plugin, "has", lambda cap: False)
    pytester.makepyfile(NEEDS_A_PAIR)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**{outcome: 1})


MISSING_FEATURE = """
import xsk

def test_needs_native_xdp(xdp_program):
    raise xsk.UnsupportedError("veth0 does not support XDP in native mode")

def test_plain_failure_stays_a_failure(xdp_program):
    raise xsk.ConfigError("a wrong argument")
"""


@pytest.mark.parametrize(("ci", "outcomes"), [("true", {"failed": 2}), ("", {"skipped": 1, "failed": 1})])
def test_a_missing_kernel_feature_skips_but_fails_under_ci(pytester, monkeypatch, ci, outcomes):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(plugin, "has", lambda cap: True)
    pytester.makepyfile(MISSING_FEATURE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines(["*the kernel lacks a feature this test needs: veth0 does not support XDP*"])


def test_loading_without_privileges_says_which(monkeypatch):
    from xsk import _privileges
    from xsk.testing._xdp import XdpProgram

    monkeypatch.setattr(_privileges, "effective", lambda: 0)
    with pytest.raises(PrivilegeError, match="loading a BPF program needs CAP_BPF or CAP_SYS_ADMIN"):
        XdpProgram.load(__file__)  # refused before the file is even opened as an object
