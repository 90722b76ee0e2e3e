"""xsk gen as a test instrument: rates given as engineers give them, and nothing asked for that
vanishes unsaid (a rate the machine can't reach, frames over the MTU, a stream that never
starts, the broadcast destination, streams without a sequence header), each said once, in
words on stderr and in the --json summary."""

from __future__ import annotations

import json
import subprocess
import sys

from .test_cli import xsk

CLI = [sys.executable, "-m", "xsk.cli"]


def _error_line(done: subprocess.CompletedProcess) -> str:
    """A refused command's one-line error (exit 2, nothing on stdout, no traceback)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_percentage_of_line_rate_on_veth_is_refused_asking_for_an_absolute_rate(veth_pair):
    a = veth_pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--rate", "50%"))
    assert "veth, which has no line rate" in line and "give an absolute rate" in line, line


def test_units_that_could_be_bits_or_bytes_are_refused_naming_the_forms_taken(veth_pair):
    a = veth_pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--rate", "10kb"))
    assert "'10kb'" in line and "ambiguous" in line and "200kpps" in line and "'10Gbit L1'" in line, line


def test_explicit_units_and_l1_rates_are_taken(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    for rate in ("2kpps", "1Mbps", "1.344Mbit L1"):  # 1.344 Mbit/s L1 at 60-byte frames: 2,000 pps
        done = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "100", "--rate", rate,
                   "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1])["packets"] == 100
