"""What clerks tripped over (issue 8): void invoices that seemed to owe, badges that contradicted
the state, forms that booked twice. Through the real views, on the shared small ledger."""

import importlib
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

import billing.listing
from allocations.models import Allocation
from allocations.services import allocate
from billing.models import Customer
from billing.search import search_customers
from dunning.models import CollectionNote
from invoices.models import Invoice
from payments.services import record_chargeback
from reconciliation.drift import find_drift
from reconciliation.models import ObjectKind
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.support.actions import form_token
from tests.support.helpers import csv_rows

pytestmark = pytest.mark.django_db

D = Decimal
HEAD = re.compile(r'<div class="page-head">(.*?)</div>', re.DOTALL)


def head(response) -> str:
    assert response.status_code == 200, response.status_code
    return HEAD.search(response.content.decode()).group(1)


# --- 1. A void invoice owes nothing ------------------------------------------------------------


def test_a_void_invoice_has_no_balance_due_and_no_payment_badge(as_support, ledger):
    void = ledger.invoices["bob_void"]
    assert void.state == "void" and void.balance_due == D("0.00")
    response = as_support.get(void.get_absolute_url())
    top = head(response)
    assert '<span class="badge void"' in top and "Unpaid" not in top and "badge unpaid" not in top
    assert re.search(r'id="balance-due">0\.00 EUR<', response.content.decode())


def test_the_void_list_totals_show_nothing_due(as_support, ledger):
    totals = as_support.get(reverse("invoices:list") + "?state=void").context["totals"]
    assert [(r["currency"], r["count"], r["total"], r["balance_due"]) for r in totals.by_currency] == [
        ("EUR", 1, D("60.00"), D("0.00")),
    ]


def test_the_all_states_csv_does_not_overstate_receivables(as_support, ledger):
    rows = csv_rows(as_support.get(reverse("invoices:export") + "?state=all"))
    by_number = {row["number"]: row for row in rows}
    assert D(by_number[ledger.invoices["bob_void"].number]["balance_due"]) == D("0.00")
    owed = sum(D(row["balance_due"]) for row in rows if row["currency"] == "EUR")
    expected = sum(i.balance_due for i in Invoice.objects.filter(currency="EUR").exclude(state="void"))
    assert owed == expected


def test_reconciliation_agrees_that_a_void_invoice_owes_nothing(ledger):
    assert find_drift(ObjectKind.INVOICE) == {}


def test_the_migration_fixes_old_void_rows_and_the_kept_totals_follow(as_support, ledger):
    """Void rows written under the old rule (balance_due = net - paid) are set to 0 by the migration;
    the queue-total trigger appends the deltas, so the kept list totals follow."""
    void = ledger.invoices["bob_void"]
    migration = importlib.import_module("invoices.migrations.0008_void_owes_nothing")
    fix = next(op for op in migration.Migration.operations if hasattr(op, "sql"))
    with connection.cursor() as cursor:  # back to the state before the migration (rolled back after the test)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events before ALTER TABLE
        cursor.execute("ALTER TABLE invoices_invoice DROP CONSTRAINT invoice_balance_due_consistent")
        cursor.execute(fix.reverse_sql)
    assert Invoice.objects.get(pk=void.pk).balance_due == D("60.00")
    assert as_support.get(reverse("invoices:list") + "?state=void").context["totals"].by_currency[0][
        "balance_due"
    ] == D("60.00")
    with connection.cursor() as cursor:
        cursor.execute(fix.sql)
    assert Invoice.objects.get(pk=void.pk).balance_due == D("0.00")
    assert as_support.get(reverse("invoices:list") + "?state=void").context["totals"].by_currency[0][
        "balance_due"
    ] == D("0.00")


# --- 6. Canceled and charged-back payments show their state --------------------------------------


def test_a_canceled_payment_shows_its_state_not_a_green_fully_allocated(as_support, ledger):
    canceled = ledger.payments["cy_canceled"]
    assert (canceled.state, canceled.allocation_status) == (
        "canceled",
        "fully_allocated",
    )
    top = head(as_support.get(canceled.get_absolute_url()))
    assert "Canceled" in top and "Fully allocated" not in top
    page = as_support.get(reverse("payments:list") + "?state=canceled").content.decode()
    row = re.search(rf'<tr data-id="{canceled.pk}">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "Canceled" in row and "Fully allocated" not in row


def test_a_charged_back_payment_shows_its_state_and_still_says_overallocated(as_support, ledger):
    charged = ledger.payments["bob_over"]
    assert (charged.state, charged.allocation_status) == (
        "charged_back",
        "overallocated",
    )
    top = head(as_support.get(charged.get_absolute_url()))
    assert "Charged back" in top and "Overallocated" in top  # work left: a clerk decides who loses the money


def test_a_settled_payment_still_shows_its_allocation_status(as_support, ledger):
    top = head(as_support.get(ledger.payments["ada_full"].get_absolute_url()))
    assert "Fully allocated" in top


# --- 3. Back after allocating: the form says what happened and books nothing by itself -----------


@pytest.fixture
def fiona(staff):
    return staff["finance"]


@pytest.fixture
def as_finance(client, fiona):
    client.force_login(fiona)
    return client


@pytest.fixture
def open_payment(ledger):
    """300.00 EUR from Ada, unallocated; her open EUR invoices (100 + 150 + 300 due) take it."""
    return make_payment(customer=ledger.ada, amount="300.00", reference="BANK-ADA-300")


def amount_inputs(page: str) -> dict[str, str]:
    """The split form's amount inputs and their values ('' when empty)."""
    found = {}
    for tag in re.findall(r'<input [^>]*name="amount_\d+"[^>]*>', page):
        value = re.search(r'value="([^"]*)"', tag)
        found[re.search(r'name="(amount_\d+)"', tag).group(1)] = value.group(1) if value else ""
    return found


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_back_after_allocating_shows_what_happened_and_an_empty_form(as_finance, open_payment, ledger, fiona):
    url = reverse("payments:allocate", args=[open_payment.pk])
    first = as_finance.get(url)
    assert "no-store" in first["Cache-Control"]  # Back re-fetches the page instead of showing the old form
    assert any(amount_inputs(first.content.decode()).values())  # prefilled by the rule before any allocation
    overdue = ledger.invoices["ada_overdue_30"]
    response = as_finance.post(url, {"form_token": form_token(first), f"amount_{overdue.pk}": "7.00"})
    assert response.status_code == 302

    again = as_finance.get(url)  # what Back shows now
    assert "no-store" in again["Cache-Control"]
    page = again.content.decode()
    notice = (
        rf"7\.00 EUR was allocated from this payment at \d\d:\d\d by {re.escape(fiona.username)}; 293\.00 EUR remains\."
    )
    assert re.search(notice, page)
    current = page[
        page.index('id="current-allocations"') : page.index("</section>", page.index('id="current-allocations"'))
    ]
    assert str(overdue) in current and "7.00 EUR" in current
    assert amount_inputs(page) and not any(amount_inputs(page).values())  # nothing filled in by itself
    assert 'href="?suggest=1"' in page and "Fill in the suggestion" in page

    suggested = as_finance.get(url + "?suggest=1").content.decode()  # the explicit action fills it in
    assert any(amount_inputs(suggested).values())


def test_resubmitting_the_allocate_form_books_nothing_and_says_what_happened(as_finance, open_payment, ledger):
    url = reverse("payments:allocate", args=[open_payment.pk])
    overdue = ledger.invoices["ada_overdue_30"]
    data = {
        "form_token": form_token(as_finance.get(url)),
        f"amount_{overdue.pk}": "7.00",
    }
    assert as_finance.post(url, data).status_code == 302
    replay = as_finance.post(url, data)
    assert replay.status_code == 302 and replay["Location"] == open_payment.get_absolute_url()
    said = messages_of(replay)
    assert any("already submitted" in m for m in said)
    assert any("7.00 EUR was allocated from this payment" in m and "293.00 EUR remains" in m for m in said)
    assert Allocation.objects.filter(payment=open_payment).count() == 1
    detail = as_finance.get(replay["Location"]).content.decode()
    assert str(overdue) in detail and "7.00 EUR" in detail  # the current allocations


# --- 5. A form from a tab opened before sign-out: a friendly page that keeps what was typed ------


def note_url(ledger):
    return reverse("collections:add_note", args=[ledger.invoices["ada_current"].account_id])


def hidden_inputs(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        found.setdefault(name, []).append(value)
    return found


def test_a_stale_csrf_token_keeps_what_was_typed_and_resubmits(staff, ledger):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["support"])
    token = form_token(client.get(reverse("collections:account", args=[ledger.invoices["ada_current"].account_id])))
    typed = {
        "outcome": "reached",
        "text": "Pays 50 now & 50 on the 1st",
        "form_token": token,
        "csrfmiddlewaretoken": "stale-token-from-an-old-tab",
        "password": "hunter2",
    }
    response = client.post(note_url(ledger), typed, headers={"Origin": "http://testserver"})  # our own page
    assert response.status_code == 403
    page = response.content.decode()
    assert "CSRF verification failed" not in page and "nothing was saved" in page
    kept = hidden_inputs(page)
    assert kept["text"] == ["Pays 50 now &amp; 50 on the 1st"] and kept["outcome"] == ["reached"]
    assert "password" not in kept and "hunter2" not in page and "stale-token-from-an-old-tab" not in page
    assert f'<form method="post" action="{note_url(ledger)}">' in page
    fresh = kept["csrfmiddlewaretoken"][0]
    assert not CollectionNote.objects.exists()

    again = client.post(
        note_url(ledger),
        {
            "outcome": "reached",
            "text": "Pays 50 now & 50 on the 1st",
            "form_token": token,
            "csrfmiddlewaretoken": fresh,
        },
    )
    assert again.status_code == 302
    assert CollectionNote.objects.get().text == "Pays 50 now & 50 on the 1st"


def test_signed_out_the_page_offers_to_sign_in_and_resubmit(staff, ledger):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        note_url(ledger),
        {"outcome": "no_answer", "text": "Rang twice", "csrfmiddlewaretoken": "stale"},
        headers={"Referer": "http://testserver/collections/"},
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "you were signed out" in page
    assert 'href="/login/?next=%2Fresubmit%2F"' in page
    assert "Rang twice" not in hidden_inputs(page).get("text", [])  # nothing to post until signed in

    client.force_login(staff["support"])  # keeps the session's data, as the sign-in view does
    resubmit = client.get("/resubmit/")
    assert resubmit.status_code == 200
    kept = hidden_inputs(resubmit.content.decode())
    assert kept["text"] == ["Rang twice"] and kept["outcome"] == ["no_answer"]
    assert f'action="{note_url(ledger)}"' in resubmit.content.decode()
    assert not CollectionNote.objects.exists()


def test_a_post_from_another_site_gets_no_resubmit_form(staff, ledger):
    """Turning a forged POST's fields into a form with a valid token would let it through in one click."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["support"])
    response = client.post(
        note_url(ledger), {"outcome": "reached", "text": "forged"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "did not come from a Settle page" in page and "nothing was saved" in page
    assert "text" not in hidden_inputs(page) and f'action="{note_url(ledger)}"' not in page
    assert not CollectionNote.objects.exists()


# --- 7. The customer picker says when nobody matches; a 403 is one log line ----------------------


@pytest.mark.parametrize("page", ["payments:new", "invoices:new"])
def test_the_customer_picker_says_when_nobody_matches(as_finance, ledger, page):
    nobody = as_finance.get(reverse(page) + "?q=xyz").content.decode()
    assert "No customer matches “xyz”." in nobody
    found = as_finance.get(reverse(page) + "?q=lovelace").content.decode()
    assert "No customer matches" not in found and "Ada Lovelace" in found


def test_a_missing_role_logs_one_warning_line_without_traceback(client, staff, ledger, caplog):
    client.force_login(staff["support"])
    with caplog.at_level("INFO", logger="django.request"):
        response = client.get(reverse("payments:allocate", args=[ledger.payments["ada_partial"].pk]))
    assert response.status_code == 403 and "This needs the Finance role" in response.content.decode()
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].levelname == "WARNING" and records[0].exc_info is None and records[0].exc_text is None
    assert "Finance" in records[0].getMessage() and "/allocate/" in records[0].getMessage()


# --- 8. Search: accents, apostrophes, references, phones, emails --------------------------------


@pytest.fixture
def searchable(ledger):
    people = {
        "obrien": CustomerFactory(
            name="Siobhán O'Brien",
            email="siobhan@obrien.test",
            phone="+353 1 555 0134",
            reference="RF-OBR-134",
        ),
        "zoe": CustomerFactory(name="Zoë Ångström", email="zoe@example.test", phone="(020) 7946-0999"),
        "zeta": CustomerFactory(name="Zeta Jones", email="zeta@example.test"),
    }
    for person in people.values():
        make_invoice(customer=person, provider=ledger.acme, total="10.00")
    return people


def listed_customers(client, url: str, typed: str, **more) -> set[str]:
    response = client.get(f"{url}?{urlencode({'customer': typed, **more})}")
    assert response.status_code == 200
    return {row.customer.name for row in response.context["page"].rows}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("O'Brien", {"Siobhán O'Brien"}),
        ("O’Brien", {"Siobhán O'Brien"}),  # a phone's curly apostrophe
        ("o‘brien", {"Siobhán O'Brien"}),
        ("Oʼbrien", {"Siobhán O'Brien"}),
        ("siobhan", {"Siobhán O'Brien"}),  # accent typed without
        ("Zoe", {"Zoë Ångström"}),
        ("zoe angst", {"Zoë Ångström"}),  # word prefixes, any order of typing accents
        ("ZOË", {"Zoë Ångström"}),
        ("RF-OBR-134", {"Siobhán O'Brien"}),  # a reference
        ("rf-obr-134", {"Siobhán O'Brien"}),
        ("+353 1 555 0134", {"Siobhán O'Brien"}),  # a phone, as typed on the card
        ("35315550134", {"Siobhán O'Brien"}),  # digits only
        ("555-0134", {"Siobhán O'Brien"}),  # the end of the number
        ("020 7946 0999", {"Zoë Ångström"}),
        ("zoe@example.test", {"Zoë Ångström"}),  # an email
        ("example.test", {"Zoë Ångström", "Zeta Jones"}),
        ("nobody", set()),
    ],
)
def test_invoice_list_customer_search(as_support, searchable, typed, expected):
    assert (
        listed_customers(as_support, reverse("invoices:list"), typed, state="all")
        - {"Ada Lovelace", "Bob Builder", "Cy Twombly"}
        == expected
    )


def test_the_payment_list_and_the_queue_search_the_same_way(as_support, searchable, ledger):
    make_payment(customer=searchable["obrien"], amount="5.00")
    assert listed_customers(as_support, reverse("payments:list"), "O’Brien") == {"Siobhán O'Brien"}
    queue = as_support.get(reverse("collections:list") + "?" + urlencode({"customer": "O’Brien", "currency": "EUR"}))
    assert {row["account"].customer.name for row in queue.context["rows"]} == {"Siobhán O'Brien"}


@pytest.mark.parametrize("typed", ["O’Brien", "Zoe", "RF-OBR-134", "555 0134", "obrien.test"])
def test_the_customer_picker_finds_them_too(as_finance, searchable, typed):
    page = as_finance.get(reverse("payments:new") + "?q=" + typed).content.decode()
    options = re.findall(r'<option value="(\d+)"', page)
    assert options and "No customer matches" not in page
    wanted = searchable["zoe"] if typed == "Zoe" else searchable["obrien"]
    assert options == [str(wanted.pk)]


def test_the_search_index_serves_the_query(ledger):
    """On a few thousand customers the planner can answer through customer_search_idx (the
    filter's expression is exactly the index's), and does when it is selective."""
    Customer.objects.bulk_create(
        Customer(
            name=f"Customer {i} Ønsker Ñandú",
            email=f"c{i}@shop{i % 50}.test",
            phone=f"+49 30 {i:07d}",
            reference=f"REF-{i:06d}",
        )
        for i in range(4000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_customer")
    for typed in ("O’Brien", "REF-001234", "+49 30 0001234"):
        sql, params = search_customers(Customer.objects.all(), typed).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "customer_search_idx" in plan, plan
    assert search_customers(Customer.objects.all(), "nandu onsker 1234").count() == 1


# --- 2. No list ranks amounts of different currencies against each other ------------------------


def test_an_amount_sort_lists_one_currency_and_says_so(as_support, ledger, monkeypatch):
    monkeypatch.setattr(billing.listing, "PAGE_SIZES", (2,))
    response = as_support.get(reverse("invoices:list") + "?sort=-total&per_page=2")
    rows = response.context["page"].rows
    assert {invoice.currency for invoice in rows} == {"EUR"}  # the currency with the most open work
    assert ledger.invoices["cy_jpy_45"] not in rows  # 10,000 JPY never ranks above 300.00 EUR
    assert "showing <strong>EUR</strong> only" in response.content.decode()
    # Keyset pages stay in that currency: the cursor links carry it.
    next_url = response.context["page"].next_url
    assert "currency=EUR" in next_url
    seen = [invoice.pk for invoice in rows]
    while next_url:
        page = as_support.get(next_url).context["page"]
        assert {invoice.currency for invoice in page.rows} == {"EUR"}
        seen += [invoice.pk for invoice in page.rows]
        next_url = page.next_url
    eur_open = Invoice.objects.filter(currency="EUR", state="open").order_by("-total", "-pk")
    assert seen == [invoice.pk for invoice in eur_open]


def test_date_and_number_sorts_stay_across_currencies(as_support, ledger):
    response = as_support.get(reverse("invoices:list") + "?sort=-issue_date")
    assert {invoice.currency for invoice in response.context["page"].rows} == {
        "EUR",
        "USD",
        "JPY",
    }
    assert "currency-scope" not in response.content.decode()


def test_the_chosen_currency_is_remembered_on_the_next_visit(as_support, ledger):
    as_support.get(reverse("payments:list") + "?currency=JPY")  # chosen once, on any list
    invoices = as_support.get(reverse("invoices:list") + "?sort=-balance_due").context["page"].rows
    assert [invoice.pk for invoice in invoices] == [ledger.invoices["cy_jpy_45"].pk]
    queue = as_support.get(reverse("collections:list"))  # the queue's default balance view too
    assert [row["account"].currency for row in queue.context["rows"]] == ["JPY"]
    assert "showing <strong>JPY</strong> only" in queue.content.decode()


def test_payment_amount_sorts_and_the_csv_keep_to_one_currency(as_support, ledger):
    rows = as_support.get(reverse("payments:list") + "?sort=-amount").context["page"].rows
    assert {payment.currency for payment in rows} == {"EUR"}
    assert ledger.payments["cy_canceled"] not in rows  # 1,000 JPY
    exported = csv_rows(as_support.get(reverse("invoices:export") + "?sort=-total&state=all"))
    assert {row["currency"] for row in exported} == {"EUR"}


def test_the_void_preview_shows_a_charged_back_payments_state(as_finance, ledger, fiona):
    invoice = ledger.invoices["ada_current"]
    payment = make_payment(customer=ledger.ada, amount="100.00")
    allocate(payment, invoice, "60.00", by=fiona)
    record_chargeback(payment, amount="10.00", by=fiona, reason="dispute")
    page = as_finance.get(reverse("invoices:void", args=[invoice.pk])).content.decode()
    row = re.search(rf'<a href="{payment.get_absolute_url()}">.*?</tr>', page, re.DOTALL).group(0)
    assert "Charged back" in row and "Unallocated" not in row
