"""The customer page: its figures on a worked example, the history's filters and pages,
who may read it, and that every customer name in the app links to it."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from allocations.services import allocate
from backoffice import customer_views
from backoffice.customers import HistoryFilters, customer_history, customer_position
from dunning.models import CollectionNote
from invoices.services import issue_credit_note
from ledger.selectors import balance_as_of
from payments.services import refund_payment
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db

D = Decimal


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def at(n: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(days(n), datetime.time(12)))


@pytest.fixture
def example(db):
    """Invoice 100 (issued 20 days ago, due 5 days ago); payment 80 received 15 days ago, 60 of
    it allocated; a credit note of 10 and a refund of the payment's last 20 today; and 25 USD
    paid and not allocated."""
    customer = CustomerFactory(name="Zoë O’Brien", email="zoe@obrien.test", reference="ZOB-1")
    provider = ProviderFactory(name="Zed Windows", code="ZED")
    invoice = make_invoice(
        customer=customer, provider=provider, total="100.00", issue_date=days(-20), due_date=days(-5)
    )
    payment = make_payment(customer=customer, amount="80.00", received_at=at(-15), reference="BANK-778")
    allocate(payment, invoice, D("60.00"), by=None)
    credit = issue_credit_note(invoice, amount="10.00", by=None, reason="Window not cleaned")
    refund = refund_payment(payment, amount="20.00", by=None, reason="Paid too much")
    usd = make_payment(customer=customer, amount="25.00", currency="USD", received_at=at(-3))
    note = CollectionNote.objects.create(account=invoice.account, outcome="promised_to_pay", text="Pays Friday")
    return {
        "customer": customer,
        "invoice": invoice,
        "payment": payment,
        "credit": credit,
        "refund": refund,
        "usd": usd,
        "note": note,
    }


def history_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(kind, document, amount, balance) of each history line, as the page prints them."""
    table = html.split('id="history-table"', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr data-id=.*?</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", " ", c).split()[0:3] for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append((" ".join(cells[1]), " ".join(cells[2][:2]), cells[3][0], cells[4][0]))
    return rows


def test_worked_example_history_and_running_balance(as_support, example):
    html = as_support.get(reverse("customer", args=[example["customer"].pk])).content.decode()
    inv, pay = example["invoice"], example["payment"]
    # Newest first; the balance is what the customer owed in that currency after the line.
    rows = history_rows(html)
    assert [(kind, balance) for kind, _, _, balance in rows] == [
        ("Refund", "30.00"),
        ("Credit note", "10.00"),
        ("Payment received", "-25.00"),
        ("Payment received", "20.00"),
        ("Invoice issued", "100.00"),
    ]
    assert rows[-1][1] == inv.number and rows[-2][1] == f"P-{pay.pk} BANK-778"
    page = customer_history(example["customer"], filters=HistoryFilters())
    lines = [(line.entry.kind, line.entry.currency, line.entry.amount, line.running_balance) for line in page.lines]
    assert lines == [
        ("refund", "EUR", D("20.00"), D("30.00")),
        ("credit_note", "EUR", D("-10.00"), D("10.00")),
        ("payment", "USD", D("-25.00"), D("-25.00")),
        ("payment", "EUR", D("-80.00"), D("20.00")),
        ("invoice", "EUR", D("100.00"), D("100.00")),
    ]
    # Every line links to its document's page.
    for url in (
        reverse("invoices:detail", args=[inv.pk]),
        reverse("payments:detail", args=[pay.pk]),
        reverse("payments:detail", args=[example["usd"].pk]),
    ):
        assert f'href="{url}"' in html
    assert f"Refund #{example['refund'].pk}" in html and f"Credit note #{example['credit'].pk}" in html


def test_worked_example_position(as_support, example):
    position = customer_position(example["customer"], timezone.localdate())
    (row,) = position.accounts
    assert row.account.balance_due == D("30.00")  # 100 − 10 credited − 60 paid
    assert row.overdue == D("30.00")  # due 5 days ago: all in 1–30
    assert row.aging == [D("0.00"), D("30.00"), D("0.00"), D("0.00"), D("0.00")]
    assert row.note == example["note"]
    eur, usd = position.currencies
    assert (eur.currency, eur.owed, eur.unapplied, eur.balance, eur.in_credit) == (
        "EUR",
        D("30.00"),
        D("0.00"),
        D("30.00"),
        False,
    )
    assert (usd.currency, usd.owed, usd.unapplied, usd.balance, usd.in_credit) == (
        "USD",
        D("0.00"),
        D("25.00"),
        D("-25.00"),
        True,
    )
    assert position.unapplied_payments == [example["usd"]]

    html = as_support.get(reverse("customer", args=[example["customer"].pk])).content.decode()
    assert "Zoë O’Brien" in html and "ZOB-1" in html and "zoe@obrien.test" in html
    assert "In credit" in html and "Pays Friday" in html
    assert f'href="{reverse("collections:account", args=[example["invoice"].account_id])}"' in html
    # The whole customer's statement (documents app), and no trace of the reminders placeholder.
    assert f'action="{reverse("documents:issue_statement")}"' in html
    assert f'name="customer" value="{example["customer"].pk}"' in html
    assert "REMINDERS PLACEHOLDER" not in html


def test_the_statement_button_issues_the_customers_statement(as_support, example):
    from documents.models import Document

    html = as_support.get(reverse("customer", args=[example["customer"].pk])).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)
    response = as_support.post(
        reverse("documents:issue_statement"), {"form_token": token, "customer": example["customer"].pk}
    )
    assert response.status_code == 302
    document = Document.objects.get(customer=example["customer"])
    assert document.provider_id is None and not document.currency  # one section per currency
    page = as_support.get(reverse("documents:detail", args=[document.pk])).content.decode()
    assert f'href="{reverse("customer", args=[example["customer"].pk])}"' in page
    # The customer page lists it among the documents sent, not yet delivered.
    html = as_support.get(reverse("customer", args=[example["customer"].pk])).content.decode()
    listed = html.split('id="customer-documents"', 1)[1].split("</table>", 1)[0]
    assert f'href="{reverse("documents:detail", args=[document.pk])}">{document.number}</a>' in listed
    assert "not yet" in listed


def test_the_page_reads_a_fixed_number_of_queries(as_support, example):
    """Accounts, aging, notes, payments, balances, currencies, the history window and its rows
    (sources joined): no query per history line or account, however long the history."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("customer", args=[example["customer"].pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert as_support.get(url).status_code == 200
        return len(queries)

    count()  # the nav counts are cached after the first page
    before = count()
    other = ProviderFactory(name="Other Provider", code="OTHR")
    for n in range(3):
        make_invoice(customer=example["customer"], provider=other, total=f"{n + 1}.00", currency="GBP")
    make_payment(customer=example["customer"], amount="1.00", currency="GBP")
    assert count() == before


def test_history_filters_keep_the_real_running_balance(as_support, example):
    customer = example["customer"]
    only_payments = customer_history(customer, filters=HistoryFilters(kinds=("payment",), currency="EUR"))
    assert [(line.entry.amount, line.running_balance) for line in only_payments.lines] == [(D("-80.00"), D("20.00"))]
    dated = customer_history(customer, filters=HistoryFilters(start=days(-16), end=days(-1)))
    assert [line.entry.kind for line in dated.lines] == ["payment", "payment"]
    url = reverse("customer", args=[customer.pk])
    response = as_support.get(url, {"currency": "USD"})
    assert response.status_code == 200
    assert history_rows(response.content.decode())[0][0] == "Payment received"
    assert len(history_rows(response.content.decode())) == 1
    both = as_support.get(url, {"kind": ["refund", "credit_note"]}).content.decode()
    assert [row[0] for row in history_rows(both)] == ["Refund", "Credit note"]
    bad = as_support.get(url, {"start": days(0).isoformat(), "end": days(-1).isoformat()}).content.decode()
    assert "The start date is after the end date." in bad and 'id="history-table"' not in bad


def test_pagination_keeps_the_running_balance(as_support, example, monkeypatch):
    customer = example["customer"]
    first = customer_history(customer, filters=HistoryFilters(), per_page=2)
    second = customer_history(customer, filters=HistoryFilters(), cursor=first.next_cursor, per_page=2)
    third = customer_history(customer, filters=HistoryFilters(), cursor=second.next_cursor, per_page=2)
    assert [line.running_balance for line in first.lines] == [D("30.00"), D("10.00")]
    assert [line.running_balance for line in second.lines] == [D("-25.00"), D("20.00")]
    assert [line.running_balance for line in third.lines] == [D("100.00")]
    assert third.next_cursor is None

    # Through the page: the "Older" link carries the filters and the cursor.
    monkeypatch.setattr(customer_views, "HISTORY_PAGE", 1)
    url = reverse("customer", args=[customer.pk])
    html = as_support.get(url, {"currency": "EUR"}).content.decode()
    older = re.search(r'<a class="button" rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "currency=EUR" in older and "before=" in older
    html = as_support.get(url + older.split("#")[0]).content.decode()
    (row,) = history_rows(html)
    assert row[0] == "Credit note" and row[3] == "10.00"
    assert "« Newest" in html


def test_many_entries_page_by_page(as_support, monkeypatch):
    """A customer with more entries than a page: walking every page gives back each running
    balance exactly once, and the last line of a day is that day's balance_as_of."""
    customer = CustomerFactory()
    provider = ProviderFactory()
    for n in range(7):
        make_invoice(customer=customer, provider=provider, total=f"{10 + n}.00", issue_date=days(-30 + n))
    make_payment(customer=customer, amount="5.00", received_at=at(-26))
    seen, cursor = [], None
    while True:
        page = customer_history(customer, filters=HistoryFilters(), cursor=cursor, per_page=3)
        seen += [line.running_balance for line in page.lines]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected, total = [], D("0")
    # The payment shares its day with the fifth invoice and was written after it.
    for amount in (D("10"), D("11"), D("12"), D("13"), D("14"), D("-5"), D("15"), D("16")):
        total += amount
        expected.append(total)
    assert seen == list(reversed(expected))
    assert balance_as_of(customer=customer, currency="EUR", as_of=days(-26)) == D("55.00") == expected[5]


@pytest.mark.parametrize("role, status", [("support", 200), ("finance", 200), ("admin", 200), ("nobody", 403)])
def test_roles(client, staff, ledger, role, status):
    client.force_login(staff[role])
    assert client.get(reverse("customer", args=[ledger.ada.pk])).status_code == status


def test_anonymous_is_sent_to_sign_in(client, ledger):
    response = client.get(reverse("customer", args=[ledger.ada.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_unknown_customer_is_a_404(as_support):
    assert as_support.get(reverse("customer", args=[999999])).status_code == 404


def test_every_customer_name_links_to_the_customer_page(as_support, ledger):
    """The main lists and pages print each customer's name as a link to the customer page."""
    ada, bob = ledger.ada, ledger.bob
    ada_link = f'href="{reverse("customer", args=[ada.pk])}"'
    invoice = ledger.invoices["ada_partial_75"]
    payment = next(p for p in ledger.payments.values() if p.customer_id == ada.pk)
    pages = [
        reverse("invoices:list"),
        reverse("payments:list"),
        reverse("collections:list") + "?currency=EUR",
        reverse("invoices:detail", args=[invoice.pk]),
        reverse("payments:detail", args=[payment.pk]),
        reverse("collections:account", args=[invoice.account_id]),
    ]
    for url in pages:
        html = as_support.get(url).content.decode()
        assert (
            f'<a class="customer-link" {ada_link}>' in html or f'<a class="customer-link" {ada_link}><strong>' in html
        ), url
    lists = as_support.get(reverse("invoices:list")).content.decode()
    assert f'href="{reverse("customer", args=[bob.pk])}"' in lists
    # No bare name left in a list's customer cell.
    for url in (reverse("invoices:list"), reverse("payments:list")):
        html = as_support.get(url).content.decode()
        assert "<td>Ada Lovelace" not in html, url


@pytest.mark.parametrize("prefix", ["/", "/settle/"])
def test_the_customer_link_points_where_reverse_does_under_any_script_prefix(prefix):
    """customer_link resolves the address once per script prefix (a list links 50 names)."""
    from django.urls import get_script_prefix, set_script_prefix

    from backoffice.templatetags.customers import customer_url

    before = get_script_prefix()
    set_script_prefix(prefix)
    try:
        for pk in (1, 42, 10**9):
            assert customer_url(pk) == reverse("customer", args=[pk]) == f"{prefix}customers/{pk}/"
    finally:
        set_script_prefix(before)
