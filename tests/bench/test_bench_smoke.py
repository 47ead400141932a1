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

import pytest
from django.db import connection

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


def _bench(*args: str, db: str, json_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", "--repeats", "2", "--db", db, "--json", str(json_file), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
def test_a_kept_fill_is_measured_again_with_reuse_and_one_of_another_scale_is_refused(tmp_path):
    db, results_file = f"settle_bench_reuse_{os.getpid()}", tmp_path / "bench.json"
    filled = _bench("--scale", "0.001", "--fill-only", "--keep", db=db, json_file=results_file)
    assert filled.returncode == 0, filled.stdout[-3000:] + filled.stderr[-3000:]
    invoices = json.loads(results_file.read_text())["fill"]["rows"]["invoices_invoice"]

    bigger = _bench("--scale", "0.01", "--reuse", "--only", "api", "--keep", db=db, json_file=results_file)
    assert bigger.returncode != 0 and "fill it with --fill-only --keep first" in bigger.stderr + bigger.stdout

    # without --keep the run drops the database afterwards, as a fresh run does
    run = _bench("--scale", "0.001", "--reuse", "--only", "api", db=db, json_file=results_file)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Creating and migrating" not in run.stdout and f"Measuring database {db} as a --fill-only" in run.stdout
    results = json.loads(results_file.read_text())
    assert results["fill"]["reused"] and results["fill"]["rows"]["invoices_invoice"] == invoices
    assert set(results["consistency"]["violations"].values()) == {0}
    assert results["api"]["payment"]["errors"] == 0 and results["api"]["payment"]["requests"] > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [db])
        assert cursor.fetchone()[0] == 0
