"""The customer's whole position (issue 11): customer page, global search, a statement, dunning.

Measured on the filled data set, through the real code a clerk or the nightly job runs:

* customer page: `/customers/<id>/` through the view with the test client as a superuser,
  for a typical customer (the median number of journal entries) and the customer with the
  most entries; cache cleared before each timed request as for the lists, so every request
  pays for its whole position (accounts, aging, history page, notes, documents).
* search: `/search/?q=` as the htmx dropdown (`HX-Request: true`, 5 per kind) and as the
  results page (50 per kind), for one query per branch of backoffice.search: an invoice
  number prefix, a payment reference prefix, a customer name fragment (a word every
  customer's name has, the worst case of LIMIT over the GIN index), an email, a phone
  fragment, and a query that matches nothing (the case the planner used to get wrong).
* statement: `issue_statement` for a customer with ~1,000 journal entries in the period
  (median of 5; each call stores a Document, as in production) and its HTML size. The
  busiest customer is used when it has that many; else one is made through the services
  (invoices issued, payments recorded and auto-allocated), so the journal, the cached
  figures and the invariants stay those of the write path.
* dunning: the selection `due_reminders(today)` (one statement over all accounts), then
  the run itself with email to Django's locmem backend: letters per second, capped by a
  time budget (run_dunning's own loop, run here so it can stop), the time extrapolated to
  every due account, and a second run the same day, which must issue nothing.
"""

from __future__ import annotations

import datetime
import os
import time
from decimal import Decimal

from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from bench.lists import logged_in_client
from bench.stats import summary_ms
from ledger.queue_totals import fold_queue_totals

STATEMENT_ENTRIES = 1_000
STATEMENT_REPEATS = 5
DUNNING_SECONDS = 60.0
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

# The busiest customer, and the one at the median number of entries ("typical"): one query.
_CUSTOMERS_BY_ENTRIES = """
    WITH counted AS (SELECT customer_id, count(*) AS n FROM ledger_entry GROUP BY customer_id)
    (SELECT customer_id, n FROM counted ORDER BY n DESC, customer_id LIMIT 1)
    UNION ALL
    (SELECT customer_id, n FROM counted ORDER BY n, customer_id
     OFFSET (SELECT count(*) / 2 FROM counted) LIMIT 1)
"""


def bench_user():
    """The bench's superuser (the lists section makes it; --only customer makes it here)."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    return model.objects.filter(username="bench").first() or model.objects.create_superuser(
        "bench", "bench@settle.test", "bench"
    )


def time_requests(
    client: Client, requests: dict[str, tuple[str, dict]], *, repeats: int, warmup: int = 2
) -> dict[str, dict]:
    """Each (url, headers) `repeats` times round-robin, cache cleared before every timed
    request, as bench.lists.measure does; with the queries of one request and its size."""
    queries, sizes = {}, {}
    for label, (url, headers) in requests.items():
        for _ in range(warmup):
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers)
        queries[label] = len(captured.captured_queries)
        sizes[label] = len(response.content)
    samples: dict[str, list[float]] = {label: [] for label in requests}
    for _ in range(repeats):
        for label, (url, headers) in requests.items():
            cache.clear()
            started = time.perf_counter()
            client.get(url, headers=headers)
            samples[label].append(time.perf_counter() - started)
    return {
        label: {"url": url, "queries": queries[label], "bytes": sizes[label], **summary_ms(samples[label])}
        for label, (url, _headers) in requests.items()
    }


def chosen_customers() -> dict[str, dict]:
    with connection.cursor() as cursor:
        cursor.execute(_CUSTOMERS_BY_ENTRIES)
        (busiest, most), (typical, median) = cursor.fetchall()
    return {
        "typical": {"customer_id": typical, "entries": median},
        "busiest": {"customer_id": busiest, "entries": most},
    }


def customer_pages(client: Client, *, repeats: int, log=print) -> dict:
    """The customer page of a typical and of the busiest customer (by journal entries)."""
    chosen = chosen_customers()
    requests: dict[str, tuple[str, dict]] = {
        label: (reverse("customer", args=[c["customer_id"]]), {}) for label, c in chosen.items()
    }
    timed = time_requests(client, requests, repeats=repeats)
    for label, row in timed.items():
        row.update(chosen[label])
        log(
            f"  customer page {label:<8} ({row['entries']:>5} entries) p50 {row['median_ms']:8.2f} ms  "
            f"p95 {row['p95_ms']:8.2f} ms  {row['queries']} queries"
        )
    return timed


def _give_phones() -> int:
    """The fill leaves phones empty: give one customer in 500 a number (and, at a tiny scale
    with fewer than 500 customers, the first one), so the phone branch finds something (a
    customer's phone is not in any invariant)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_customer SET phone = '+31 20 555 ' || lpad(id::text, 6, '0') "
            "WHERE (mod(id, 500) = 0 OR id = (SELECT min(id) FROM billing_customer)) AND phone = ''"
        )
        return cursor.rowcount


def search_queries() -> dict[str, str]:
    """One query per branch of backoffice.search, taken from the data set."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM invoices_invoice WHERE number IS NOT NULL ORDER BY id LIMIT 1")
        number = cursor.fetchone()[0]
        cursor.execute("SELECT reference FROM payments_payment WHERE reference IS NOT NULL ORDER BY id LIMIT 1")
        reference = cursor.fetchone()[0]
        cursor.execute("SELECT email, phone FROM billing_customer WHERE phone <> '' ORDER BY id LIMIT 1")
        email, phone = cursor.fetchone()
    return {
        "invoice number prefix": number[:-3],
        "payment reference": reference[:-2].lower(),
        "customer name fragment": "custom",
        "email": email,
        "phone fragment": phone[-9:],
        "nothing matches": "zqxjv wkly",
    }


def search(client: Client, *, repeats: int, log=print) -> dict:
    """The global search, as the htmx dropdown and as the results page, per query."""
    from urllib.parse import urlencode

    phones = _give_phones()
    queries = search_queries()
    path = reverse("search")
    requests: dict[str, tuple[str, dict]] = {}
    for label, text in queries.items():
        url = f"{path}?{urlencode({'q': text})}"
        requests[f"{label} | dropdown"] = (url, {"HX-Request": "true"})
        requests[f"{label} | page"] = (url, {})
    timed = time_requests(client, requests, repeats=repeats)
    from backoffice.search import PAGE_LIMIT, global_search

    found = {}
    for kind, text in queries.items():  # what the results page lists: each branch must find its kind
        results = global_search(text, limit=PAGE_LIMIT)
        found[kind] = {
            "customers": len(results.customers),
            "invoices": len(results.invoices),
            "payments": len(results.payments),
        }
    rows = []
    for label, row in timed.items():
        kind, view = label.split(" | ")
        rows.append({"query_kind": kind, "q": queries[kind], "view": view, "found_on_page": found[kind], **row})
        log(
            f"  search {kind:<24} {view:<8} p50 {row['median_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
            f"{row['queries']} queries, {row['bytes']:,} bytes, page lists {found[kind]}"
        )
    return {"customers_given_phones": phones, "rows": rows}


def _period_with(customer_id: int, entries: int) -> datetime.date:
    """The start of the period holding the customer's newest `entries` journal entries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT effective_date FROM ledger_entry WHERE customer_id = %s ORDER BY effective_date DESC, id DESC "
            "OFFSET %s LIMIT 1",
            [customer_id, entries - 1],
        )
        row = cursor.fetchone()
    return row[0] if row else datetime.date(2000, 1, 1)


def make_statement_customer(pairs: int, *, by, log=print):
    """A new customer with `pairs` invoices issued and `pairs` payments, each recorded and
    auto-allocated, dated over the last year: 2 x `pairs` journal entries, all written by the
    services (so every cached figure and invariant is the write path's own)."""
    from allocations.services import auto_allocate
    from billing.models import Customer, Provider
    from invoices.services import create_invoice, issue_invoice
    from payments.services import record_payment

    customer = Customer.objects.create(name="Bench Statement Customer", email="statement@bench.example")
    provider = Provider.objects.order_by("pk").first()
    assert provider is not None
    today = timezone.localdate()
    started = time.perf_counter()
    for n in range(pairs):
        issued = today - datetime.timedelta(days=360 - (360 * n) // pairs)
        amount = Decimal(100 + (n * 37) % 900) + Decimal("0.50")
        draft = create_invoice(
            customer=customer,
            provider=provider,
            currency="EUR",
            lines=[(f"Bench service {n}", 1, amount)],
            due_date=issued + datetime.timedelta(days=30),
            issue_date=issued,
            by=by,
        )
        issue_invoice(draft, by=by)
        # Most payments settle their invoice; every 4th pays 60%, leaving part of it open.
        paid = amount if n % 4 else (amount * Decimal("0.6")).quantize(Decimal("0.01"))
        received = timezone.make_aware(
            datetime.datetime.combine(issued + datetime.timedelta(days=20), datetime.time(12))
        )
        payment = record_payment(
            customer=customer,
            amount=paid,
            currency="EUR",
            method="bank_transfer",
            reference=f"BENCH-STMT-{n:05d}",
            received_at=received,
            by=by,
        )
        auto_allocate(payment, by=by)
    log(
        f"  made customer {customer.pk} with {2 * pairs} entries through the services in {time.perf_counter() - started:.1f} s"
    )
    return customer


def statement(*, by, log=print) -> dict:
    """issue_statement over a period holding ~1,000 entries of one customer: median of 5."""
    from billing.models import Customer
    from documents.services import issue_statement

    chosen = chosen_customers()["busiest"]
    made = chosen["entries"] < STATEMENT_ENTRIES
    if made:
        customer = make_statement_customer(STATEMENT_ENTRIES // 2, by=by, log=log)
    else:
        customer = Customer.objects.get(pk=chosen["customer_id"])
    period_start = _period_with(customer.pk, STATEMENT_ENTRIES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ledger_entry WHERE customer_id = %s AND effective_date >= %s",
            [customer.pk, period_start],
        )
        in_period = cursor.fetchone()[0]
    seconds, document = [], None
    for _ in range(STATEMENT_REPEATS):
        started = time.perf_counter()
        document = issue_statement(customer, period_start=period_start, by=by)
        seconds.append(time.perf_counter() - started)
    assert document is not None
    result = {
        "customer_id": customer.pk,
        "made_through_services": made,
        "period_start": period_start.isoformat(),
        "entries_in_period": in_period,
        "html_bytes": len(document.html.encode()),
        "repeats": STATEMENT_REPEATS,
        **summary_ms(seconds),
    }
    log(
        f"  statement of customer {customer.pk} ({in_period} entries since {period_start}): "
        f"median {result['median_ms']:.0f} ms, HTML {result['html_bytes']:,} bytes"
    )
    return result


def _capped_dunning(due, *, as_of: datetime.date, budget: float, by) -> tuple[set[int], int, float]:
    """run_dunning's own loop (documents.services) over `due`, chunk by chunk under its lock,
    stopping once `budget` seconds have passed: (accounts that got a letter, letters emailed, seconds)."""
    from documents.reminder_letters import issue_due_letters
    from documents.services import DUNNING_CHUNK, DUNNING_LOCK

    lettered: set[int] = set()
    emailed = 0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DUNNING_LOCK])
    try:
        for start in range(0, len(due), DUNNING_CHUNK):
            if time.perf_counter() - started > budget:
                break
            documents = issue_due_letters(due[start : start + DUNNING_CHUNK], as_of=as_of, by=by)
            lettered.update(document.account_id for document in documents if document.account_id is not None)
            emailed += sum(1 for document in documents if document.customer.email.strip())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DUNNING_LOCK])
    return lettered, emailed, time.perf_counter() - started


def dunning(*, by, budget: float = DUNNING_SECONDS, log=print) -> dict:
    """The nightly dunning over every account: selection, letters/s (capped), second run."""
    from billing.models import Account
    from documents.reminders import due_reminders
    from documents.services import run_dunning

    today = timezone.localdate()
    started = time.perf_counter()
    due = due_reminders(today)
    selection_ms = (time.perf_counter() - started) * 1000
    result: dict = {
        "accounts": Account.objects.count(),
        "due": len(due),
        "due_by_level": {
            str(level): sum(1 for row in due if row.level == level) for level in sorted({r.level for r in due})
        },
        "selection_ms": round(selection_ms, 1),
        "budget_seconds": budget,
    }
    log(f"  due_reminders: {len(due):,} of {result['accounts']:,} accounts due, in {selection_ms:.0f} ms")
    with override_settings(MAILERS=LOCMEM):
        mail.outbox = []
        lettered, emailed, seconds = _capped_dunning(due, as_of=today, budget=budget, by=by)
        letters = len(lettered)
        rate = letters / seconds if seconds else 0.0
        complete = letters == len(due)
        result["first_run"] = {
            "letters": letters,
            "emailed": emailed,
            "outbox": len(mail.outbox),
            "seconds": round(seconds, 2),
            "letters_per_s": round(rate, 1),
            "complete": complete,
            "extrapolated_seconds_all_due": round(len(due) / rate, 1) if rate else None,
        }
        mail.outbox = []
        log(
            f"  first run: {letters:,} letters ({emailed:,} emailed) in {seconds:.1f} s = {rate:.1f} letters/s"
            f"{'' if complete else ' (stopped at the budget)'}; all {len(due):,} due: "
            f"~{result['first_run']['extrapolated_seconds_all_due']} s"
        )
        if complete:
            # The real nightly entry point, the same day: it must find every letter sent.
            started = time.perf_counter()
            again = run_dunning(as_of=today, by=by)
            result["second_run"] = {
                "how": "run_dunning",
                "letters": len(again),
                "outbox": len(mail.outbox),
                "seconds": round(time.perf_counter() - started, 2),
            }
        else:
            # run_dunning would go on with the accounts the budget left; the selection must
            # not offer again any account that just got its letter.
            done = lettered
            started = time.perf_counter()
            again_due = due_reminders(today)
            result["second_run"] = {
                "how": "due_reminders (first run capped)",
                "letters": sum(1 for row in again_due if row.account_id in done),
                "outbox": 0,
                "seconds": round(time.perf_counter() - started, 2),
                "still_due_not_reached": len(again_due),
            }
        mail.outbox = []
    second = result["second_run"]
    log(f"  second run the same day ({second['how']}): {second['letters']} letters in {second['seconds']} s")
    return result


def measure(scale: float, *, repeats: int = 30, dunning_seconds: float = DUNNING_SECONDS, log=print) -> dict:
    """Every figure of the section; the invariants are checked again afterwards."""
    from bench import checks

    user = bench_user()
    client = logged_in_client(user)
    result: dict = {"scale": scale, "repeats": repeats}
    # The sections before this one (throughput, the 100k-credit import) leave hundreds of
    # thousands of queue-total deltas, which the navigation's counts read on every page; in
    # production the worker folds them every 5 minutes (backoffice.tasks), so do that here first.
    started = time.perf_counter()
    kept = fold_queue_totals()
    result["compacted"] = {"rows": kept, "seconds": round(time.perf_counter() - started, 2)}
    log(f"Queue totals compacted as the worker does every 5 minutes: {kept} in {result['compacted']['seconds']} s")
    log(f"Customer pages x {repeats} ...")
    result["pages"] = customer_pages(client, repeats=repeats, log=log)
    log(f"Search x {repeats} ...")
    result["search"] = search(client, repeats=repeats, log=log)
    log("Statement ...")
    result["statement"] = statement(by=user, log=log)
    log(f"Dunning (budget {dunning_seconds:.0f} s) ...")
    result["dunning"] = dunning(by=user, budget=dunning_seconds, log=log)
    violations, seconds = checks.invariant_violations()
    result["invariants_after"] = {"violations": violations, "seconds": round(seconds, 2)}
    log(f"  invariants after: {sum(violations.values())} violations")
    return result


def failed(result: dict) -> bool:
    """A broken invariant, or a second dunning run that issued letters, fails the bench."""
    return bool(sum(result["invariants_after"]["violations"].values()) or result["dunning"]["second_run"]["letters"])


def table(result: dict, machine: dict) -> str:
    lines = [
        f"customer page, search, statement, dunning (scale {result['scale']}, {result['repeats']} requests each; "
        f"{machine['cpu_count']} CPUs, load average {os.getloadavg()[0]:.2f} now)",
        f"{'request':<44}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'bytes':>10}",
    ]
    for label, row in result["pages"].items():
        name = f"customer page, {label} ({row['entries']} entries)"
        lines.append(f"{name:<44}{row['median_ms']:>9}{row['p95_ms']:>9}{row['queries']:>9}{row['bytes']:>10}")
    for row in result["search"]["rows"]:
        name = f"search {row['view']}: {row['query_kind']}"
        lines.append(f"{name:<44}{row['median_ms']:>9}{row['p95_ms']:>9}{row['queries']:>9}{row['bytes']:>10}")
    s = result["statement"]
    lines.append(
        f"statement, {s['entries_in_period']} entries (customer {s['customer_id']}, "
        f"{'made through the services' if s['made_through_services'] else 'from the fill'}): "
        f"median {s['median_ms']} ms, max {s['max_ms']} ms of {s['repeats']}, HTML {s['html_bytes']:,} bytes"
    )
    d = result["dunning"]
    first, second = d["first_run"], d["second_run"]
    lines.append(
        f"dunning selection: {d['due']:,} of {d['accounts']:,} accounts due {d['due_by_level']}, {d['selection_ms']} ms"
    )
    lines.append(
        f"dunning first run: {first['letters']:,} letters ({first['emailed']:,} emailed, locmem) in {first['seconds']} s "
        f"= {first['letters_per_s']} letters/s{'' if first['complete'] else ' (capped)'}; "
        f"all due: ~{first['extrapolated_seconds_all_due']} s"
    )
    lines.append(f"dunning second run ({second['how']}): {second['letters']} letters in {second['seconds']} s")
    lines.append(f"invariants after: {sum(result['invariants_after']['violations'].values())} violations")
    return "\n".join(lines)
