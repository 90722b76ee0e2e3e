"""The ``xsk`` command line run as processes, by tests and by the soak and chaos tools.

``command("sink", ...)`` is the argv that runs a subcommand with this interpreter;
``last_json`` reads a ``--json`` run's summary from its output; ``wait_for_program`` waits
until a receiving command's socket is bound (its XDP program attached to the interface).
``SOAK_PROFILE`` and ``DEEP_RINGS`` are the traffic and ring sizes the soak and chaos runs share,
so a chaos run's figures compare with a soak's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

SOAK_PROFILE = """\
[[stream]]
name = "small"
packet = "Ether()/IP(src='{a}', dst='{b}')/UDP(sport=1000, dport=9000)"
percent = 40
size = 64
fields = {{ src_port = "1000-1999" }}

[[stream]]
name = "imix"
packet = "Ether()/IP(src='{a}', dst='{b}')/UDP(sport=2000, dport=9001)"
percent = 30
size = "imix"

[[stream]]
name = "mid"
packet = "Ether()/IP(src='{a}', dst='{b}')/UDP(sport=3000, dport=9002)"
percent = 20
size = 512
fields = {{ dst_ip = "{b}-{b_last}" }}

[[stream]]
name = "large"
packet = "Ether()/IP(src='{a}', dst='{b}')/UDP(sport=4000, dport=9003)"
percent = 10
size = 1400
"""
"""Four streams (64 bytes with varying ports, IMIX, 512 bytes to a range of addresses, 1400 bytes)
from ``{a}`` to ``{b}`` (and ``{b}``-``{b_last}``): ``SOAK_PROFILE.format(a=..., b=..., b_last=...)``."""

# Deep rings: on a 2-core machine each process is off the CPU now and then; 16,384 frames on
# a fill ring absorb 80 ms at 200k pps (the forwarder keeps half its UMEM there, so 32,768).
# 200k is the soak's default because it is what the three processes sustained here without a
# drop; at 300k the forwarder's fill ring ran empty now and then (75 of 2M frames in one run).
DEEP_RINGS = ["--frames", "16384", "--ring-size", "16384"]


def command(*args: str) -> list[str]:
    """The argv that runs ``xsk ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "xsk.cli", *args]


def last_json(text: str) -> dict[str, Any]:
    """The last JSON object line of a command's output (a ``--json`` run's summary)."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise RuntimeError(f"no JSON summary in: {text[-500:]!r}")


def wait_for_program(proc: subprocess.Popen[str], netns: str, ifname: str, timeout: float = 30) -> None:
    """Until the receiver's socket is bound (its XDP program on ``ifname`` in ``netns``); its
    error if it exits first, RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read()[-800:] if proc.stderr is not None else ""
            argv = proc.args if isinstance(proc.args, list) else [str(proc.args)]
            raise RuntimeError(f"{' '.join(map(str, argv[3:5]))} exited ({proc.returncode}): {err}")
        out = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "dev", ifname], capture_output=True, text=True)
        if "prog/xdp" in out.stdout:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing bound to {netns}/{ifname} after {timeout} s")


__all__ = ["DEEP_RINGS", "SOAK_PROFILE", "command", "last_json", "wait_for_program"]
