"""Every fuzz target runs a short, fixed number of executions with no crash (the long runs and
their figures are `tools/fuzz`'s; see the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fuzz"


def test_every_fuzz_target_survives_a_short_run(tmp_path):
    # a corpus of its own: the repository's build/fuzz/corpus grows with every run, and so would
    # this test's work and what it proves
    done = subprocess.run([sys.executable, str(TOOL), "--runs", "300", "--json", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    results = json.loads(done.stdout)
    assert [r["target"] for r in results] == ["pcap", "template", "filter", "ranges", "rate", "profile", "headers",
                                             "checksum", "ledger"]
    for r in results:
        assert r["crashes"] == 0, r.get("log")
        assert r["executions"] and r["executions"] >= 300, r
    assert done.returncode == 0
