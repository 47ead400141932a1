"""The plans part of the scale benchmark (issue 13) at a tiny scale, in its own database.

Runs `python -m bench --scale 0.001 --only plans` in a subprocess, as the smoke test does
for the whole bench, and checks what it reports: the generated plans, penalties, waivers
and their payments obey every invariant; the nightly assessment ran over them building on
last night's, a second run the same day and a run over everything wrote nothing (I11) and
the invariants hold after; the plans list and
plan page were measured, or said to be missing from this branch, never a crash.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plans_bench_at_tiny_scale(tmp_path):
    results_file = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "0.001",
            "--only",
            "plans",
            "--repeats",
            "2",
            "--db",
            f"settle_bench_plans_smoke_{os.getpid()}",
            "--json",
            str(results_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())

    assert set(results["consistency"]["violations"].values()) == {0}
    assert results["consistency"]["violations"]["I2 plan state"] == 0
    assert results["consistency"]["violations"]["I11 penalty links"] == 0
    rows = results["fill"]["rows"]
    assert rows["plans_plan"] == 100 and rows["plans_penaltyrule"] == 100
    kinds = results["statuses"]["plan invoice payment_status"]
    assert kinds["installment paid"] and kinds["installment unpaid"] and kinds["penalty unpaid"], kinds
    assert "active" in results["statuses"]["plan state"]

    plans = results["plans"]
    assert plans["data"]["installments"] == 1000 and plans["data"]["penalty_invoices"] > 0
    assess = plans["assess"]
    assert assess["first"]["candidates"] > 0 and assess["first"]["seconds"] > 0
    assert assess["second"]["penalty_invoices"] == 0 and assess["second"]["credit_notes"] == 0
    # Tonight's runs build on last night's (logged by the fill); a run over everything after them
    # finds nothing they skipped.
    assert assess["first"]["incremental"] and assess["second"]["incremental"]
    assert not assess["full"]["incremental"] and assess["full"]["candidates"] >= assess["first"]["candidates"]
    assert assess["full"]["penalty_invoices"] == 0 and assess["full"]["credit_notes"] == 0
    assert assess["invariants_after"] == 0, assess["violations_after"]
    for section in ("list", "page"):
        measured = plans[section]
        assert measured["available"] or "not in this branch" in measured["reason"], measured
    targets = {verdict["target"] for verdict in results["verdicts"]}
    assert "assess_penalties over every plan, first run, seconds" in targets
