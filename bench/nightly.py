"""The nightly window (issue 16): every job a night runs, one after another, on the filled data.

1. a generated camt.053 of 100,000 credits (bench/intake.py's statement, at scale 1.0)
   uploaded as a clerk does and imported by a Procrastinate worker (intake.background);
2. `auto_allocate` over every settled payment with money left;
3. `assess_penalties` (the nightly run after the data's "last night");
4. `run_dunning`;
5. the letters' mail: the jobs run_dunning queued, run by a worker (documents.tasks; in
   production a worker sends them while the window goes on, here they are timed on their own);
6. `export_batch` of each export profile, where the exports app exists;
7. `reconcile_statuses`.

Each step runs in a process of its own (bench/step.py under bench/peak.py): wall time with
Django's start, rows per second against the step's target, peak RSS and queries per row.
At the end: the drift the reconciliation found (must be 0) and every invariant of
tests/invariants.py over the whole data set.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench.peak import run_measured

ROOT = Path(__file__).resolve().parent.parent
WINDOW_TARGET_SECONDS = 600


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    unit: str  # what its rows are
    target_per_s: float | None = None  # rows per second at least
    target_seconds: float | None = None  # or: seconds at most


STEPS = [
    Step("import", "bank statement import (task queue)", "entries", target_per_s=1_000),
    Step("auto_allocate", "auto_allocate", "payments", target_per_s=1_000),
    Step("assess_penalties", "assess_penalties", "installments", target_per_s=20_000),
    Step("run_dunning", "run_dunning", "accounts"),
    Step("send_letters", "dunning mail (task queue)", "letters"),
    Step("export_batch", "export_batch", "entries", target_per_s=20_000),
    Step("reconcile", "reconcile_statuses", "invoices+payments", target_seconds=10),
]


def run_step(step: Step, args: list[str], *, db: str) -> dict:
    env = {**os.environ, "SETTLE_DB_NAME": db, "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings"}
    run = run_measured([sys.executable, "-m", "bench.step", step.name, *args], env=env)
    seconds, output, errors = run.seconds, run.output, run.errors
    found: dict = {
        "step": step.name,
        "label": step.label,
        "unit": step.unit,
        "seconds": round(seconds, 2),
        "exit_code": run.exit_code,
        "peak_rss_mib": run.peak_rss_mib,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        said = json.loads(output.splitlines()[-1])
    except (IndexError, ValueError):
        found |= {"rows": 0, "queries": None, "error": (errors or output)[-1500:]}
        return found
    rows = said["rows"]
    found |= {
        "rows": rows,
        "queries": said["queries"],
        "queries_per_row": round(said["queries"] / rows, 2) if rows else None,
        "rows_per_s": round(rows / seconds, 1) if seconds and rows else None,
        "detail": said["detail"],
    }
    if step.target_per_s is not None:
        found["target"] = f">= {step.target_per_s:,.0f} {step.unit}/s"
        found["met"] = bool(found["rows_per_s"] and found["rows_per_s"] >= step.target_per_s)
    elif step.target_seconds is not None:
        found["target"] = f"< {step.target_seconds:g} s"
        found["met"] = seconds < step.target_seconds
    return found


def export_profiles() -> list[str]:
    return list(getattr(settings, "SETTLE_EXPORT_PROFILES", {}) or {})


def measure(scale: float, *, db: str, log=print) -> dict:
    from bench import checks, intake

    credits = max(200, round(intake.FULL_CREDITS * scale))
    customers = max(20, round(intake.FULL_CUSTOMERS * scale))
    path, entries = intake.write_statement(credits, customers, prefix="NIGHT")
    log(f"  statement {path.name}: {entries} entries")
    connection.close()  # each step gets the server to itself
    steps: list[dict] = []
    for step in STEPS:
        if step.name == "export_batch":
            profiles = export_profiles()
            if not profiles:
                steps.append({"step": step.name, "label": step.label, "skipped": "no export profile (no exports app)"})
                log(f"  {step.label:<36} skipped: no export profile in this branch")
                continue
            runs = [run_step(step, [profile], db=db) for profile in profiles]
            found = _merged(step, runs)
        else:
            found = run_step(step, [str(path)] if step.name == "import" else [], db=db)
        steps.append(found)
        rate = f"{found['rows_per_s']:>10,.0f} {step.unit}/s" if found.get("rows_per_s") else " " * 12
        verdict = ("met" if found["met"] else "MISSED") if "met" in found else ""
        log(
            f"  {step.label:<36} {found['seconds']:8.1f} s {found.get('rows', 0):>10,} {step.unit:<18}{rate}"
            f"  {found.get('target', ''):<24} {verdict:<6} peak {found['peak_rss_mib']} MiB,"
            f" {found.get('queries_per_row')} queries/row, exit {found['exit_code']}"
            + (f"\n    {found['error']}" if "error" in found else "")
        )
    window = round(sum(s.get("seconds", 0) for s in steps), 1)
    result: dict = {"steps": steps, "window_seconds": window, "window_target_seconds": WINDOW_TARGET_SECONDS}
    result["drift"] = last_drift()
    violations, seconds = checks.invariant_violations()
    result["invariants_after"] = sum(violations.values())
    result["violations_after"] = {name: n for name, n in violations.items() if n}
    log(
        f"  window {window} s (target < {WINDOW_TARGET_SECONDS} s); drift found by the reconciliation "
        f"{result['drift']}; invariants after: {result['invariants_after']} violations ({seconds:.1f} s)"
    )
    return result


def _merged(step: Step, runs: list[dict]) -> dict:
    """One row for the export step over every profile: their times, rows and queries added."""
    if len(runs) == 1:
        return runs[0]
    seconds = sum(r["seconds"] for r in runs)
    rows = sum(r.get("rows", 0) for r in runs)
    queries = sum(r.get("queries") or 0 for r in runs)
    merged = {
        **runs[0],
        "seconds": round(seconds, 2),
        "rows": rows,
        "queries": queries,
        "queries_per_row": round(queries / rows, 2) if rows else None,
        "rows_per_s": round(rows / seconds, 1) if seconds and rows else None,
        "peak_rss_mib": max((r["peak_rss_mib"] or 0) for r in runs),
        "exit_code": max(r["exit_code"] for r in runs),
        "detail": [r.get("detail") for r in runs],
    }
    if step.target_per_s is not None:
        merged["met"] = bool(merged["rows_per_s"] and merged["rows_per_s"] >= step.target_per_s)
    return merged


def last_drift() -> int | None:
    from reconciliation.models import ReconciliationRun

    run = ReconciliationRun.objects.order_by("-id").first()
    return run.drift_found if run is not None else None


def failed(result: dict) -> bool:
    """A step that crashed, drift, or a broken invariant fails the bench; a missed target does not."""
    crashed = any(s.get("exit_code") not in (0, 1, None) or "error" in s for s in result["steps"])
    return crashed or bool(result["drift"]) or bool(result["invariants_after"])


def verdicts(result: dict) -> list[dict]:
    found = [
        {
            "target": f"nightly {s['label']}",
            "value": s.get("rows_per_s") if "target" in s and ">=" in s["target"] else s.get("seconds"),
            "goal": s["target"],
            "met": s["met"],
        }
        for s in result["steps"]
        if "met" in s
    ]
    found.append(
        {
            "target": "nightly window, seconds",
            "value": result["window_seconds"],
            "goal": f"< {WINDOW_TARGET_SECONDS}",
            "met": result["window_seconds"] < WINDOW_TARGET_SECONDS,
        }
    )
    return found


def table(result: dict, machine: dict) -> str:
    lines = [
        f"nightly window ({machine['cpu_count']} CPUs, load average {os.getloadavg()[0]:.2f} now); "
        f"each step a fresh process",
        f"{'step':<36}{'seconds':>9}{'rows':>11}{'rows/s':>10}  {'target':<24}{'':<7}{'peak MiB':>9}{'q/row':>7}",
    ]
    for s in result["steps"]:
        if "skipped" in s:
            lines.append(f"{s['label']:<36}  skipped: {s['skipped']}")
            continue
        rate = f"{s['rows_per_s']:,.0f}" if s.get("rows_per_s") else "-"
        verdict = ("met" if s["met"] else "MISSED") if "met" in s else ""
        lines.append(
            f"{s['label']:<36}{s['seconds']:>9.1f}{s.get('rows', 0):>11,}{rate:>10}  {s.get('target', ''):<24}"
            f"{verdict:<7}{s['peak_rss_mib'] or '?':>9}{s.get('queries_per_row') or '-':>7}"
        )
    window_verdict = "met" if result["window_seconds"] < WINDOW_TARGET_SECONDS else "MISSED"
    lines.append(
        f"{'whole window':<36}{result['window_seconds']:>9.1f}{'':>21}  < {WINDOW_TARGET_SECONDS} s{'':<15}{window_verdict}"
    )
    lines.append(
        f"drift found by the reconciliation: {result['drift']}; invariants after: {result['invariants_after']}"
    )
    return "\n".join(lines)
