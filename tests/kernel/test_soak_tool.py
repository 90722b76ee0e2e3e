"""tools/soak, short: a four-stream profile through gen -> fwd -> sink in three namespaces,
every process verifying its ledger, the tool's verdict and report as a user reads them
(the 100-million-frame run is the README's figure, not CI's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "soak"


def test_short_soak_through_a_forwarder_loses_nothing_and_balances_every_ledger():
    # 12 s at a rate a busy two-core machine keeps (gen, fwd and sink share its cores with four CPU
    # hogs in `make test-loaded`, where gen reached 19.6k of 30k asked): long enough for every
    # memory curve, and the rate is checked by the tool (95% of it or a failure)
    run = subprocess.run([sys.executable, str(TOOL), "--packets", "120000", "--rate", "10k", "--json"],
                         capture_output=True, text=True, timeout=240)
    assert run.stdout.strip(), run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["passed"] and run.returncode == 0, result["failures"]
    assert set(result["streams"]) == {"small", "imix", "mid", "large"}
    assert sum(s["packets"] for s in result["streams"].values()) == 120_000
    assert all(s["lost"] == s["duplicates"] == s["reordered"] == 0 for s in result["streams"].values())
    assert result["fwd"]["forwarded"] == result["gen"]["packets"] == result["sink"]["packets"] == 120_000
    for name in ("gen", "fwd", "sink"):
        r = result[name]
        assert r["ledger_checks"] >= 1 and r["ledger_missed"] == 0, (name, r)
        assert r["accounting"]["pool"] == r["accounting"]["total"], (name, r)


def test_bad_input_is_refused_before_any_namespace_is_made():
    run = subprocess.run([sys.executable, str(TOOL), "--rate", "fast"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "bad rate 'fast'" in run.stderr
    assert "Traceback" not in run.stderr
