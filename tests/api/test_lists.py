"""Lists take the pages' filters, keyset cursors and page size, and return the selectors' totals."""

import pytest

from invoices import selectors as invoice_selectors
from payments import selectors as payment_selectors
from payments.services import record_payment
from tests.factories import make_invoice


@pytest.mark.django_db
def test_the_invoice_list_pages_by_cursor_with_the_page_filters_and_totals(support_api, customer, provider):
    invoices = [make_invoice(customer=customer, provider=provider, total=f"{10 + i}.00") for i in range(7)]
    invoices[0].refresh_from_db()
    seen = []
    page = support_api.get("/api/v1/invoices", {"payment_status": "unpaid", "per_page": 3}).json()
    assert page["totals"]["count"] == 7
    assert page["totals"]["by_currency"] == [
        {"currency": "EUR", "count": 7, "sums": {"total": "91.00", "balance_due": "91.00"}}
    ]
    while True:
        seen += [item["id"] for item in page["items"]]
        if not page["links"]["next"]:
            break
        assert "payment_status=unpaid" in page["links"]["next"]
        page = support_api.get(page["links"]["next"]).json()
    expected = list(invoice_selectors.invoice_list(filters={"payment_status": "unpaid"}).values_list("id", flat=True))
    assert seen == expected and len(seen) == 7
    # Back from the last page.
    back = support_api.get(page["links"]["previous"]).json()
    assert [item["id"] for item in back["items"]] == expected[3:6]


@pytest.mark.django_db
def test_filters_are_the_pages_and_a_bad_one_is_a_400(support_api, customer, provider):
    make_invoice(customer=customer, provider=provider, total="10.00")
    make_invoice(customer=customer, provider=provider, total="90.00")
    assert support_api.get("/api/v1/invoices", {"total_min": "50"}).json()["totals"]["count"] == 1
    bad = support_api.get("/api/v1/invoices", {"payment_status": "nonsense"})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidInput"
    needs_currency = support_api.get("/api/v1/invoices", {"sort": "-total"})
    assert needs_currency.status_code == 400 and "currency" in needs_currency.json()["message"]
    by_amount = support_api.get("/api/v1/invoices", {"sort": "-total", "currency": "EUR"}).json()
    assert [item["total"] for item in by_amount["items"]] == ["90.00", "10.00"]


@pytest.mark.django_db
def test_the_payment_list_is_the_work_queue(support_api, customer):
    record_payment(customer=customer, amount="25.00", currency="EUR", method="card", by=None)
    listed = support_api.get("/api/v1/payments", {"queue": "needs_work"}).json()
    totals = payment_selectors.payment_totals(filters={"queue": "needs_work"})
    assert listed["totals"]["count"] == totals.count == 1
    assert listed["items"][0]["unallocated"] == "25.00"


@pytest.mark.django_db
def test_customer_search(support_api, customer):
    found = support_api.get("/api/v1/customers", {"q": "lovelace"}).json()
    assert [c["id"] for c in found] == [customer.pk]
