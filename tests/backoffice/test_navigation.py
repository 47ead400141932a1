"""The main navigation marks the page's own item, and only that one, with aria-current="page"."""

import re

import pytest

pytestmark = pytest.mark.django_db

CURRENT = re.compile(r'<a href="([^"]*)"[^>]*aria-current="page"[^>]*>([^<]+)')


def current_items(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    nav = response.content.decode().split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    return [label.strip() for _, label in CURRENT.findall(nav)]


@pytest.mark.parametrize(
    ("url", "item"),
    [
        ("/", "Dashboard"),
        ("/invoices/", "Invoices"),
        ("/invoices/?state=void", "Invoices"),
        ("/invoices/?payment_status=unpaid&payment_status=partially_paid&overdue=1", "Overdue"),
        ("/invoices/?overdue=on", "Overdue"),  # the filter form's own checkbox
        ("/collections/", "Collections"),
        ("/payments/", "Payments"),
        ("/payments/?queue=needs_work", "To allocate"),
        ("/reconciliation/", "Reconciliation"),
    ],
)
def test_the_current_item_is_marked(as_support, url, item):
    assert current_items(as_support.get(url)) == [item]


def test_an_invoice_page_belongs_to_invoices(as_support, ledger):
    invoice = ledger.invoices["ada_overdue_30"]
    assert current_items(as_support.get(f"/invoices/{invoice.pk}/")) == ["Invoices"]
