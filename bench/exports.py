"""Exports in `make bench` (issue 14): one export_batch over every entry never exported, then empty nights.

The fill's journal (bench.generate: the migration's set-based backfill) holds every
invoice, credit note and void as an entry, none exported. The first night is
`manage.py export_batch --profile bench` in a fresh process under bench.peak, so its wall
time includes everything a cron line pays and its peak RSS is the export's own (the
payload is streamed by COPY into a temporary file and stored in 1 MiB chunks; items and
balances are INSERT ... SELECT). Then the delivered file is checked against the batch's
sha256, and I12 against every row. An empty night (nothing new) is timed in this process,
as the service call the nightly task makes, several times; then a small night (a few
hundred entries made since) to show the cost of a normal night on a large history.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.test import override_settings

from bench.peak import run_measured

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["invoice", "credit_note", "void"]
FIRST_NIGHT_SECONDS_PER_MILLION = 60
EMPTY_NIGHT_SECONDS = 1.0
EMPTY_NIGHTS = 5


def _pending() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM ledger_entry e WHERE e.kind = ANY(%s) AND NOT EXISTS
                   (SELECT 1 FROM exports_exportitem i WHERE i.profile = 'bench' AND i.entry_id = e.id)""",
            [KINDS],
        )
        return cursor.fetchone()[0]


def _run_command(*, db: str, outbox: Path) -> dict:
    env = {
        **os.environ,
        "SETTLE_DB_NAME": db,
        "DJANGO_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "bench.export_settings",
        "SETTLE_BENCH_OUTBOX": str(outbox),
    }
    run = run_measured([sys.executable, str(ROOT / "manage.py"), "export_batch", "--profile", "bench"], env=env)
    return {
        "seconds": round(run.seconds, 2),
        "exit_code": run.exit_code,
        "summary": (run.output.splitlines()[-1][:300] if run.output else run.errors[-500:]),
        "peak_rss_mib": run.peak_rss_mib,
    }


def _i12_violations() -> dict[str, int]:
    from tests.invariants import check_sql

    found = {}
    with connection.cursor() as cursor:
        for name, sql in check_sql().items():
            if name.startswith("I12"):
                cursor.execute(f"SELECT count(*) FROM ({sql}) AS broken")
                found[name] = cursor.fetchone()[0]
    return found


def _small_night(count: int) -> int:
    """`count` credit notes issued through the service on open invoices (a normal night's new entries)."""
    from invoices.models import Invoice
    from invoices.services import issue_credit_note

    invoices = Invoice.objects.filter(state="open", balance_due__gte=2, credited_total=0).order_by("-id")[:count]
    made = 0
    for invoice in invoices:
        issue_credit_note(invoice, amount="1.00", by=None, reason="bench: a night's credit")
        made += 1
    return made


def measure(*, db: str, log=print) -> dict:
    from exports.models import ExportBatch
    from exports.services import export_batch

    result: dict = {"pending": _pending()}
    log(f"  {result['pending']:,} journal entries never exported (kinds {', '.join(KINDS)})")
    with tempfile.TemporaryDirectory(prefix="settle-bench-outbox-") as folder:
        outbox = Path(folder)
        connection.close()  # the export gets the server to itself
        first = _run_command(db=db, outbox=outbox)
        batch = ExportBatch.objects.filter(profile="bench").order_by("-number").first()
        first["entries"] = batch.entry_count if batch else 0
        first["payload_mib"] = round(batch.payload_bytes / 2**20, 1) if batch else None
        first["balances"] = batch.balance_rows.count() if batch else 0
        first["seconds_per_million"] = (
            round(first["seconds"] * 1_000_000 / first["entries"], 1) if first["entries"] else None
        )
        delivered = outbox / batch.file_name if batch else None
        if batch is not None and delivered is not None and delivered.exists():
            digest = hashlib.sha256()
            with delivered.open("rb") as file:
                while block := file.read(1 << 20):
                    digest.update(block)
            first["delivered_file_matches_sha256"] = digest.hexdigest() == batch.sha256
        else:
            first["delivered_file_matches_sha256"] = False
        result["first_night"] = first
        log(
            f"  first night: {first['entries']:,} entries, {first['balances']:,} balances, {first['payload_mib']} MiB "
            f"in {first['seconds']} s ({first['seconds_per_million']} s per million), peak RSS {first['peak_rss_mib']} MiB, "
            f"exit {first['exit_code']}, delivered file matches sha256: {first['delivered_file_matches_sha256']}"
        )
        profile = {"bench": {"kinds": KINDS, "format": "csv", "deliver_to": str(outbox)}}
        with override_settings(SETTLE_EXPORT_PROFILES=profile):
            empty = []
            for _ in range(EMPTY_NIGHTS):
                started = time.perf_counter()
                made = export_batch(profile="bench", by=None)
                empty.append(time.perf_counter() - started)
                assert made is None, "an empty night made a batch"
            result["empty_night"] = {
                "median_seconds": round(statistics.median(empty), 3),
                "max_seconds": round(max(empty), 3),
                "runs": len(empty),
            }
            log(
                f"  empty night: median {result['empty_night']['median_seconds']} s, "
                f"max {result['empty_night']['max_seconds']} s over {len(empty)} runs"
            )
            new_entries = _small_night(500)
            started = time.perf_counter()
            small = export_batch(profile="bench", by=None)
            result["small_night"] = {
                "entries": small.entry_count if small else 0,
                "made": new_entries,
                "seconds": round(time.perf_counter() - started, 3),
            }
            log(f"  small night: {new_entries} new entries exported in {result['small_night']['seconds']} s")
    started = time.perf_counter()
    result["i12"] = _i12_violations()
    result["i12_seconds"] = round(time.perf_counter() - started, 2)
    result["pending_after"] = _pending()
    log(
        f"  I12 violations {result['i12']} ({result['i12_seconds']} s), entries left unexported {result['pending_after']}"
    )
    return result


def failed(result: dict) -> bool:
    first = result["first_night"]
    return bool(
        first["exit_code"] != 0
        or not first["delivered_file_matches_sha256"]
        or sum(result["i12"].values())
        or result["pending_after"]
    )


def verdicts(result: dict) -> list[dict]:
    first, empty = result["first_night"], result["empty_night"]
    return [
        {
            "target": "export_batch of entries never exported, seconds per million",
            "value": first["seconds_per_million"],
            "goal": f"< {FIRST_NIGHT_SECONDS_PER_MILLION} s",
            "met": bool(
                first["seconds_per_million"] and first["seconds_per_million"] < FIRST_NIGHT_SECONDS_PER_MILLION
            ),
        },
        {
            "target": "export_batch of an empty night, seconds (max)",
            "value": empty["max_seconds"],
            "goal": f"< {EMPTY_NIGHT_SECONDS} s",
            "met": empty["max_seconds"] < EMPTY_NIGHT_SECONDS,
        },
    ]


def table(result: dict, machine: dict) -> str:
    first, empty, small = result["first_night"], result["empty_night"], result["small_night"]
    return "\n".join(
        [
            f"exports ({machine['cpu_count']} CPUs, load average {os.getloadavg()[0]:.2f} now)",
            f"first night (manage.py export_batch): {first['entries']:,} entries, {first['balances']:,} account balances, "
            f"{first['payload_mib']} MiB CSV in {first['seconds']} s = {first['seconds_per_million']} s per million "
            f"(target < {FIRST_NIGHT_SECONDS_PER_MILLION}), peak RSS {first['peak_rss_mib']} MiB, "
            f"file = sha256: {first['delivered_file_matches_sha256']}",
            f"empty night (export_batch): median {empty['median_seconds']} s, max {empty['max_seconds']} s "
            f"(target < {EMPTY_NIGHT_SECONDS})",
            f"small night: {small['entries']} entries in {small['seconds']} s",
            f"I12 violations: {sum(result['i12'].values())} ({result['i12_seconds']} s); left unexported: "
            f"{result['pending_after']}",
        ]
    )
