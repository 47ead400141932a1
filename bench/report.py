"""The machine's description, the target verdicts, the stdout table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import django

LIST_P95_MS = 100
COLLECTIONS_P95_MS = 200
SQL_RATIO_RARE = 10
PYTHON_RATIO = 100
THROUGHPUT_4 = 300
RECONCILE_S = 30
# Issue 12: reconciliation with the orders still under 10 s in total.
RECONCILE_WITH_ORDERS_S = 10
# Issue 16's stricter targets for the same rows (one run, 2 cores, full scale); issue 5's stay.
NIGHTLY_LIST_P95_MS = 25
NIGHTLY_COLLECTIONS_P95_MS = 35
NIGHTLY_SQL_RATIO = 100
NIGHTLY_THROUGHPUT_4 = 600


def machine(scale: float, postgres: str) -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().split()
        mem_gib = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        mem_gib = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "postgres": postgres,
        "scale": scale,
        "git_commit": commit,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def verdicts(results: dict) -> list[dict]:
    """Each target of issue 5 with the measured figure and whether it is met."""
    found = []

    def check(name: str, value, ok: bool, target: str) -> None:
        found.append({"target": name, "value": value, "goal": target, "met": bool(ok)})

    for row in results["lists"]:
        goal = COLLECTIONS_P95_MS if row["target"] == "collections" else LIST_P95_MS
        check(f"p95 {row['label']}", row["p95_ms"], row["p95_ms"] < goal, f"< {goal} ms")
    for row in results["lists"]:
        if not row.get("baseline"):
            continue
        key = ":".join(row["baseline"])
        share = row.get("share_of_rows", 1)
        sql = results["baselines"]["sql"].get(key)
        if sql and share < 0.10:
            ratio = round(sql["median_ms"] / row["median_ms"], 1)
            check(f"vs on-the-fly SQL {key} (rare)", ratio, ratio >= SQL_RATIO_RARE, f">= {SQL_RATIO_RARE}x")
        python = results["baselines"]["python"].get(key)
        if python:
            ratio = round(python["median_ms"] / row["median_ms"], 1)
            check(f"vs Python {key}", ratio, ratio >= PYTHON_RATIO, f">= {PYTHON_RATIO}x")
    for run in results["throughput"]["distinct"]:
        if run["threads"] == 4:
            check(
                "allocs/s, 4 clerks on distinct payments",
                run["allocs_per_s"],
                run["allocs_per_s"] >= THROUGHPUT_4,
                f">= {THROUGHPUT_4}/s",
            )
    found += issue16_verdicts(results)
    hot = results["throughput"]["hot"]
    check(
        "hot customer, 16 clerks: deadlocks + errors",
        hot["deadlocks"] + hot["errors"],
        hot["deadlocks"] + hot["errors"] == 0,
        "0",
    )
    after = results["throughput"]["invariants_after"]
    check("invariant violations after the clerks", after, after == 0, "0")
    reconcile = results["reconcile"]["stand_in_sql"]
    check(
        "full reconciliation (SQL stand-in), seconds",
        reconcile["seconds"],
        reconcile["seconds"] < RECONCILE_S,
        f"< {RECONCILE_S} s",
    )
    check("reconciliation drift", reconcile["drift"], reconcile["drift"] == 0, "0")
    command = results["reconcile"].get("command")
    if command:
        check(
            "reconcile_statuses command, seconds",
            command["seconds"],
            command["seconds"] < RECONCILE_S and not command["error"],
            f"< {RECONCILE_S} s",
        )
    if "orders" in results:
        from bench import orders

        # The target is the command's (issue 12: "reconciliation still under 10 s in total"). The
        # stand-in is the test suite's invariant checker run without LIMIT, shown for comparison.
        if command:
            check(
                "reconcile_statuses with orders, seconds",
                command["seconds"],
                command["seconds"] < RECONCILE_WITH_ORDERS_S and not command["error"],
                f"< {RECONCILE_WITH_ORDERS_S} s",
            )
        found += orders.verdicts(results["orders"])
    return found


def issue16_verdicts(results: dict) -> list[dict]:
    """Issue 16's targets for the list pages and the clerks: every list page p95 under 25 ms and
    the collections queue under 35 ms, at least 100x the on-the-fly SQL baseline on every status
    (not only the rare ones), 4 clerks at least 600 allocations a second."""
    found = []
    for row in results["lists"]:
        goal = NIGHTLY_COLLECTIONS_P95_MS if row["target"] == "collections" else NIGHTLY_LIST_P95_MS
        found.append(
            {
                "target": f"p95 {row['label']} (issue 16)",
                "value": row["p95_ms"],
                "goal": f"< {goal} ms",
                "met": row["p95_ms"] < goal,
            }
        )
        sql = results["baselines"]["sql"].get(":".join(row["baseline"])) if row.get("baseline") else None
        if sql:
            ratio = round(sql["median_ms"] / row["median_ms"], 1)
            found.append(
                {
                    "target": f"vs on-the-fly SQL {':'.join(row['baseline'])} (issue 16)",
                    "value": ratio,
                    "goal": f">= {NIGHTLY_SQL_RATIO}x",
                    "met": ratio >= NIGHTLY_SQL_RATIO,
                }
            )
    for run in results["throughput"]["distinct"]:
        if run["threads"] == 4:
            found.append(
                {
                    "target": "allocs/s, 4 clerks on distinct payments (issue 16)",
                    "value": run["allocs_per_s"],
                    "goal": f">= {NIGHTLY_THROUGHPUT_4}/s",
                    "met": run["allocs_per_s"] >= NIGHTLY_THROUGHPUT_4,
                }
            )
    return found


def table(results: dict) -> str:
    lines = []
    m = results["machine"]
    lines.append(
        f"Settle bench, scale {m['scale']}: {m['cpu_count']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"PostgreSQL {m['postgres']}, Python {m['python']}, Django {m['django']}; load average "
        f"{m['load_average_start'][0]} at start, {m.get('load_average_end', ['?'])[0]} at end"
    )
    rows = results["fill"]["rows"]
    lines.append(
        "Data: "
        + ", ".join(f"{name.split('_', 1)[1]} {count:,}" for name, count in rows.items())
        + ("; filled by an earlier run (--reuse)" if results["fill"].get("reused") else "")
        + ("" if results["fill"].get("reused") else f"; filled in {results['fill']['seconds']:.0f} s")
        + f", invariants {results['consistency']['seconds']:.1f} s, "
        f"violations {sum(results['consistency']['violations'].values())}"
    )
    lines.append(f"Views: {'; '.join(sorted(set(results['targets'].values())))}")
    lines.append("")
    header = (
        f"{'request (server time, test client)':<36}{'p50 ms':>9}{'p95 ms':>9}{'qs':>4}{'rows':>10}"
        f"{'SQL p50':>10}{'x':>7}{'Py p50':>10}{'x':>7}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for row in results["lists"]:
        sql = python = None
        if row.get("baseline"):
            key = ":".join(row["baseline"])
            sql = results["baselines"]["sql"].get(key)
            python = results["baselines"]["python"].get(key)
        line = (
            f"{row['label']:<36}{row['median_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['queries']:>4}"
            f"{row.get('count', ''):>10}"
        )
        if sql:
            line += f"{sql['median_ms']:>10.0f}{sql['median_ms'] / row['median_ms']:>7.0f}"
        if python:
            line += f"{python['median_ms']:>10.0f}{python['median_ms'] / row['median_ms']:>7.0f}"
        lines.append(line)
    lines.append("")
    lines.append(
        f"{'allocation throughput (median round)':<36}{'allocs/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'refused':>9}{'deadlk':>8}"
        f"{'errors':>8}"
    )
    runs = [(f"{r['threads']} clerks, distinct payments", r) for r in results["throughput"]["distinct"]]
    runs.append((f"{results['throughput']['hot']['threads']} clerks, one hot customer", results["throughput"]["hot"]))
    for label, run in runs:
        latency = run.get("latency", {"median_ms": 0, "p95_ms": 0})
        rounds = "  rounds " + "/".join(f"{r:.0f}" for r in run["rounds"]) if run.get("rounds") else ""
        lines.append(
            f"{label:<36}{run['allocs_per_s']:>9.0f}{latency['median_ms']:>9.1f}{latency['p95_ms']:>9.1f}"
            f"{run['refused']:>9}{run['deadlocks']:>8}{run['errors']:>8}{rounds}"
        )
    lines.append(f"invariant violations after the clerks: {results['throughput']['invariants_after']}")
    if "orders" in results:
        from bench import orders

        lines.append("")
        lines.append(orders.table(results["orders"]))
    lines.append("")
    rec = results["reconcile"]
    stand_in = rec["stand_in_sql"]
    split = ""
    if "order_checks_seconds" in stand_in:
        split = f" (order checks {stand_in['order_checks_seconds']:.1f} s, without them {stand_in['without_orders_seconds']:.1f} s)"
    lines.append(
        f"reconciliation, SQL stand-in over every row: {stand_in['seconds']:.1f} s{split}, drift {stand_in['drift']}"
    )
    if rec.get("command"):
        parts = rec["command"].get("reads_alone_seconds") or {}
        lines.append(
            f"reconcile_statuses command: {rec['command']['seconds']:.1f} s"
            + (
                " (its reads, each alone: " + ", ".join(f"{name} {s:.1f} s" for name, s in parts.items()) + ")"
                if parts
                else ""
            )
            + (f" (failed: {rec['command']['error']})" if rec["command"]["error"] else "")
        )
    else:
        lines.append("reconcile_statuses command: not in this branch (stand-in measured instead)")
    lines.append("")
    missed = [v for v in results["verdicts"] if not v["met"]]
    lines.append(f"targets: {len(results['verdicts']) - len(missed)} met, {len(missed)} missed")
    for v in missed:
        lines.append(f"  MISSED {v['target']}: {v['value']} (goal {v['goal']})")
    lines.append(f"total run {results['seconds_total']:.0f} s")
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
