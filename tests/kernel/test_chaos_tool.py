"""tools/chaos, short: faults of every kind drawn from a fixed seed under four-stream traffic
through gen -> fwd -> sink; frames may be lost only while a part was down, every process that
ended kept its ledger whole, and nothing of the lab is left (the README has the longer run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "chaos"


def test_short_chaos_run_loses_nothing_while_every_part_is_up():
    run = subprocess.run([sys.executable, str(TOOL), "--seconds", "50", "--seed", "90", "--rate", "50k", "--json"],
                         capture_output=True, text=True, timeout=400)
    assert run.stdout.strip(), run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["passed"] and run.returncode == 0, result["failures"]
    assert result["lost_while_up"] == 0
    assert len(result["faults"]) >= 5 and result["restarts"] >= 3, result["faults"]  # seed 90 draws 7 kinds
    assert result["received"] > 0 and result["process_runs_checked"] >= 3


def test_unknown_fault_kinds_are_refused_before_anything_is_made():
    run = subprocess.run([sys.executable, str(TOOL), "--faults", "link,meteor"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "unknown meteor" in run.stderr and "Traceback" not in run.stderr
