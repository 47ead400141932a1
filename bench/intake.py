"""Bank intake throughput: a generated camt.053 imported by `manage.py import_payments`.

The statement is made from the filled data set: N credits over M customers that have
open invoices; each remittance names one or two of its customer's open invoices (the
amount is their balance due, or part of it), about 1 in 50 credits names nothing we know
(an unidentified credit), about 1 in 20 carries the customer reference instead of
invoice numbers, and about 1 in 200 is followed by the reversal of an earlier credit of
the file. The file is written to var/bench/ and imported twice, each time in a fresh
process so that the figure includes parsing and its peak RSS is the importer's own:

* import: every credit recorded, identified and auto-allocated (or held for a clerk);
* re-import: the same file again, every entry found already imported.

The importer streams the file (intake.reading): its peak RSS does not grow with the
number of entries.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from django.db import connection

from bench.peak import run_measured

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "var" / "bench"
FULL_CREDITS = 100_000
FULL_CUSTOMERS = 20_000
IMPORT_TARGET = 1_000  # entries per second (issue 10)
REIMPORT_TARGET = 5_000

# Customers with open invoices, the ones with most of them first (so every credit can name
# invoices of its own), each with its open invoices oldest first.
_OPEN_INVOICES = """
    WITH chosen AS (
        SELECT customer_id FROM invoices_invoice
        WHERE state = 'open' AND balance_due > 0 AND number IS NOT NULL
        GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT %s)
    SELECT i.customer_id, c.reference, i.number, i.currency, i.balance_due
    FROM invoices_invoice i JOIN chosen USING (customer_id) JOIN billing_customer c ON c.id = i.customer_id
    WHERE i.state = 'open' AND i.balance_due > 0 AND i.number IS NOT NULL
    ORDER BY i.customer_id, i.due_date, i.id
"""


@dataclass(frozen=True)
class Credit:
    reference: str
    amount: Decimal
    currency: str
    payer: str
    customer_reference: str
    remittance: str
    reversal: bool = False


def plan_credits(credits: int, customers: int, prefix: str = "BENCH") -> list[Credit]:
    """The statement's entries, from the open invoices of `customers` customers (deterministic);
    their bank references start with `prefix` (the nightly window imports a statement of its own)."""
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_INVOICES, [customers])
        rows = cursor.fetchall()
    by_customer: dict[int, list[tuple[str, str, str, Decimal]]] = {}
    for customer_id, reference, number, currency, balance in rows:
        by_customer.setdefault(customer_id, []).append((reference, number, currency, balance))
    owners = list(by_customer)
    if not owners:
        raise SystemExit("No open invoices to pay: fill the database first.")
    turn = dict.fromkeys(owners, 0)
    planned: list[Credit] = []
    for n in range(credits):
        reference = f"{prefix}{n:09d}"
        if n % 200 == 199 and len(planned) > 100:
            sent_back = planned[n - 100]  # a credit of a hundred entries earlier (in an earlier chunk)
            if not sent_back.reversal:
                planned.append(
                    Credit(
                        reference, sent_back.amount, sent_back.currency, sent_back.payer, "", sent_back.remittance, True
                    )
                )
                continue
        customer = owners[n % len(owners)]
        invoices = by_customer[customer]
        customer_reference, first, currency, balance = invoices[turn[customer] % len(invoices)]
        turn[customer] += 1
        payer = f"Customer {customer} Ltd"
        if n % 50 == 17:
            planned.append(Credit(reference, Decimal("12.34"), "EUR", f"Stranger {n}", "", f"Donation {n}"))
            continue
        numbers, amount = [first], balance
        second = invoices[turn[customer] % len(invoices)]
        if n % 3 == 0 and second[1] != first and second[2] == currency:
            numbers.append(second[1])
            amount += second[3]
            turn[customer] += 1
        if n % 7 == 0 and amount > 1:
            amount = (amount / 2).quantize(Decimal("0.01"))  # a part payment
        if n % 20 == 5:
            planned.append(Credit(reference, amount, currency, payer, customer_reference, f"Payment {n}, thank you"))
        else:
            text = f"Payment {n} of invoice " + " ".join(numbers)  # its own text: not a twin of another
            planned.append(Credit(reference, amount, currency, payer, "", text))
    return planned


def _entry_xml(credit: Credit) -> str:
    indicator = "DBIT" if credit.reversal else "CRDT"
    reversal = "<RvslInd>true</RvslInd>" if credit.reversal else ""
    structured = (
        f"<Strd><CdtrRefInf><Ref>{escape(credit.customer_reference)}</Ref></CdtrRefInf></Strd>"
        if credit.customer_reference
        else ""
    )
    return (
        f'<Ntry><Amt Ccy="{credit.currency}">{credit.amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{reversal}'
        "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt>"
        f"<AcctSvcrRef>{credit.reference}</AcctSvcrRef><NtryDtls><TxDtls>"
        f"<Refs><EndToEndId>E2E-{credit.reference}</EndToEndId></Refs>"
        f"<RltdPties><Dbtr><Nm>{escape(credit.payer)}</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>{escape(credit.remittance)}</Ustrd>{structured}</RmtInf>"
        "</TxDtls></NtryDtls></Ntry>\n"
    )


def camt053_lines(credits: list[Credit], prefix: str = "BENCH") -> Iterator[str]:
    """A camt.053.001.02 document with one statement holding every credit."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>\n'
    yield f"<GrpHdr><MsgId>{prefix}-1</MsgId><CreDtTm>2026-03-03T06:00:00</CreDtTm></GrpHdr>\n"
    yield f"<Stmt><Id>{prefix}-1-EUR</Id><CreDtTm>2026-03-03T06:00:00</CreDtTm>"
    yield "<Acct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></Acct>\n"
    for credit in credits:
        yield _entry_xml(credit)
    yield "</Stmt></BkToCstmrStmt></Document>\n"


def write_statement(
    credits: int, customers: int, directory: Path = OUTPUT_DIR, prefix: str = "BENCH"
) -> tuple[Path, int]:
    """Write the generated statement; returns its path and number of entries."""
    planned = plan_credits(credits, customers, prefix)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"camt053_{prefix.lower()}_{credits}_{customers}.xml"
    with path.open("w", encoding="utf-8") as file:
        file.writelines(camt053_lines(planned, prefix))
    return path, len(planned)


def run_import(path: Path, *, db: str) -> dict:
    """`manage.py import_payments --summary` in a fresh process: wall seconds, its own peak RSS, exit code."""
    env = {**os.environ, "SETTLE_DB_NAME": db, "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings"}
    run = run_measured([sys.executable, str(ROOT / "manage.py"), "import_payments", "--summary", str(path)], env=env)
    return {
        "seconds": round(run.seconds, 2),
        "exit_code": run.exit_code,
        "summary": (run.output.splitlines()[-1][:500] if run.output else run.errors[-500:]),
        # The largest process of the import: the parent reading the file, or a stream (intake.streams).
        "peak_rss_mib": run.peak_rss_mib,
    }


def measure(scale: float, *, db: str, log=print) -> dict:
    """Generate the statement at `scale` (1.0: 100,000 credits over 20,000 customers), import it twice."""
    credits = max(200, round(FULL_CREDITS * scale))
    customers = max(20, round(FULL_CUSTOMERS * scale))
    started = time.perf_counter()
    path, entries = write_statement(credits, customers)
    result: dict = {
        "credits": credits,
        "customers": customers,
        "entries": entries,
        "file": str(path),
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "generate_seconds": round(time.perf_counter() - started, 2),
    }
    log(f"  statement {path.name}: {entries} entries, {result['file_mib']} MiB")
    connection.close()  # the importer gets the server to itself
    for label, target in (("import", IMPORT_TARGET), ("reimport", REIMPORT_TARGET)):
        run = run_import(path, db=db)
        run["entries_per_s"] = round(entries / run["seconds"], 1) if run["seconds"] else None
        run["target_entries_per_s"] = target
        run["load_average"] = [round(x, 2) for x in os.getloadavg()]
        result[label] = run
        log(
            f"  {label:<9} {run['entries_per_s']:>8} entries/s ({run['seconds']} s, target {target}), "
            f"peak RSS {run['peak_rss_mib']} MiB, exit {run['exit_code']}: {run['summary']}"
        )
    return result


def failed(result: dict) -> bool:
    """An import that stopped or could not read the file makes the bench fail (exit code 2)."""
    return any(result[label]["exit_code"] not in (0, 1) for label in ("import", "reimport"))


def verdicts(result: dict) -> list[dict]:
    found = []
    for label, name in (("import", "import + auto-allocation"), ("reimport", "re-import of the same file")):
        run = result[label]
        found.append(
            {
                "target": f"{name}, entries/s",
                "value": run["entries_per_s"],
                "goal": f">= {run['target_entries_per_s']}/s",
                "met": bool(run["entries_per_s"] and run["entries_per_s"] >= run["target_entries_per_s"]),
            }
        )
    return found


def table(result: dict, machine: dict) -> str:
    lines = [
        f"bank statement import (camt.053, {result['entries']:,} entries over {result['customers']:,} customers, "
        f"{result['file_mib']} MiB; {machine['cpu_count']} CPUs, load average {os.getloadavg()[0]:.2f} now)",
        f"{'run (manage.py import_payments)':<36}{'entries/s':>10}{'seconds':>9}{'peak RSS':>10}{'exit':>6}",
    ]
    for label in ("import", "reimport"):
        run = result[label]
        lines.append(
            f"{label:<36}{run['entries_per_s']:>10}{run['seconds']:>9}{run['peak_rss_mib'] or '?':>7} MiB{run['exit_code']:>6}"
        )
        lines.append(f"  {run['summary']}")
    return "\n".join(lines)
