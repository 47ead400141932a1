"""The payment list: filters, the needs-work queue, sorts, pages, totals and CSV."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

import billing.listing
from payments.filters import AMOUNT_SORTS, PAYMENT_SORTS
from payments.models import Payment
from tests.support.dataset import days
from tests.support.helpers import csv_rows, row_ids

pytestmark = pytest.mark.django_db

ALL = {"ada_full", "ada_partial", "bob_usd", "bob_eur", "bob_over", "cy_canceled"}


def names(ledger, ids) -> set[str]:
    by_id = {payment.pk: name for name, payment in ledger.payments.items()}
    return {by_id[pk] for pk in ids}


def listed(client, query: str = "") -> list[int]:
    return row_ids(client.get(reverse("payments:list") + query))


def test_statuses_of_the_data_set(ledger):
    got = {name: (p.state, p.allocation_status) for name, p in ledger.payments.items()}
    assert got == {
        "ada_full": ("settled", "fully_allocated"),
        "ada_partial": ("settled", "partially_allocated"),
        "bob_usd": ("settled", "unallocated"),
        "bob_eur": ("settled", "fully_allocated"),
        "bob_over": ("charged_back", "overallocated"),
        "cy_canceled": ("canceled", "fully_allocated"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("?queue=needs_work", {"ada_partial", "bob_usd", "bob_over"}),
        ("?queue=needs_work&allocation_status=unallocated", {"bob_usd"}),
        ("?allocation_status=fully_allocated", {"ada_full", "bob_eur", "cy_canceled"}),
        ("?allocation_status=overallocated&allocation_status=unallocated", {"bob_over", "bob_usd"}),
        ("?state=canceled", {"cy_canceled"}),
        ("?state=charged_back", {"bob_over"}),
        ("?customer=lovelace", {"ada_full", "ada_partial"}),
        ("?customer=PAINT.TEST", {"cy_canceled"}),
        ("?method=card", {"bob_usd"}),
        ("?method=cash&customer=cy", {"cy_canceled"}),
        ("?reference=bank-", {"ada_full", "ada_partial", "bob_eur"}),  # prefix, any case
        ("?reference=BANK-ADA-2", {"ada_partial"}),
        ("?currency=USD", {"bob_usd"}),
        ("?amount_min=50&amount_max=80", {"ada_full", "ada_partial", "bob_eur"}),
        ("?amount_min=1000", {"cy_canceled"}),
        ("?queue=needs_work&customer=nobody", set()),
    ],
)
def test_filters_return_exactly_the_right_payments(as_support, ledger, query, expected):
    assert names(ledger, listed(as_support, query)) == expected


def test_received_date_range_is_whole_local_days(as_support, ledger):
    query = f"?received_from={days(-4).isoformat()}&received_to={days(-2).isoformat()}"
    assert names(ledger, listed(as_support, query)) == {"ada_partial", "bob_usd", "bob_eur"}
    edge = timezone.make_aware(datetime.datetime.combine(days(-7), datetime.time(23, 59, 59)))
    Payment.objects.filter(pk=ledger.payments["cy_canceled"].pk).update(received_at=edge)  # not a ledger row
    assert names(ledger, listed(as_support, f"?received_to={days(-7).isoformat()}")) == {"cy_canceled"}
    assert names(ledger, listed(as_support, f"?received_from={days(-6).isoformat()}")) == ALL - {"cy_canceled"}


def test_default_is_newest_first(as_support, ledger):
    expected = sorted(ledger.payments.values(), key=lambda p: (p.received_at, p.pk), reverse=True)
    assert listed(as_support) == [p.pk for p in expected]


@pytest.mark.parametrize("sort", sorted(PAYMENT_SORTS))
def test_sorts_and_keyset_pages(as_support, ledger, monkeypatch, sort):
    key = sort.lstrip("-")
    value = {
        "received": lambda p: p.received_at,
        "number": lambda p: p.pk,
        "customer": lambda p: p.customer.name,
        "amount": lambda p: p.amount,
        "unallocated": lambda p: p.unallocated,
    }[key]
    # Amount sorts list one currency (DESIGN.md section 5): the 4 EUR payments, in pages of 2.
    query, rows, size = ("&currency=EUR", {"currency": "EUR"}, 2) if key in AMOUNT_SORTS else ("", {}, 4)
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (size,))
    payments = list(Payment.objects.filter(**rows).select_related("customer"))
    expected = [p.pk for p in sorted(payments, key=lambda p: (value(p), p.pk), reverse=sort.startswith("-"))]
    first = as_support.get(reverse("payments:list") + f"?sort={sort}{query}&per_page={size}")
    second = as_support.get(first.context["page"].next_url)
    assert row_ids(first) + row_ids(second) == expected
    assert second.context["page"].next_url == ""
    assert row_ids(as_support.get(second.context["page"].previous_url)) == expected[:size]


def test_totals_per_currency(as_support, ledger):
    totals = as_support.get(reverse("payments:list") + "?queue=needs_work").context["totals"]
    assert totals.count == 3
    assert [(r["currency"], r["count"], r["amount"], r["unallocated"]) for r in totals.by_currency] == [
        ("EUR", 2, Decimal("120.00"), Decimal("15.00")),  # 30.00 left on one, 15.00 over on the other
        ("USD", 1, Decimal("40.00"), Decimal("40.00")),
    ]


def test_needs_work_page_is_titled_as_the_queue(as_support, ledger):
    body = as_support.get(reverse("payments:list") + "?queue=needs_work").content.decode()
    assert "<h1>Payments to allocate</h1>" in body
    assert 'class="badge overallocated"' in body and "-15.00 EUR" in body


@pytest.mark.parametrize("query", ["", "?queue=needs_work&sort=amount", "?customer=bob&sort=-unallocated"])
def test_csv_is_exactly_the_filtered_set(as_support, ledger, query):
    listed_ids = listed(as_support, query)
    rows = csv_rows(as_support.get(reverse("payments:export") + query))
    assert [int(row["id"]) for row in rows] == listed_ids
    for row in rows:
        payment = Payment.objects.get(pk=row["id"])
        assert (row["amount"], row["unallocated"]) == (str(payment.amount), str(payment.unallocated))
        assert row["allocation_status"] == payment.allocation_status
        assert datetime.datetime.fromisoformat(row["received_at"]) == payment.received_at


def test_empty_state(as_support, ledger):
    body = as_support.get(reverse("payments:list") + "?reference=nope").content.decode()
    assert "No payments match these filters." in body and "Clear filters" in body
