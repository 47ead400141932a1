"""Peers' hard cases (issue 16): one payment over 1,000 invoices, by the service and through the page.

Odoo took 1,141 s to reconcile one payment over 713 invoices before a fix. Here a customer
gets 1,000 open invoices of 10.00 (made through the services, not timed) and one payment of
10,000.00; `allocate_many` splits it over all of them in one call (target under 2 s). A second
such customer's payment is allocated through the allocate page as a clerk does it: the page
(1,000 amount fields, prefilled by the rule) is opened, then posted; both requests are timed.
Invariants are checked on the touched rows by the caller's final check.
"""

from __future__ import annotations

import datetime
import re
import time
from decimal import Decimal

from django.test import Client
from django.urls import reverse
from django.utils import timezone

INVOICES = 1_000
AMOUNT = Decimal("10.00")
ALLOCATE_MANY_TARGET_SECONDS = 2.0


def _customer_with_open_invoices(label: str, n: int, *, by):
    from billing.models import Customer, Provider
    from invoices.services import create_invoice, issue_invoice
    from payments.services import record_payment

    provider = Provider.objects.order_by("id").first()
    assert provider is not None, "fill the database first"
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    customer = Customer.objects.create(name=f"Bench {label} {stamp}", email=f"{label}-{stamp}@bench.test")
    issued = timezone.localdate() - datetime.timedelta(days=60)
    invoices = [
        issue_invoice(
            create_invoice(
                customer=customer,
                provider=provider,
                currency="EUR",
                lines=[(f"Service {k + 1}", "1", AMOUNT)],
                issue_date=issued,
                due_date=issued + datetime.timedelta(days=30),
                by=by,
            ),
            by=by,
        )
        for k in range(n)
    ]
    payment = record_payment(customer=customer, amount=AMOUNT * n, currency="EUR", method="bank_transfer", by=by)
    return customer, invoices, payment


def measure(client: Client, *, by, invoices: int = INVOICES, log=print) -> dict:
    from allocations.services import allocate_many
    from payments.forms import split_field_name

    started = time.perf_counter()
    n = invoices
    _, made, payment = _customer_with_open_invoices("allocate-many", n, by=by)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    rows = allocate_many(payment, [(invoice, AMOUNT) for invoice in made], by=by)
    service_seconds = time.perf_counter() - started
    payment.refresh_from_db()
    found: dict = {
        "invoices": n,
        "setup_seconds": round(setup, 1),
        "allocate_many_seconds": round(service_seconds, 3),
        "allocate_many_rows": len(rows),
        "allocate_many_status": payment.allocation_status,
        "target_seconds": ALLOCATE_MANY_TARGET_SECONDS,
        "met": service_seconds < ALLOCATE_MANY_TARGET_SECONDS and len(rows) == n,
    }
    log(
        f"  allocate_many of one payment over {n:,} invoices: {service_seconds:.2f} s "
        f"(target < {ALLOCATE_MANY_TARGET_SECONDS:g} s), {len(rows)} rows, payment {payment.allocation_status}"
    )

    _, made, payment = _customer_with_open_invoices("allocate-page", n, by=by)
    url = reverse("payments:allocate", args=[payment.pk])
    started = time.perf_counter()
    page = client.get(url)
    get_seconds = time.perf_counter() - started
    # The page's one-time token, as the browser sends it back (the test client keeps no context here).
    token = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())
    data = {split_field_name(invoice.pk): str(AMOUNT) for invoice in made}
    data |= {"form_token": token.group(1) if token else "", "note": f"bench: one payment over {n:,} invoices"}
    started = time.perf_counter()
    posted = client.post(url, data)
    post_seconds = time.perf_counter() - started
    payment.refresh_from_db()
    found |= {
        "page_get_seconds": round(get_seconds, 3),
        "page_post_seconds": round(post_seconds, 3),
        "page_status": [page.status_code, posted.status_code],
        "page_payment_status": payment.allocation_status,
    }
    log(
        f"  the allocate page with {n:,} invoices: open {get_seconds:.2f} s (HTTP {page.status_code}), "
        f"post {post_seconds:.2f} s (HTTP {posted.status_code}), payment {payment.allocation_status}"
    )
    return found


def table(found: dict) -> str:
    verdict = "met" if found["met"] else "MISSED"
    return "\n".join(
        [
            f"one payment over {found['invoices']:,} invoices (the peers' hard case)",
            f"  allocate_many            {found['allocate_many_seconds']:>8.2f} s   target < "
            f"{found['target_seconds']:g} s   {verdict}  ({found['allocate_many_status']})",
            f"  allocate page: open      {found['page_get_seconds']:>8.2f} s",
            f"  allocate page: post      {found['page_post_seconds']:>8.2f} s   ({found['page_payment_status']})",
        ]
    )
