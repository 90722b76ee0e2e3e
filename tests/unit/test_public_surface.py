"""The public surface is the API, and it changes only on purpose.

Each public namespace is listed here as it is: a name added, renamed or dropped fails this test
until the list is changed with it (and a dropped or renamed name keeps a deprecated alias,
xsk._moved). Every other module is internal (its name starts with "_"), and no public module
leaks an internal module as an attribute a user could mistake for API.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import xsk

SURFACE = {
    "xsk": [
        "Accounting", "Batch", "ClosedError", "CompileError", "ConfigError", "CustomProgram", "FrameOwnershipError",
        "FrameTooLargeError", "HostError", "HugepagesUnavailableError", "IntegrityError", "InterfaceGoneError",
        "KernelError", "NoSuchInterfaceError", "NoSuchMapError", "NoSuchNamespaceError", "NotBuiltError",
        "PinnedProgram", "PrivilegeError", "ProgramRejectedError", "QueueRangeError", "Readiness",
        "ResourceBusyError", "Rule", "Runner", "RunnerStats", "RxMetadata", "STATISTICS", "Socket",
        "StillInUseError", "Umem", "UnsupportedError", "UsageError", "XDP_PKT_CONTD", "XskError",
    ],
    "xsk.cluster": ["ClusterRun", "Endpoint", "LocalHosts", "Plan", "Route", "host_resource"],
    "xsk.jit": [
        "DROP", "FrameHandler", "INVALID", "PASS", "SEND", "checksum_update", "finish_checksum", "fix_l4_checksum",
        "function", "get_u16", "get_u32", "handler", "ip4_header_checksum", "put_u16", "put_u32", "reflect",
        "set_payload", "set_payload_length", "swap_ips", "swap_macs", "swap_ports", "update_word",
    ],
    "xsk.traffic": [
        "Generator", "IMIX", "LatencyHistogram", "Location", "Pacer", "PacketPlan", "Port", "Profile", "Rfc2544",
        "SEQ_LEN",
        "SeqStats", "Session", "Sink", "Stream", "StreamLoss", "Vary", "XdpGenerator", "layout", "locate",
        "loss_per_stream", "parse_rate", "parse_template", "varying_fields",
    ],
    "xsk.testing": [
        "Capture", "End", "FrameSender", "MemoryRing", "MemorySocket", "RoutedPair", "VethPair", "XdpProgram",
        "XdpResult", "assert_packet_equal", "compile_bpf", "leftover_namespaces", "packet_diff",
    ],
}
"""Namespace -> its __all__, sorted."""

PUBLIC_MODULES = {
    "xsk", "xsk.errors", "xsk.headers", "xsk.replies", "xsk.checksum", "xsk.txmeta", "xsk.pcap", "xsk.netns",
    "xsk.link", "xsk.maps", "xsk.pinned", "xsk.jit", "xsk.traffic", "xsk.testing", "xsk.testing.plugin",
    "xsk.cluster",
}
"""Every module whose name has no part starting with "_" (the CLI's package aside)."""


def _walk() -> set[str]:
    found = {"xsk"}
    for info in pkgutil.walk_packages(xsk.__path__, "xsk."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts) and parts[1] != "cli":
            found.add(info.name)
    return found


def test_the_public_modules_are_the_documented_few():
    assert _walk() == PUBLIC_MODULES


@pytest.mark.parametrize("namespace", sorted(SURFACE))
def test_each_namespace_exports_exactly_its_api(namespace):
    module = importlib.import_module(namespace)
    assert sorted(module.__all__, key=str.lower) == sorted(SURFACE[namespace], key=str.lower)
    for name in module.__all__:
        assert getattr(module, name) is not None  # lazily imported names resolve too


@pytest.mark.parametrize("namespace", sorted(SURFACE))
def test_a_star_import_gives_the_api_and_nothing_internal(namespace):
    scope: dict[str, object] = {}
    exec(f"from {namespace} import *", scope)
    assert sorted(k for k in scope if k != "__builtins__") == sorted(SURFACE[namespace])


def test_public_modules_show_no_internal_module_as_api():
    """No public attribute of a public module is an internal module in disguise (``xsk.traffic.mix``
    that is really ``xsk.traffic._mix``): a user would take it for API (the compiled ``lib`` is
    the binding, not a module of ours). In a fresh interpreter,
    since importing a deprecated old name (tests/unit/test_moved.py) binds it on its package."""
    program = (
        "import importlib, sys, types\n"
        f"names = {sorted(PUBLIC_MODULES)!r}\n"
        "for n in names:\n"
        "    m = importlib.import_module(n)\n"
        "    for k, v in vars(m).items():\n"
        "        ours = isinstance(v, types.ModuleType) and str(getattr(v, '__file__', '')).endswith('.py')\n"
        "        if not k.startswith('_') and ours and v.__name__.startswith('xsk.')"
        " and any(p.startswith('_') for p in v.__name__.split('.')):\n"
        "            print(n + '.' + k, '->', v.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_batch_fill_is_the_deprecated_name_of_write_template():
    with xsk.Umem(frame_count=16, hugepages="off") as umem:
        batch = umem.take(2)
        with pytest.warns(DeprecationWarning, match="write_template"):
            batch.fill(bytes(range(60)))
        assert batch.payloads() == [bytes(range(60))] * 2
        batch.release()
