"""Crash safety: the importing process is killed mid-file, the import is run again, nothing is lost or doubled.

A real `manage.py import_payments` runs in a subprocess against this test's database
(transaction=True, so it sees the committed customers and invoices); once it has
committed a chunk it gets SIGKILL, the way a worker dies when the machine is rebooted
or runs out of memory. PostgreSQL rolls back its open chunk. The second import must then
record exactly the entries the first did not commit, each once, with consistent ledgers.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from intake.importing import Outcome, import_statement
from intake.models import BankEntry
from intake.outcomes import CHUNK
from payments.models import Payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = 2 * CHUNK
INVOICES = {"Acme Trading GmbH": "ACME-000042", "Echo Media SARL": "ECHO-000120", "Golf Partners AG": "GOLF-000077"}


def statement(path: Path) -> bytes:
    lines = ["booking_date,amount,currency,bank_reference,counterparty,remittance,customer_ref,reversal"]
    payers = list(INVOICES.items())
    for n in range(ENTRIES):
        payer, number = payers[n % len(payers)]
        lines.append(f"2024-03-04,1.00,EUR,CRASH-{n:05d},{payer},Invoice {number} part {n},,")
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    return data


def committed() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payments_bankentry")
        return cursor.fetchone()[0]


def test_killed_mid_file_then_run_again_records_every_entry_exactly_once(world, tmp_path):
    data = statement(tmp_path / "crash.csv")
    env = {
        **os.environ,
        "SETTLE_DB_NAME": connection.settings_dict["NAME"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "import_payments", "--summary", str(tmp_path / "crash.csv")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while committed() == 0:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else "exited"
            assert time.monotonic() < deadline, "no chunk committed in 60 s"
            time.sleep(0.01)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    killed_after = committed()
    assert 0 < killed_after < ENTRIES, "the import was killed mid-file"
    # What was committed is whole: each bank entry with its payment, no payment without its bank entry.
    assert Payment.objects.count() == killed_after
    assert not Payment.objects.filter(bank_entries__isnull=True).exists()

    report = import_statement(data, source_name="crash.csv", by=None)

    assert report.stopped == "" and not report.file_errors
    assert report.count(Outcome.ALREADY_IMPORTED) == killed_after
    assert report.count(Outcome.RECORDED) == ENTRIES - killed_after
    assert BankEntry.objects.count() == Payment.objects.count() == ENTRIES
    assert set(Payment.objects.values_list("reference", flat=True)) == {f"CRASH-{n:05d}" for n in range(ENTRIES)}
    assert_invariants()
