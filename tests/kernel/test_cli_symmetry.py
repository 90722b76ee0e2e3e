"""Options a user expects on both sides of a pair of commands: `xsk veth up --offload`, and
`xsk prog detach IFACE --netns NS` as `attach` takes them."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

from xsk import netns

XSK = [sys.executable, "-m", "xsk.cli"]
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16


def xsk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*XSK, *args], capture_output=True, text=True, timeout=120)


def tx_checksum_offload(ifname: str, ns: str) -> bool:
    """ETHTOOL_GTXCSUM of ``ifname`` in ``ns`` (what `ethtool -k` shows as tx-checksumming)."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GTXCSUM, 0))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    with netns.entered(ns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, request)
    return bool(struct.unpack_from("II", value.raw)[1])


def test_veth_up_says_what_it_does_with_checksum_offload_and_can_leave_it_on():
    name = f"xo{os.getpid() % 100000}"
    for offload, want in (("off", False), ("on", True)):
        r = xsk("veth", "up", name, *(["--offload", "on"] if offload == "on" else []))
        try:
            assert r.returncode == 0, r.stderr
            assert f"TX checksum offload: {offload}" in r.stdout
            assert tx_checksum_offload(f"{name}-a", f"{name}-a") is want
            assert tx_checksum_offload(f"{name}-b", f"{name}-b") is want
        finally:
            assert xsk("veth", "down", name).returncode == 0
    bad = xsk("veth", "up", name, "--offload", "maybe")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_prog_detach_takes_the_interface_and_namespace_attach_takes(veth_pair_factory):
    one, other = veth_pair_factory(), veth_pair_factory()
    with tempfile.TemporaryDirectory(dir="/sys/fs/bpf") as pins:
        pin = os.path.join(pins, "x")
        r = xsk("prog", "attach", one.b.ifname, "--netns", one.b.netns, "--pin", pin, "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["pinned"] == pin
        wrong = xsk("prog", "detach", other.b.ifname, "--netns", other.b.netns, "--pin", pin)
        assert wrong.returncode == 2 and f"not on {other.b.ifname}" in wrong.stderr
        assert os.path.exists(os.path.join(pin, "link"))  # refused: nothing removed
        right = xsk("prog", "detach", one.b.ifname, "--netns", one.b.netns, "--pin", pin)
        assert right.returncode == 0, right.stderr
        assert not os.path.exists(pin)
