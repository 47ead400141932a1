"""Orders on the other pages: the invoice page, the allocation form, the customer page, the search."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from allocations.models import Allocation
from orders.services import create_order, invoice_order
from tests.factories import make_invoice, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    finance,
    finance_user,
    form_token,
    support,
    support_user,
    text,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def two_orders(customer, provider, finance_user):
    """Order A billed twice (items, then a fee), order B once, and an invoice of no order."""
    a = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Chair", 2, "25.00")], by=None)
    b = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Desk", 1, "70.00")], by=None)
    first = invoice_order(a, quantities={a.lines.get(): 1}, by=finance_user)
    plain = make_invoice(customer=customer, provider=provider, total="10.00")
    second = invoice_order(a, by=finance_user)
    desk = invoice_order(b, by=finance_user)
    return a, b, [first, second], desk, plain


def test_invoice_page_links_its_order_and_order_lines(support, two_orders):
    a, _, (first, _), _, plain = two_orders
    page = text(support.get(first.get_absolute_url()))
    assert f'<a href="/orders/{a.pk}/" class="mono" id="invoice-order">{a.number}</a>' in page
    assert "order line 1" in page and "<th>Order line</th>" in page
    plain_page = text(support.get(plain.get_absolute_url()))
    assert 'id="invoice-order"' not in plain_page and "<th>Order line</th>" not in plain_page


def groups_of(page: str) -> list[tuple[str, list[str]]]:
    """(group heading, invoice numbers) of the split form, in page order."""
    found = []
    for body in re.findall(r'<tbody class="invoice-group"[^>]*>(.*?)</tbody>', page, re.S):
        head = re.search(r'<th scope="rowgroup"[^>]*>(.*?)</th>', body, re.S)
        title = re.sub(r"<[^>]+>", "", head.group(1)).strip() if head else ""
        numbers = re.findall(r'<td><a href="/invoices/\d+/">([^<]+)</a></td>', body)
        found.append((title, numbers))
    return found


def test_allocation_form_groups_open_invoices_by_order(finance, customer, two_orders):
    a, b, (first, second), desk, plain = two_orders
    payment = make_payment(customer=customer, amount="500.00")
    page = text(finance.get(reverse("payments:allocate", args=[payment.pk])))
    groups = groups_of(page)
    assert sorted(groups) == sorted(
        [
            (f"Order {a.number}", [first.number, second.number]),
            (f"Order {b.number}", [desk.number]),
            ("Invoices not from an order", [plain.number]),
        ]
    )
    # Grouping changes nothing of what is posted: one amount per invoice, all at once.
    token = form_token(page)
    data = {"form_token": token, f"amount_{second.pk}": "25.00", f"amount_{plain.pk}": "10.00"}
    finance.post(reverse("payments:allocate", args=[payment.pk]), data)
    assert sorted(Allocation.objects.values_list("invoice_id", "amount")) == sorted(
        [(second.pk, D("25.00")), (plain.pk, D("10.00"))]
    )


def test_allocation_form_without_orders_is_not_grouped(finance, customer, provider):
    make_invoice(customer=customer, provider=provider, total="10.00")
    payment = make_payment(customer=customer, amount="10.00")
    page = text(finance.get(reverse("payments:allocate", args=[payment.pk])))
    assert "invoice-group" not in page and "Invoices not from an order" not in page
    assert f'hx-post="/payments/{payment.pk}/allocate/remaining/"' in page


def test_customer_page_lists_the_customers_orders(support, customer, two_orders):
    a, b, *_ = two_orders
    page = text(support.get(reverse("customer", args=[customer.pk])))
    assert f'href="/orders/{a.pk}/"' in page and f'href="/orders/{b.pk}/"' in page
    assert "All orders" in page and "/orders/new/" not in page  # support does not place orders


def test_new_order_from_the_customer_page_preselects_the_customer(finance, customer):
    page = text(finance.get(reverse("customer", args=[customer.pk])))
    assert f'href="/orders/new/?customer={customer.pk}"' in page
    form = text(finance.get(f"/orders/new/?customer={customer.pk}"))
    assert f'<option value="{customer.pk}" selected>' in form


def test_global_search_finds_an_order_by_number(support, two_orders):
    a, *_ = two_orders
    page = text(support.get(reverse("search") + "?q=" + a.number.lower()))
    assert f'href="/orders/{a.pk}/"' in page
    prefix = text(support.get(reverse("search") + "?q=O-ACME"))
    assert a.number in prefix
