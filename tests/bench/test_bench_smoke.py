"""The scale benchmark end to end at a tiny scale, in its own database.

Runs `python -m bench --scale 0.001` in a subprocess (its own Django setup and its
own database, created and dropped by the bench), then checks what it reports: the
generated data obeys every invariant, every state and status is present, the cached
answers equal the ledger's, and the clerk threads broke nothing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_at_tiny_scale(tmp_path):
    results_file = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "0.001",
            "--repeats",
            "2",
            "--throughput-seconds",
            "0.5",
            "--throughput-rounds",
            "1",
            "--invoice-order-repeats",
            "5",
            "--db",
            f"settle_bench_smoke_{os.getpid()}",
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
    assert results["consistency"]["missing_statuses"] == []
    statuses = results["statuses"]
    assert set(statuses["invoice payment_status (open)"]) == {"unpaid", "partially_paid", "paid", "overpaid"}
    assert set(statuses["payment allocation_status"]) == {
        "unallocated",
        "partially_allocated",
        "fully_allocated",
        "overallocated",
    }
    assert set(statuses["invoice state"]) == {"draft", "open", "void"}
    assert set(statuses["payment state"]) == {"pending", "settled", "canceled", "charged_back"}
    assert all(results["answers_match"].values()), results["answers_match"]
    assert results["throughput"]["invariants_after"] == 0
    assert results["throughput"]["hot"]["deadlocks"] == 0
    assert results["reconcile"]["stand_in_sql"]["drift"] == 0
    assert {row["label"] for row in results["lists"]} >= {"invoices overpaid", "collections by balance"}
    # Orders (issue 12): every billing and payment status in the data, checked consistent with
    # the rest; invoice_order timed; the list measured, or said to be missing, never a crash.
    assert set(statuses["order billing_status"]) == {"not_invoiced", "partially_invoiced", "invoiced"}
    assert set(statuses["order payment_status"]) == {"unpaid", "partially_paid", "paid", "overpaid"}
    assert results["fill"]["rows"]["orders_order"] > 0 and results["fill"]["rows"]["orders_orderline"] > 0
    assert results["consistency"]["violations"]["I2 order statuses"] == 0
    assert results["orders"]["invoice_order"]["repeats"] == 5 and results["orders"]["invoice_order"]["median_ms"] > 0
    order_list = results["orders"]["list"]
    assert order_list["available"] or "orders:list" in order_list["reason"], order_list
    assert results["reconcile"]["stand_in_sql"]["order_checks_seconds"] >= 0
    # The JSON API section (issue 15): every payment POSTed through the API was auto-allocated.
    api = results["api"]
    assert api["payment"]["errors"] == 0 and api["payment"]["allocated"] == api["payment"]["requests"] > 0
    assert all(row["statuses"] == [200] for row in api["lists"]), api["lists"]
