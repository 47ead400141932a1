"""The invoice list: every filter returns exactly the right rows, sorts, keyset pages, totals, CSV, htmx."""

from decimal import Decimal

import pytest
from django.urls import reverse

import billing.listing
from invoices.filters import AMOUNT_SORTS, INVOICE_SORTS
from invoices.models import Invoice
from tests.support.dataset import days
from tests.support.helpers import csv_rows, row_ids

pytestmark = pytest.mark.django_db

OPEN = {
    "ada_overdue_30", "ada_partial_75", "ada_current", "ada_paid", "bob_overpaid",
    "bob_usd_100", "cy_jpy_45", "bob_due_today", "bob_charged",
}  # fmt: skip
OVERDUE = {"ada_overdue_30", "ada_partial_75", "bob_usd_100", "cy_jpy_45"}


def names(ledger, ids) -> set[str]:
    by_id = {invoice.pk: name for name, invoice in ledger.invoices.items()}
    return {by_id[pk] for pk in ids}


def listed(client, query: str = "", **extra) -> list[int]:
    return row_ids(client.get(reverse("invoices:list") + query, **extra))


def test_statuses_of_the_data_set(ledger):
    """The data set covers every state and payment status (a guard for the tests below)."""
    got = {name: (i.state, i.payment_status) for name, i in ledger.invoices.items()}
    assert got["ada_partial_75"] == ("open", "partially_paid")
    assert got["ada_paid"] == ("open", "paid")
    assert got["bob_overpaid"] == ("open", "overpaid")
    assert got["bob_charged"] == ("open", "paid")
    assert got["bob_void"][0] == "void" and got["cy_draft"][0] == "draft"
    assert ledger.payments["bob_over"].allocation_status == "overallocated"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", OPEN),
        ("?state=open", OPEN),
        ("?state=all", OPEN | {"bob_void", "cy_draft"}),
        ("?state=void", {"bob_void"}),
        ("?state=draft", {"cy_draft"}),
        ("?payment_status=unpaid", {"ada_overdue_30", "ada_current", "bob_usd_100", "cy_jpy_45", "bob_due_today"}),
        ("?payment_status=partially_paid", {"ada_partial_75"}),
        ("?payment_status=paid", {"ada_paid", "bob_charged"}),
        ("?payment_status=overpaid", {"bob_overpaid"}),
        ("?payment_status=overpaid&payment_status=partially_paid", {"bob_overpaid", "ada_partial_75"}),
        ("?overdue=1", OVERDUE),
        ("?overdue=on&state=all", OVERDUE),  # overdue is about open invoices, whatever the state filter
        ("?payment_status=unpaid&payment_status=partially_paid&overdue=1", OVERDUE),  # the nav link
        ("?overdue=1&payment_status=partially_paid", {"ada_partial_75"}),
        ("?customer=ADA", {"ada_overdue_30", "ada_partial_75", "ada_current", "ada_paid"}),
        ("?customer=builder.test", {"bob_overpaid", "bob_usd_100", "bob_due_today", "bob_charged"}),
        ("?customer=lovelace&overdue=1", {"ada_overdue_30", "ada_partial_75"}),
        ("?customer=nobody-like-this", set()),
        ("?currency=JPY", {"cy_jpy_45"}),
        ("?currency=JPY&state=all", {"cy_jpy_45", "cy_draft"}),
        ("?currency=USD", {"bob_usd_100"}),
        ("?total_min=100&total_max=200", {"ada_overdue_30", "ada_partial_75", "bob_usd_100"}),
        ("?total_min=300", {"ada_current", "cy_jpy_45"}),
        ("?total_max=40", {"bob_due_today", "bob_charged"}),
    ],
)
def test_filters_return_exactly_the_right_invoices(as_support, ledger, query, expected):
    assert names(ledger, listed(as_support, query)) == expected


def test_provider_filter(as_support, ledger):
    ids = listed(as_support, f"?provider={ledger.bolt.pk}")
    assert names(ledger, ids) == {"ada_partial_75", "bob_usd_100", "cy_jpy_45"}


def test_date_ranges_are_inclusive(as_support, ledger):
    due = f"?due_from={days(-75).isoformat()}&due_to={days(-30).isoformat()}"
    assert names(ledger, listed(as_support, due)) == {"ada_overdue_30", "ada_partial_75", "cy_jpy_45"}
    issued = f"?issued_from={days(-30).isoformat()}&issued_to={days(-30).isoformat()}"
    expected = {n for n, i in ledger.invoices.items() if i.issue_date == days(-30) and i.state == "open"}
    assert expected and names(ledger, listed(as_support, issued)) == expected


def test_invoice_number_exact_or_prefix(as_support, ledger):
    number = ledger.invoices["ada_partial_75"].number  # BOLT-000001
    assert names(ledger, listed(as_support, f"?number={number}")) == {"ada_partial_75"}
    assert names(ledger, listed(as_support, "?number=bolt-")) == {"ada_partial_75", "bob_usd_100", "cy_jpy_45"}
    assert names(ledger, listed(as_support, "?number=%20acme-00000&state=all")) == {
        n for n, i in ledger.invoices.items() if i.number and i.number.startswith("ACME-00000")
    }


def test_invalid_filters_show_errors_and_no_rows(as_support, ledger):
    response = as_support.get(reverse("invoices:list") + "?total_min=lots&due_from=yesterday")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Fix these filters" in body and "Total from" in body and "Due from" in body
    assert row_ids(response) == []
    assert as_support.get(reverse("invoices:export") + "?total_min=lots").status_code == 400


def test_empty_state_offers_to_clear_filters(as_support, ledger):
    body = as_support.get(reverse("invoices:list") + "?customer=zzz").content.decode()
    assert "No invoices match these filters." in body
    assert f'href="{reverse("invoices:list")}">Clear filters' in body


def test_totals_of_the_filtered_set_per_currency(as_support, ledger):
    response = as_support.get(reverse("invoices:list") + "?overdue=1")
    totals = response.context["totals"]
    assert totals.count == 4
    assert [(r["currency"], r["count"], r["total"], r["balance_due"]) for r in totals.by_currency] == [
        ("EUR", 2, Decimal("300.00"), Decimal("250.00")),
        ("JPY", 1, Decimal("10000.00"), Decimal("10000.00")),
        ("USD", 1, Decimal("120.00"), Decimal("120.00")),
    ]
    body = response.content.decode()
    assert "250.00 EUR" in body and "10,000 JPY" in body and "120.00 USD" in body


def test_default_view_is_open_invoices_newest_first(as_support, ledger):
    ids = listed(as_support)
    expected = sorted(
        (i for i in ledger.invoices.values() if i.state == "open"), key=lambda i: (i.issue_date, i.pk), reverse=True
    )
    assert ids == [i.pk for i in expected]


def _sort_key(invoice, key: str):
    value = {
        "number": invoice.number,
        "customer": invoice.customer.name,
        "provider": invoice.provider.name,
    }.get(key, getattr(invoice, key, None))
    return value


def expected_order(invoices, sort: str) -> list[int]:
    """What PostgreSQL's ORDER BY field, id gives: NULLs last ascending, first descending."""
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    present = [i for i in invoices if _sort_key(i, key) is not None]
    missing = [i for i in invoices if _sort_key(i, key) is None]
    present.sort(key=lambda i: (_sort_key(i, key), i.pk), reverse=descending)
    missing.sort(key=lambda i: i.pk, reverse=descending)
    ordered = missing + present if descending else present + missing
    return [i.pk for i in ordered]


def one_currency(sort: str) -> tuple[str, dict]:
    """Amount sorts list one currency (DESIGN.md section 5): the query and the rows' filter."""
    if sort.lstrip("-") in AMOUNT_SORTS:
        return "&currency=EUR", {"currency": "EUR"}
    return "", {}


@pytest.mark.parametrize("sort", sorted(INVOICE_SORTS))
def test_every_sort_orders_by_its_column_then_id(as_support, ledger, sort):
    query, rows = one_currency(sort)
    invoices = list(Invoice.objects.filter(**rows).select_related("customer", "provider"))
    assert listed(as_support, f"?state=all&sort={sort}{query}") == expected_order(invoices, sort)


def test_unknown_sort_falls_back_to_the_default(as_support, ledger):
    assert listed(as_support, "?sort=customer__email") == listed(as_support)


def walk(client, url: str, link: str) -> list[list[int]]:
    """Follow next_url (or previous_url) links from url to the end; the ids of each page."""
    pages = []
    while url:
        response = client.get(url)
        pages.append(row_ids(response))
        url = getattr(response.context["page"], link)
    return pages


@pytest.mark.parametrize("sort", sorted(INVOICE_SORTS))
def test_keyset_pages_cover_the_set_once_in_order_both_ways(as_support, ledger, monkeypatch, sort):
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (3,))
    query, rows = one_currency(sort)
    # 11 rows, NULL numbers and dates; 8 in EUR for an amount sort
    invoices = list(Invoice.objects.filter(**rows).select_related("customer", "provider"))
    expected = expected_order(invoices, sort)
    sizes = [3, 3, 3, 2] if not rows else [3, 3, 2]
    forward = walk(as_support, reverse("invoices:list") + f"?state=all&sort={sort}{query}&per_page=3", "next_url")
    assert [len(p) for p in forward] == sizes
    assert sum(forward, []) == expected

    last = as_support.get(reverse("invoices:list") + f"?state=all&sort={sort}{query}&per_page=3&last=1")
    assert row_ids(last) == expected[-2:]
    assert last.context["page"].number == len(sizes) and not last.context["page"].has_next
    backward = walk(as_support, last.context["page"].previous_url, "previous_url")
    assert sum(reversed(backward), []) == expected[:-2]


def test_page_numbers_and_links(as_support, ledger, monkeypatch):
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (3,))
    first = as_support.get(reverse("invoices:list") + "?state=all&per_page=3")
    page = first.context["page"]
    assert (page.number, page.page_count, page.start_index, page.end_index) == (1, 4, 1, 3)
    assert not page.has_previous and page.next_url and "per_page=3" in page.next_url
    second = as_support.get(page.next_url)
    page = second.context["page"]
    assert (page.number, page.start_index, page.end_index) == (2, 4, 6)
    assert page.previous_url == first.context["page"].first_url  # back to page 1 is the plain first page
    body = second.content.decode()
    assert "Invoices 4–6 of 11" in body and "page 2 of 4" in body


def test_a_bad_cursor_means_the_first_page(as_support, ledger):
    assert listed(as_support, "?after=not-a-cursor") == listed(as_support)
    assert listed(as_support, "?before=eyJ4Ijox") == listed(as_support)


def test_filters_survive_paging_and_sorting_links(as_support, ledger, monkeypatch):
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (3,))
    response = as_support.get(reverse("invoices:list") + "?customer=ada&state=all&per_page=3&total_min=&sort=due_date")
    page = response.context["page"]
    assert "customer=ada" in page.next_url and "sort=due_date" in page.next_url
    assert "total_min" not in page.next_url  # empty fields are dropped from links
    ids = sum(walk(as_support, reverse("invoices:list") + "?customer=ada&per_page=3&sort=due_date", "next_url"), [])
    assert names(ledger, ids) == {"ada_overdue_30", "ada_partial_75", "ada_current", "ada_paid"}
    body = response.content.decode()
    assert 'href="/invoices/?customer=ada&amp;state=all&amp;per_page=3&amp;sort=-due_date"' in body  # flip the sort


@pytest.mark.parametrize(
    "query",
    ["", "?overdue=1", "?state=all&sort=customer", "?currency=JPY&state=all", "?customer=bob&sort=-balance_due"],
)
def test_csv_is_exactly_the_filtered_set_in_list_order(as_support, ledger, monkeypatch, query):
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (3,))
    separator = "&" if query else "?"
    listed_ids = sum(walk(as_support, reverse("invoices:list") + query + f"{separator}per_page=3", "next_url"), [])
    rows = csv_rows(as_support.get(reverse("invoices:export") + query))
    assert [int(row["id"]) for row in rows] == listed_ids
    for row in rows:
        invoice = Invoice.objects.get(pk=row["id"])
        assert row["number"] == (invoice.number or "")
        assert row["total"] == str(invoice.total) and row["balance_due"] == str(invoice.balance_due)
        assert row["payment_status"] == invoice.payment_status and row["currency"] == invoice.currency


def test_csv_amounts_are_plain_decimal_strings(as_support, ledger):
    rows = {row["number"]: row for row in csv_rows(as_support.get(reverse("invoices:export") + "?state=all"))}
    overpaid = rows[ledger.invoices["bob_overpaid"].number]
    assert (overpaid["total"], overpaid["credited_total"], overpaid["paid_total"], overpaid["balance_due"]) == (
        "80.00", "20.00", "80.00", "-20.00",
    )  # fmt: skip
    assert rows[ledger.invoices["cy_jpy_45"].number]["total"] == "10000.00"


def test_csv_export_link_carries_the_filters(as_support, ledger):
    response = as_support.get(reverse("invoices:list") + "?overdue=1&customer=&sort=due_date&per_page=25")
    assert response.context["export_url"] == reverse("invoices:export") + "?overdue=1&sort=due_date"


def test_csv_keeps_spreadsheet_formulas_out(as_support, ledger):
    from tests.factories import CustomerFactory, make_invoice

    make_invoice(customer=CustomerFactory(name="=HYPERLINK(1)", email="x@y.test"), provider=ledger.acme)
    rows = csv_rows(as_support.get(reverse("invoices:export") + "?customer=x@y.test"))
    assert [row["customer"] for row in rows] == ["'=HYPERLINK(1)"]


def test_htmx_gets_the_results_only_and_a_tidy_url(as_support, ledger):
    url = reverse("invoices:list") + "?customer=ada&number=&overdue=on&sort=-issue_date"
    response = as_support.get(url, headers={"HX-Request": "true", "HX-Target": "results"})
    body = response.content.decode()
    assert "<html" not in body and 'id="invoice-table"' in body
    assert 'id="sort-input" hx-swap-oob="true"' in body
    assert response["HX-Push-Url"] == "/invoices/?customer=ada&overdue=on&sort=-issue_date"
    assert "HX-Request" in response["Vary"]
    assert names(ledger, row_ids(response)) == {"ada_overdue_30", "ada_partial_75"}


def test_htmx_history_restore_gets_the_whole_page(as_support, ledger):
    headers = {"HX-Request": "true", "HX-Target": "results", "HX-History-Restore-Request": "true"}
    assert "<html" in as_support.get(reverse("invoices:list"), headers=headers).content.decode()


def test_without_javascript_the_form_is_a_plain_get_with_a_submit_button(as_support, ledger):
    body = as_support.get(reverse("invoices:list")).content.decode()
    assert f'<form class="filters" method="get" action="{reverse("invoices:list")}"' in body
    assert '<button type="submit" class="primary">Filter</button>' in body
    assert 'hx-trigger="input changed delay:300ms' in body


def test_rows_link_to_invoice_pages_and_format_money(as_support, ledger):
    invoice = ledger.invoices["cy_jpy_45"]
    body = as_support.get(reverse("invoices:list") + "?currency=JPY").content.decode()
    assert f'href="/invoices/{invoice.pk}/"' in body
    assert "10,000 JPY" in body and "45 d overdue" in body


def test_overdue_queue_defaults_to_oldest_due_first(as_support, ledger):
    overdue = sorted((ledger.invoices[n] for n in OVERDUE), key=lambda i: (i.due_date, i.pk))
    assert listed(as_support, "?overdue=1") == [i.pk for i in overdue]
    assert listed(as_support, "?overdue=1&sort=-issue_date") == [
        i.pk for i in sorted(overdue, key=lambda i: (i.issue_date, i.pk), reverse=True)
    ]


def test_totals_are_fresh_on_a_first_page_and_reused_while_paging(as_support, ledger, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_invoice

    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (3,))
    url = reverse("invoices:list") + "?per_page=3"
    assert as_support.get(url).context["totals"].count == 9
    make_invoice(customer=ledger.ada, provider=ledger.acme, total="1.00")
    first = as_support.get(url)
    assert first.context["totals"].count == 10  # a first page always counts afresh
    with CaptureQueriesContext(connection) as captured:
        second = as_support.get(first.context["page"].next_url)
    assert second.context["totals"].count == 10
    # Paging never recounts the invoices themselves (the kept queue totals are a small table).
    assert not any(
        "COUNT(" in query["sql"] and 'FROM "invoices_invoice"' in query["sql"] for query in captured.captured_queries
    )
