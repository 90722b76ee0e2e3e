import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _no_scapy_neighbour_lookups() -> None:
    """A scapy Ether() without dst= makes scapy resolve the destination MAC itself: a route
    lookup in the root namespace and an ARP request out of its interface. Tests build such
    frames for BPF_PROG_TEST_RUN and pcaps only; they must never reach a network we did not
    create, so resolution is off (scapy then writes the broadcast address)."""
    import scapy.all  # noqa: F401 -- every layer registers its resolver on import
    from scapy.config import conf

    conf.neighbor.resolvers.clear()


_no_scapy_neighbour_lookups()

pytest_plugins = ["pytester"]  # tests/unit/test_plugin.py runs the xsk plugin in inner pytest sessions


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_runtest_makereport(item, call):
    """Under CI=true a test may skip only by a mark declared before it runs (``skip``/``skipif``,
    with the reason): a ``pytest.skip`` reached inside the test body hides what the test found
    (a case that skipped because nothing arrived would pass CI with every frame lost), so it fails."""
    import pytest

    if call.when == "call" and _ci() and call.excinfo is not None and call.excinfo.errisinstance(
            pytest.skip.Exception):
        reason = str(call.excinfo.value)
        call.excinfo = None
        try:
            pytest.fail(f"skipped at run time ({reason}); under CI=true only a declared skip mark may skip",
                        pytrace=False)
        except pytest.fail.Exception:
            call.excinfo = pytest.ExceptionInfo.from_current()
