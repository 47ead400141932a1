"""The order pages: the list (filters, totals, CSV, empty state, query count), the order page,
every action's success and error path, the new-order page, and who may do what."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from allocations.services import allocate
from invoices.models import CreditNote, Invoice, InvoiceLine
from invoices.services import issue_credit_note
from orders.models import Order, OrderLine
from orders.services import cancel_order_lines, create_order, invoice_order, record_delivery
from tests.factories import CustomerFactory, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    admin,
    client_for,
    finance,
    finance_user,
    form_token,
    make_user,
    superuser,
    support,
    support_user,
    text,
)
from tests.support.helpers import csv_rows, row_ids

pytestmark = pytest.mark.django_db
D = Decimal


@dataclass
class Books:
    orders: dict[str, Order]
    ada: object
    bob: object


@pytest.fixture
def books(customer, provider, other_provider, finance_user) -> Books:
    """An order in every billing and payment status, two providers, two currencies."""
    bob = CustomerFactory(name="Bob Builder", email="bob@builder.test")
    by = finance_user

    def order(who, where, lines, currency="EUR", invoicing="ordered"):
        return create_order(customer=who, provider=where, currency=currency, lines=lines, invoicing=invoicing, by=by)

    fresh = order(customer, provider, [("Chair", 2, "25.00")])  # not invoiced, unpaid
    partial = order(customer, provider, [("Widget", 10, "10.00")], invoicing="delivered")
    record_delivery(partial, quantities={partial.lines.get(): 8}, by=by)
    invoice_order(partial, by=by)  # partially invoiced (8 of 10), unpaid: 80.00
    paid = order(bob, other_provider, [("Table", 1, "200.00")], currency="USD")
    allocate(make_payment(customer=bob, amount="200.00", currency="USD"), invoice_order(paid, by=by), "200.00", by=by)
    part_paid = order(bob, provider, [("Lamp", 1, "100.00")])
    allocate(make_payment(customer=bob, amount="40.00"), invoice_order(part_paid, by=by), "40.00", by=by)
    overpaid = order(customer, other_provider, [("Rug", 1, "50.00")])
    rug = invoice_order(overpaid, by=by)
    allocate(make_payment(customer=customer, amount="50.00"), rug, "50.00", by=by)
    issue_credit_note(rug, amount="10.00", by=by, reason="scratched")
    canceled = order(bob, provider, [("Vase", 1, "5.00")])
    cancel_order_lines(canceled, quantities={canceled.lines.get(): 1}, by=by, reason="out of stock")
    orders = {
        "fresh": fresh,
        "partial": partial,
        "paid": paid,
        "part_paid": part_paid,
        "overpaid": overpaid,
        "canceled": canceled,
    }
    return Books({name: Order.objects.get(pk=o.pk) for name, o in orders.items()}, customer, bob)


def names(books: Books, ids) -> set[str]:
    by_id = {order.pk: name for name, order in books.orders.items()}
    return {by_id[pk] for pk in ids}


def listed(client, query: str = "") -> list[int]:
    return row_ids(client.get(reverse("orders:list") + query))


def test_statuses_of_the_data_set(books):
    got = {name: (o.state, o.billing_status, o.payment_status) for name, o in books.orders.items()}
    assert got == {
        "fresh": ("open", "not_invoiced", "unpaid"),
        "partial": ("open", "partially_invoiced", "unpaid"),
        "paid": ("closed", "invoiced", "paid"),
        "part_paid": ("open", "invoiced", "partially_paid"),
        "overpaid": ("open", "invoiced", "overpaid"),
        "canceled": ("canceled", "not_invoiced", "unpaid"),
    }


ALL = {"fresh", "partial", "paid", "part_paid", "overpaid", "canceled"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("?billing_status=not_invoiced", {"fresh", "canceled"}),
        ("?billing_status=partially_invoiced", {"partial"}),
        ("?billing_status=invoiced", {"paid", "part_paid", "overpaid"}),
        ("?payment_status=unpaid", {"fresh", "partial", "canceled"}),
        ("?payment_status=partially_paid", {"part_paid"}),
        ("?payment_status=paid", {"paid"}),
        ("?payment_status=overpaid", {"overpaid"}),
        ("?billing_status=invoiced&payment_status=paid", {"paid"}),
        ("?customer=lovelace", {"fresh", "partial", "overpaid"}),
        ("?customer=builder.test&billing_status=not_invoiced", {"canceled"}),
        ("?customer=nobody-like-this", set()),
        ("?currency=USD", {"paid"}),
        ("?number=o-bolt-", {"paid", "overpaid"}),
    ],
)
def test_filters_return_exactly_the_right_orders(support, books, query, expected):
    assert names(books, listed(support, query)) == expected


def test_provider_filter(support, books, other_provider):
    assert names(books, listed(support, f"?provider={other_provider.pk}")) == {"paid", "overpaid"}
    both = f"?provider={other_provider.pk}&payment_status=overpaid"
    assert names(books, listed(support, both)) == {"overpaid"}


def test_placed_at_range_is_inclusive_local_days(support, books):
    today = timezone.localdate()
    old = timezone.make_aware(datetime.datetime.combine(today - datetime.timedelta(days=10), datetime.time(23, 59)))
    Order.objects.filter(pk=books.orders["fresh"].pk).update(placed_at=old)
    day = (today - datetime.timedelta(days=10)).isoformat()
    assert names(books, listed(support, f"?placed_from={day}&placed_to={day}")) == {"fresh"}
    assert names(books, listed(support, f"?placed_from={today.isoformat()}")) == ALL - {"fresh"}
    assert names(books, listed(support, f"?placed_to={day}")) == {"fresh"}


def test_default_order_is_newest_placed_first(support, books):
    expected = sorted(books.orders.values(), key=lambda o: (o.placed_at, o.pk), reverse=True)
    assert listed(support) == [o.pk for o in expected]
    by_number = sorted(books.orders.values(), key=lambda o: (o.number, o.pk))
    assert listed(support, "?sort=number") == [o.pk for o in by_number]


def test_invalid_filters_show_errors_and_no_rows(support, books):
    response = support.get(reverse("orders:list") + "?billing_status=lots&placed_from=yesterday")
    body = text(response)
    assert "Fix these filters" in body and "Billing status" in body and "Placed from" in body
    assert row_ids(response) == []
    assert support.get(reverse("orders:export") + "?payment_status=lots").status_code == 400


def test_totals_per_currency(support, books):
    response = support.get(reverse("orders:list") + "?billing_status=invoiced")
    totals = response.context["totals"]
    assert totals.count == 3
    assert [
        (r["currency"], r["count"], r["invoiced_total"], r["paid_total"], r["balance_due"]) for r in totals.by_currency
    ] == [("EUR", 2, D("140.00"), D("90.00"), D("50.00")), ("USD", 1, D("200.00"), D("200.00"), D("0.00"))]
    body = text(response)
    assert "140.00 EUR" in body and "200.00 USD" in body


def test_csv_is_what_the_list_shows(support, books):
    rows = csv_rows(support.get(reverse("orders:export") + "?payment_status=unpaid"))
    assert [int(r["id"]) for r in rows] == listed(support, "?payment_status=unpaid")
    partial = next(r for r in rows if r["number"] == books.orders["partial"].number)
    assert partial["billing_status"] == "partially_invoiced" and partial["invoiced_total"] == "80.00"
    assert partial["customer"] == "Ada Lovelace" and partial["invoicing"] == "delivered"


def test_empty_states(support, finance, db):
    assert "No orders have been placed yet." in text(support.get(reverse("orders:list")))
    assert "Place the first order" not in text(support.get(reverse("orders:list")))
    assert "Place the first order" in text(finance.get(reverse("orders:list")))
    body = text(support.get(reverse("orders:list") + "?customer=zzz"))
    assert "No orders match these filters." in body and f'href="{reverse("orders:list")}">Clear filters' in body


def test_the_list_reads_a_constant_number_of_queries(support, books, customer, provider, finance_user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert support.get(reverse("orders:list")).status_code == 200
        return len(captured)

    queries()  # the session, the roles and the nav counts are read (and cached) once
    before = queries()
    for n in range(8):
        create_order(customer=customer, provider=provider, currency="EUR", lines=[(f"Item {n}", 1, "1")], by=None)
    assert queries() == before


def test_the_list_is_an_index_scan_for_each_status(books):
    """The filtered newest-first page can be a backward index scan that stops after a page: no
    scan of the table, no sort. A rare status walks its status index; a common one may
    walk order_placed_idx and skip the few rows of other statuses (the planner's choice, as cheap)."""
    from orders.selectors import order_list

    order = books.orders["fresh"]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO orders_order (customer_id, provider_id, currency, account_id, sequence, number, placed_at,
                invoicing, invoiced_total, paid_total, balance_due, state, billing_status, payment_status,
                created_at, cancel_reason)
            SELECT %(customer)s, %(provider)s, 'EUR', %(account)s, 1000 + g, 'O-SCALE-' || g,
                   now() - (g || ' minutes')::interval, 'ordered', 0, 0, 0, 'open',
                   CASE WHEN g %% 50 = 0 THEN 'partially_invoiced'
                        ELSE (ARRAY['not_invoiced', 'invoiced'])[1 + g %% 2] END,
                   CASE WHEN g %% 50 = 1 THEN 'overpaid'
                        ELSE (ARRAY['unpaid', 'partially_paid', 'paid'])[1 + g %% 3] END, now(), ''
            FROM generate_series(1, 5000) AS g
            """,
            {"customer": order.customer_id, "provider": order.provider_id, "account": order.account_id},
        )
        cursor.execute("ANALYZE orders_order")
        # A few thousand rows: a bitmap read and a sort of a rare status's hundred rows is as cheap
        # as the walk, so ask for the plan the indexes allow (at 200,000 orders it is the one chosen).
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for name, status, index in [
            *(("billing_status", s, "order_billing_idx") for s in ("not_invoiced", "partially_invoiced", "invoiced")),
            *(("payment_status", s, "order_payment_idx") for s in ("unpaid", "partially_paid", "paid", "overpaid")),
        ]:
            sql, params = order_list(filters={name: status})[:51].query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            walked = [f"Index Scan Backward using {index}", "Index Scan Backward using order_placed_idx"]
            if status in ("partially_invoiced", "overpaid"):
                walked = walked[:1]
            assert any(scan in plan for scan in walked), plan
            assert "Sort" not in plan and "Seq Scan on orders_order" not in plan, plan


def test_navigation_links_the_orders(support, books):
    body = text(support.get(reverse("orders:list")))
    assert '<a href="/orders/" class="active" aria-current="page">Orders</a>' in body


# --- The order page ----------------------------------------------------------------------------


def test_order_page_shows_figures_lines_invoices_and_timeline(finance, books):
    order = books.orders["partial"]
    invoice = order.invoices.get()
    page = text(finance.get(order.get_absolute_url()))
    assert f"Order {order.number}" in page
    assert 'id="billing-status">Partially invoiced<' in page and 'id="payment-status">Unpaid<' in page
    assert "Ada Lovelace" in page and "Acme Cleaning" in page and "As delivered" in page
    assert 'id="invoiced-total">80.00 EUR<' in page and 'id="balance-due">80.00 EUR<' in page
    assert '<td class="num" data-col="delivered">8</td>' in page
    assert '<td class="num" data-col="invoiced">8</td>' in page
    assert '<td class="num" data-col="invoiceable"><strong>0</strong></td>' in page
    assert f'href="/invoices/{invoice.pk}/"' in page
    assert f"Invoice {invoice.number} issued" in page and "Billing status: Not invoiced → Partially invoiced" in page
    for action in ("deliver", "add-line", "cancel"):
        assert f'href="/orders/{order.pk}/{action}/"' in page
    assert f'href="/orders/{order.pk}/invoice/"' not in page  # nothing may be invoiced until delivered
    assert f'href="/orders/{order.pk}/invoices/{invoice.pk}/credit/"' in page


def test_order_page_lists_payments_and_credit_notes(support, books):
    order = books.orders["overpaid"]
    page = text(support.get(order.get_absolute_url()))
    assert 'id="order-payments"' in page and "50.00 EUR" in page
    assert "Credit note #" in page and "scratched" in page


def test_support_reads_the_order_page_without_actions(support, books):
    order = books.orders["fresh"]
    page = text(support.get(order.get_absolute_url()))
    assert order.number in page
    assert f"/orders/{order.pk}/invoice/" not in page and "form_token" not in page


def test_canceled_order_offers_no_action(finance, books):
    order = books.orders["canceled"]
    page = text(finance.get(order.get_absolute_url()))
    assert "out of stock" in page
    assert all(f"/orders/{order.pk}/{a}/" not in page for a in ("deliver", "invoice", "add-line", "cancel"))


def test_who_may_read_and_act(books, support_user):
    order = books.orders["fresh"]
    nobody = client_for(make_user("nobody"))
    assert nobody.get(reverse("orders:list")).status_code == 403
    assert nobody.get(order.get_absolute_url()).status_code == 403
    anonymous = Client().get(order.get_absolute_url())
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/?next=")
    support = client_for(support_user)
    for name in ("deliver", "invoice", "add_line", "cancel"):
        url = reverse(f"orders:{name}", args=[order.pk])
        assert support.get(url).status_code == 403, name
        response = support.post(url, {"quantity_1": "1"})
        assert response.status_code == 403 and "Finance role" in text(response), name
    assert support.get(reverse("orders:new")).status_code == 403
    assert Invoice.objects.filter(order=order).count() == 0


def test_unknown_order_is_404(finance):
    assert finance.get("/orders/999999/").status_code == 404


# --- Actions -----------------------------------------------------------------------------------


def post_form(client, url: str, data: dict):
    token = form_token(client.get(url))
    return client.post(url, {"form_token": token, **data}, follow=True)


def quantity(line: OrderLine) -> str:
    return f"quantity_{line.pk}"


def test_record_delivery_then_invoice_the_shipment(finance, books, customer, provider, finance_user):
    order = create_order(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Box", 10, "3.00")],
        invoicing="delivered",
        by=None,
    )
    line = order.lines.get()
    response = post_form(finance, reverse("orders:deliver", args=[order.pk]), {quantity(line): "8"})
    assert f"Delivery on order {order.number} recorded." in text(response)
    line.refresh_from_db()
    assert (line.delivered_quantity, line.invoiceable_quantity) == (D("8"), D("8"))

    url = reverse("orders:invoice", args=[order.pk])
    assert 'value="8"' in text(finance.get(url))  # prefilled with what may be invoiced
    response = post_form(finance, url, {quantity(line): "5"})
    invoice = Invoice.objects.get(order=order)
    assert f"Invoice {invoice.number} of 15.00 EUR issued for order {order.number}." in text(response)
    assert invoice.lines.get().order_line_id == line.pk
    order.refresh_from_db()
    assert (order.billing_status, order.payment_status) == ("partially_invoiced", "unpaid")


def test_delivery_errors_show_the_services_message(finance, books):
    order = books.orders["fresh"]
    line = order.lines.get()
    url = reverse("orders:deliver", args=[order.pk])
    response = post_form(finance, url, {quantity(line): "3"})
    assert "has 2 left to deliver; you recorded 3." in text(response)
    response = post_form(finance, url, {quantity(line): "1.5x"})
    assert "is not a number" in text(response)
    response = post_form(finance, url, {quantity(line): ""})
    assert "Type the quantity delivered on at least one line." in text(response)
    line.refresh_from_db()
    assert line.delivered_quantity == 0


def test_invoice_everything_with_credit_applied(finance, books, customer):
    order = books.orders["fresh"]
    deposit = make_payment(customer=customer, amount="30.00")
    response = post_form(finance, reverse("orders:invoice", args=[order.pk]), {"everything": "1", "apply_credit": "on"})
    invoice = Invoice.objects.get(order=order)
    assert f"Invoice {invoice.number} of 50.00 EUR issued" in text(response)
    assert (invoice.paid_total, invoice.payment_status) == (D("30.00"), "partially_paid")
    deposit.refresh_from_db()
    assert deposit.unallocated == 0


def test_invoice_more_than_invoiceable_is_refused_with_the_line_named(finance, books):
    order = books.orders["fresh"]
    line = order.lines.get()
    response = post_form(finance, reverse("orders:invoice", args=[order.pk]), {quantity(line): "3"})
    assert f"Order {order.number} line 1 (Chair) has 2 left to invoice; you asked for 3." in text(response)
    assert not Invoice.objects.filter(order=order).exists()


def test_a_repeated_post_writes_once(finance, books):
    order = books.orders["fresh"]
    url = reverse("orders:invoice", args=[order.pk])
    token = form_token(finance.get(url))
    first = finance.post(url, {"form_token": token, "everything": "1"}, follow=True)
    second = finance.post(url, {"form_token": token, "everything": "1"}, follow=True)
    assert "issued" in text(first) and "already submitted" in text(second)
    assert Invoice.objects.filter(order=order).count() == 1


def test_add_a_fee_after_payment_and_invoice_only_it(finance, books):
    order = books.orders["paid"]
    response = post_form(
        finance,
        reverse("orders:add_line", args=[order.pk]),
        {"kind": "fee", "description": "Customs fee", "quantity": "1", "unit_price": "12.50"},
    )
    assert f"Line 2 (Customs fee) added to order {order.number}." in text(response)
    order.refresh_from_db()
    assert (order.state, order.billing_status) == ("open", "partially_invoiced")
    post_form(finance, reverse("orders:invoice", args=[order.pk]), {"everything": "1"})
    fee = Invoice.objects.filter(order=order).latest("id")
    assert (fee.kind, fee.total) == ("fee", D("12.50"))


def test_add_line_errors(finance, books):
    order = books.orders["fresh"]
    url = reverse("orders:add_line", args=[order.pk])
    response = post_form(finance, url, {"kind": "fee", "description": "Discount", "quantity": "1", "unit_price": "-5"})
    assert "is negative" in text(response) and "credit note" in text(response)
    response = post_form(finance, url, {"kind": "fee", "description": "Fee", "quantity": "0", "unit_price": "5"})
    assert "must be greater than zero" in text(response)
    assert order.lines.count() == 1


def test_cancel_lines_asks_for_confirmation_then_cancels(finance, books):
    order = books.orders["fresh"]
    line = order.lines.get()
    url = reverse("orders:cancel", args=[order.pk])
    token = form_token(finance.get(url))
    data = {"form_token": token, quantity(line): "2", "reason": "customer changed their mind"}
    review = finance.post(url, data)
    page = text(review)
    assert review.status_code == 200 and "What will happen" in page
    assert f"Order {order.number} will be canceled" in page
    order.refresh_from_db()
    assert order.state == "open" and order.lines.get().canceled_quantity == 0  # nothing written yet
    response = finance.post(url, {**data, "confirm": "1"}, follow=True)
    assert f"Order {order.number} is canceled." in text(response)
    order.refresh_from_db()
    assert (order.state, order.cancel_reason) == ("canceled", "customer changed their mind")


def test_cancel_part_of_a_line_keeps_the_order_open(finance, books, customer, provider):
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Cup", 6, "2.00")], by=None)
    line = order.lines.get()
    url = reverse("orders:cancel", args=[order.pk])
    token = form_token(finance.get(url))
    data = {"form_token": token, quantity(line): "2", "reason": "broken in the warehouse"}
    assert "stays open" in text(finance.post(url, data))
    response = finance.post(url, {**data, "confirm": "1"}, follow=True)
    assert f"Lines of {order.number} canceled." in text(response)
    line.refresh_from_db()
    assert (line.canceled_quantity, line.invoiceable_quantity) == (D("2"), D("4"))


def test_cancel_errors_come_before_the_confirmation(finance, books):
    order = books.orders["partial"]
    line = order.lines.get()  # 10 ordered, 8 delivered and invoiced: 2 may be canceled
    url = reverse("orders:cancel", args=[order.pk])
    token = form_token(finance.get(url))
    page = text(finance.post(url, {"form_token": token, quantity(line): "3", "reason": "short"}))
    assert "has 2 that is neither invoiced nor delivered; you asked to cancel 3." in page
    assert "What will happen" not in page
    page = text(finance.post(url, {"form_token": token, quantity(line): "1", "reason": ""}))
    assert "Give a reason" in page and "What will happen" not in page
    line.refresh_from_db()
    assert line.canceled_quantity == 0


def test_credit_by_quantity_without_and_with_reopening(finance, books):
    order = books.orders["part_paid"]
    invoice = order.invoices.get()
    invoice_line = invoice.lines.get()
    url = reverse("orders:credit", args=[order.pk, invoice.pk])
    page = text(finance.get(url))
    assert "Give the quantity back to the order" in page and "never be billed twice" in page
    field = f"quantity_{invoice_line.pk}"
    response = post_form(finance, url, {field: "1", "reason_code": "return", "reason": "returned"})
    assert f"Credit note of 100.00 EUR on {invoice.number} recorded." in text(response)
    line = order.lines.get()
    assert (line.invoiced_quantity, line.invoiceable_quantity) == (D("1"), D("0"))  # a return reopens nothing
    note = CreditNote.objects.get(invoice=invoice)
    assert (note.reason_code, note.reopen_quantity) == ("return", False)
    # Everything is credited now: nothing left to credit on it.
    response = post_form(finance, url, {"reason_code": "return", "reason": "again"})
    assert "at least one line" in text(response)


def test_credit_reopening_quantity_makes_it_invoiceable_again(finance, books):
    order = books.orders["overpaid"]  # 50 invoiced, 10 credited by amount, paid 50
    invoice = order.invoices.get()
    invoice_line = invoice.lines.get()
    url = reverse("orders:credit", args=[order.pk, invoice.pk])
    response = post_form(
        finance,
        url,
        {f"quantity_{invoice_line.pk}": "1", "reason_code": "correction", "reason": "reship", "reopen_quantity": "on"},
    )
    body = text(response)
    assert "Invoice" in body and "can be credited at most 40.00 EUR; you asked for 50.00 EUR." in body
    assert not CreditNote.objects.filter(invoice=invoice, reopen_quantity=True).exists()


def test_credit_reopen_success(finance, books):
    order = books.orders["part_paid"]
    invoice = order.invoices.get()
    invoice_line = invoice.lines.get()
    url = reverse("orders:credit", args=[order.pk, invoice.pk])
    response = post_form(
        finance,
        url,
        {f"quantity_{invoice_line.pk}": "1", "reason_code": "correction", "reason": "re-ship", "reopen_quantity": "on"},
    )
    assert "the quantity may be invoiced again." in text(response)
    line = order.lines.get()
    assert (line.invoiced_quantity, line.invoiceable_quantity) == (D("0"), D("1"))


def test_credit_more_than_left_is_refused(finance, books):
    order = books.orders["part_paid"]
    invoice = order.invoices.get()
    invoice_line = invoice.lines.get()
    url = reverse("orders:credit", args=[order.pk, invoice.pk])
    response = post_form(finance, url, {f"quantity_{invoice_line.pk}": "2", "reason_code": "return", "reason": "x"})
    assert "has 1 left to credit of 1 invoiced; you asked to credit 2." in text(response)
    assert not CreditNote.objects.filter(invoice=invoice).exists()


def test_credit_of_another_orders_invoice_is_404(finance, books):
    other = books.orders["paid"].invoices.get()
    assert finance.get(reverse("orders:credit", args=[books.orders["fresh"].pk, other.pk])).status_code == 404


# --- New order -----------------------------------------------------------------------------------


def test_place_an_order(finance, customer, provider):
    url = reverse("orders:new")
    token = form_token(finance.get(url + "?q=lovelace"))
    data = {
        "form_token": token,
        "customer": str(customer.pk),
        "provider": str(provider.pk),
        "currency": "EUR",
        "invoicing": "delivered",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Chair",
        "lines-0-quantity": "4",
        "lines-0-unit_price": "25.00",
        "lines-1-description": "",
        "lines-1-quantity": "1",
        "lines-1-unit_price": "",
        "lines-2-description": "",
        "lines-2-quantity": "1",
        "lines-2-unit_price": "",
    }
    response = finance.post(url, data, follow=True)
    order = Order.objects.get()
    assert f"Order {order.number} placed." in text(response)
    assert (order.invoicing, order.customer_id) == ("delivered", customer.pk)
    assert [(line.description, line.quantity) for line in order.lines.all()] == [("Chair", D("4"))]


def test_an_order_needs_a_line(finance, customer, provider):
    url = reverse("orders:new")
    token = form_token(finance.get(url))
    data = {
        "form_token": token,
        "customer": str(customer.pk),
        "provider": str(provider.pk),
        "currency": "EUR",
        "invoicing": "ordered",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "",
    }
    response = finance.post(url, data)
    assert "An order needs at least one line." in text(response)
    assert not Order.objects.exists()


def test_add_a_line_without_javascript_keeps_what_was_typed(finance, customer, provider):
    url = reverse("orders:new")
    data = {
        "customer": str(customer.pk),
        "provider": str(provider.pk),
        "currency": "EUR",
        "invoicing": "ordered",
        "add_line": "1",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Chair",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "9.00",
    }
    page = text(finance.post(url, data))
    assert 'value="Chair"' in page and 'name="lines-1-description"' in page
    assert not Order.objects.exists()


def test_invoice_lines_name_their_order_line_on_the_invoice_page(support, books):
    order = books.orders["partial"]
    invoice = order.invoices.get()
    page = text(support.get(invoice.get_absolute_url()))
    assert f'href="/orders/{order.pk}/"' in page and order.number in page
    line = InvoiceLine.objects.get(invoice=invoice)
    assert f"order line {line.order_line.position}" in page


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"billing_status": "invoiced"},
        {"payment_status": "unpaid"},
        {"billing_status": "not_invoiced", "payment_status": "unpaid", "currency": "EUR"},
        {"currency": "USD"},
    ],
)
def test_kept_totals_equal_the_rows(books, other_provider, filters):
    """The trigger-kept totals (OrderQueueTotal) say what an aggregate over the listed orders says."""
    from billing.listing import currency_totals
    from orders.selectors import order_list, order_totals

    for query in (filters, {**filters, "provider": other_provider.pk}):
        kept = order_totals(filters=query)
        counted = currency_totals(
            order_list(filters=query),
            invoiced_total="invoiced_total",
            paid_total="paid_total",
            balance_due="balance_due",
        )
        assert (kept.count, kept.by_currency) == (counted.count, counted.by_currency), query
