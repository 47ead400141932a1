"""The nightly window of the scale benchmark (issue 16) at a tiny scale, in its own database.

Runs `python -m bench --scale 0.001 --only nightly` in a subprocess and checks what it
reports: one payment allocated over 20 invoices by allocate_many and through the allocate
page; then each nightly job in its own process, every one finished and working on rows
(the statement imported through the task queue, waiting money allocated, penalties
assessed, letters issued and their mail sent by the workers, the reconciliation), no drift and every invariant after.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nightly_window_at_tiny_scale(tmp_path):
    results_file = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "0.001",
            "--only",
            "nightly",
            "--hard-case-invoices",
            "20",
            "--db",
            f"settle_bench_nightly_smoke_{os.getpid()}",
            "--json",
            str(results_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())

    hard = results["hard_cases"]
    assert (hard["invoices"], hard["allocate_many_rows"], hard["allocate_many_status"]) == (20, 20, "fully_allocated")
    assert hard["page_status"] == [200, 302] and hard["page_payment_status"] == "fully_allocated"
    # a customer with many open invoices (100 at this scale, made set-based) on the allocate page, and
    # the collections queue of a provider with many accounts: both answer, and the invariants below hold
    big = hard["big_customer"]
    assert (big["invoices"], big["page_status"], big["page_payment_status"]) == (100, [200, 302], "fully_allocated")
    queue = hard["big_provider"]
    assert queue["accounts"] == 100 and queue["balance"]["statuses"] == queue["age"]["statuses"] == [200]

    nightly = results["nightly"]
    steps = {step["step"]: step for step in nightly["steps"]}
    assert list(steps) == [
        "import",
        "auto_allocate",
        "assess_penalties",
        "run_dunning",
        "send_letters",
        "export_batch",
        "reconcile",
    ]
    ran = [step for step in steps.values() if "skipped" not in step]
    assert all(step["exit_code"] in (0, 1) and "error" not in step for step in ran), ran
    assert steps["import"]["detail"]["status"] == "done"
    assert steps["import"]["rows"] == 200 and steps["import"]["detail"]["tally"]["recorded"] > 150
    assert steps["auto_allocate"]["rows"] > 0 and "Allocated" in steps["auto_allocate"]["detail"]["summary"]
    assert steps["assess_penalties"]["rows"] == 1000 and "candidates" in steps["assess_penalties"]["detail"]
    letters = steps["run_dunning"]["detail"]["summary"]
    assert steps["send_letters"]["rows"] > 0 and f"{steps['send_letters']['rows']} by email" in letters
    assert steps["reconcile"]["rows"] > 0 and all(step["peak_rss_mib"] for step in ran)
    assert nightly["drift"] == 0 and nightly["invariants_after"] == 0
    assert nightly["window_seconds"] == round(sum(step["seconds"] for step in ran), 1)
    names = {verdict["target"] for verdict in results["verdicts"]}
    assert "nightly window, seconds" in names and "allocate_many over 20 invoices, seconds" in names
