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
