"""`python -m bench.step NAME [ARG]`: one step of the nightly window, in a process of its own.

The nightly stage (bench/nightly.py) starts each step as `python -m bench.peak python -m
bench.step NAME`, so the step's wall time includes Django's start, its peak RSS is its own
(bench.peak), and the queries it sends are counted here: every connection it opens, in any
thread, gets an execute wrapper (connection_created). Processes it spawns (the bank import's
streams) are not counted in the queries, only in the peak RSS.

The last line of stdout is a JSON object: {"rows": rows the step worked on, "queries": n,
"detail": what the step says of itself}.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from io import StringIO
from pathlib import Path

_counted = threading.Lock()
_queries = 0


def _count(execute, sql, params, many, context):
    global _queries
    with _counted:
        _queries += 1
    return execute(sql, params, many, context)


def _command(name: str, *args: str) -> str:
    from django.core.management import call_command

    out = StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=out)
    except SystemExit as exc:  # reconcile_statuses and auto_allocate exit 1 on drift or refusals
        if exc.code not in (0, 1, None):
            raise
    return out.getvalue()


def import_through_queue(path: str) -> tuple[int, dict]:
    """Store the statement and queue its import as an upload does, then run a worker until the queue is empty."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from procrastinate.contrib.django import app

    from intake.background import start_import
    from intake.models import StatementImport

    user = get_user_model().objects.filter(username="bench").first()
    user = user or get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
    upload = SimpleUploadedFile(Path(path).name, Path(path).read_bytes(), content_type="application/xml")
    statement_import = start_import(upload, format="", profile="", dry_run=False, by=user)
    # As `manage.py procrastinate worker --one-shot` does: the Django connector only defers jobs,
    # a worker runs on the real (psycopg) connector it names.
    worker_app = app.with_connector(app.connector.get_worker_connector())  # type: ignore[attr-defined]
    worker_app.run_worker(queues=["imports"], wait=False, install_signal_handlers=False, listen_notify=False)
    statement_import = StatementImport.objects.get(pk=statement_import.pk)
    detail = {"status": statement_import.status, "tally": statement_import.tally, "stopped": statement_import.stopped}
    return statement_import.total or 0, detail


def auto_allocate() -> tuple[int, dict]:
    from allocations.management.commands.auto_allocate import waiting_payments

    waiting = waiting_payments().count()
    output = _command("auto_allocate")
    return waiting, {"summary": output.strip().splitlines()[-1][:300] if output.strip() else ""}


def assess_penalties() -> tuple[int, dict]:
    from invoices.models import Invoice
    from plans.models import PenaltyAssessment

    installments = Invoice.objects.filter(plan_sequence__isnull=False).count()
    output = _command("assess_penalties")
    run = PenaltyAssessment.objects.filter(plan__isnull=True).order_by("-started_at", "-id").first()
    detail: dict[str, object] = {"summary": output.strip()[-300:]}
    if run is not None:
        detail |= {"candidates": run.candidates, "penalties": run.penalties, "credit_notes": run.credit_notes}
    return installments, detail


def run_dunning() -> tuple[int, dict]:
    from billing.models import Account

    accounts = Account.objects.filter(open_invoice_count__gt=0).count()
    output = _command("run_dunning")
    return accounts, {"summary": output.strip()[-300:]}


def send_letters() -> tuple[int, dict]:
    """The mail jobs run_dunning queued (documents.tasks), run until the queue is empty by
    MAIL_WORKERS worker processes (a worker per core, as a deployment runs them). Building a
    message is Python's email package, one core per worker: one worker sent ~1,050 letters/s
    on this machine with the other core idle."""
    import multiprocessing

    from bench.mail_worker import run_mail_worker
    from billing import processes
    from documents.models import Delivery

    before = Delivery.objects.count()
    context = multiprocessing.get_context("spawn")
    with processes.without_main():
        workers = [
            context.Process(target=run_mail_worker, args=(processes.database_settings(),)) for _ in range(MAIL_WORKERS)
        ]
        for worker in workers:
            worker.start()
    for worker in workers:
        worker.join()
    if any(worker.exitcode for worker in workers):
        raise RuntimeError(f"a mail worker failed: exit codes {[worker.exitcode for worker in workers]}")
    deliveries = Delivery.objects.count() - before
    failed = Delivery.objects.filter(result="failed").count()
    return deliveries, {"deliveries": deliveries, "failed_in_total": failed, "workers": MAIL_WORKERS}


MAIL_WORKERS = int(os.environ.get("SETTLE_BENCH_MAIL_WORKERS", str(os.cpu_count() or 1)))


def export_batch(profile: str) -> tuple[int, dict]:
    from exports.services import export_batch as export

    batch = export(profile=profile, by=None)
    if batch is None:
        return 0, {"batch": None}
    return batch.entry_count, {"batch": batch.number, "payload_bytes": batch.payload_bytes, "state": batch.state}


def reconcile() -> tuple[int, dict]:
    from invoices.models import Invoice
    from payments.models import Payment

    rows = Invoice.objects.count() + Payment.objects.count()
    output = _command("reconcile_statuses")
    return rows, {"summary": output.strip()[-300:]}


STEPS: dict[str, Callable[..., tuple[int, dict]]] = {
    "import": import_through_queue,
    "auto_allocate": auto_allocate,
    "assess_penalties": assess_penalties,
    "run_dunning": run_dunning,
    "send_letters": send_letters,
    "export_batch": export_batch,
    "reconcile": reconcile,
}


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db.backends.signals import connection_created

    def wrap(sender, connection, **kwargs) -> None:
        if _count not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count)

    connection_created.connect(wrap, weak=False)
    name, *args = argv
    rows, detail = STEPS[name](*args)
    print(json.dumps({"rows": rows, "queries": _queries, "detail": detail}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
