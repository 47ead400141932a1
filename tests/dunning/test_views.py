"""The collections queue, an account's page, and collection notes (append-only)."""

import datetime
from decimal import Decimal

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Account
from dunning.models import CollectionNote
from dunning.selectors import aging
from tests.factories import CustomerFactory, make_invoice
from tests.support.actions import form_token
from tests.support.dataset import days
from tests.support.helpers import row_ids

pytestmark = pytest.mark.django_db

D = Decimal


def account_of(ledger, name: str) -> Account:
    return Account.objects.get(pk=ledger.invoices[name].account_id)


def queue(client, query: str = ""):
    return client.get(reverse("collections:list") + query)


def test_queue_lists_owing_accounts_largest_balance_first_within_one_currency(as_support, ledger):
    """The default view ranks by balance, so it lists one currency (DESIGN.md section 5): the one
    with the most open work (EUR here); JPY's 10,000 never ranks above EUR's 400.00."""
    response = queue(as_support)
    expected = [
        account_of(ledger, "ada_current"),  # 400.00 EUR: 100 overdue + 300 not due
        account_of(ledger, "ada_partial_75"),  # 150.00 EUR
        account_of(ledger, "bob_due_today"),  # 40.00 EUR: the overpaid invoice is not owed
    ]
    assert row_ids(response) == [a.pk for a in expected]
    assert [a.balance_due for a in expected] == [D("400"), D("150"), D("40")]
    body = response.content.decode()
    assert "+44 20 7946 0001" in body and "ada@analytical.test" in body  # support can call or write
    assert "3</strong> accounts owing" in body
    assert "showing <strong>EUR</strong> only" in body
    assert row_ids(queue(as_support, "?currency=JPY")) == [account_of(ledger, "cy_jpy_45").pk]


def test_sort_by_age_puts_the_oldest_debt_first(as_support, ledger):
    ids = row_ids(queue(as_support, "?sort=age"))
    accounts = Account.objects.filter(pk__in=ids)
    assert ids == [a.pk for a in sorted(accounts, key=lambda a: (a.oldest_due_date, a.pk))]
    assert ids[0] == account_of(ledger, "bob_usd_100").pk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?customer=lovelace", {"ada_current", "ada_partial_75"}),
        ("?customer=BUILDER.TEST", {"bob_usd_100", "bob_due_today"}),
        ("?currency=EUR", {"ada_current", "ada_partial_75", "bob_due_today"}),
        ("?min_balance=150", {"cy_jpy_45", "ada_current", "ada_partial_75"}),
        ("?min_balance=150&currency=EUR&customer=ada", {"ada_current", "ada_partial_75"}),
        ("?customer=nobody", set()),
    ],
)
def test_queue_filters(as_support, ledger, query, expected):
    query += "&sort=age"  # across currencies: the balance sort would keep to one
    assert set(row_ids(queue(as_support, query))) == {account_of(ledger, n).pk for n in expected}


def test_provider_filter(as_support, ledger):
    ids = set(row_ids(queue(as_support, f"?provider={ledger.acme.pk}")))
    assert ids == {account_of(ledger, "ada_current").pk, account_of(ledger, "bob_due_today").pk}


def test_aging_buckets_of_the_page(as_support, ledger):
    rows = {row["account"].pk: row["aging"] for row in queue(as_support, "?sort=age").context["rows"]}
    zero = D("0")
    assert rows[account_of(ledger, "ada_current").pk] == [D("300"), D("100"), zero, zero, zero]
    assert rows[account_of(ledger, "cy_jpy_45").pk] == [zero, zero, D("10000"), zero, zero]
    assert rows[account_of(ledger, "ada_partial_75").pk] == [zero, zero, zero, D("150"), zero]
    assert rows[account_of(ledger, "bob_usd_100").pk] == [zero, zero, zero, zero, D("120")]
    assert rows[account_of(ledger, "bob_due_today").pk] == [D("40"), zero, zero, zero, zero]  # due today is current


def test_aging_bucket_edges(ledger):
    customer = CustomerFactory()
    for past_due, total in [(0, "1"), (1, "2"), (30, "4"), (31, "8"), (60, "16"), (61, "32"), (90, "64"), (91, "128")]:
        invoice = make_invoice(
            customer=customer, provider=ledger.acme, total=total, due_date=days(-past_due), issue_date=days(-200)
        )
    buckets = aging([invoice.account_id], days(0))[invoice.account_id]
    assert buckets == {"current": D("1"), "d1_30": D("6"), "d31_60": D("24"), "d61_90": D("96"), "d90_plus": D("128")}


def test_aging_and_notes_cost_one_query_each_whatever_the_page_size(as_support, ledger):
    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            assert queue(as_support, "?sort=age").status_code == 200
        return len(captured)

    count_queries()  # warm the nav-count cache
    before = count_queries()
    for _ in range(4):
        make_invoice(customer=CustomerFactory(), provider=ledger.bolt, total="10.00")
    assert len(row_ids(queue(as_support, "?sort=age"))) == 9
    assert count_queries() == before


def test_account_page_shows_open_invoices_oldest_first(as_support, ledger):
    account = account_of(ledger, "ada_current")
    response = as_support.get(reverse("collections:account", args=[account.pk]))
    assert row_ids(response) == [ledger.invoices["ada_overdue_30"].pk, ledger.invoices["ada_current"].pk]
    body = response.content.decode()
    assert "400.00 EUR" in body and "+44 20 7946 0001" in body
    assert '<span class="overdue-text">30</span>' in body  # days overdue
    assert "No notes yet" in body


def test_unknown_account_is_404(as_support, ledger):
    assert as_support.get(reverse("collections:account", args=[999999])).status_code == 404


def post_note(client, account, **data):
    """Post a note the way the page does: with the one-time token of a freshly loaded form."""
    data.setdefault("form_token", form_token(client.get(reverse("collections:account", args=[account.pk]))))
    return client.post(reverse("collections:add_note", args=[account.pk]), data)


def test_back_and_resubmit_saves_the_note_once(as_support, ledger):
    account = account_of(ledger, "ada_current")
    token = form_token(as_support.get(reverse("collections:account", args=[account.pk])))
    data = {"outcome": "reached", "text": "Will pay Friday.", "form_token": token}
    first = as_support.post(reverse("collections:add_note", args=[account.pk]), data)
    again = as_support.post(reverse("collections:add_note", args=[account.pk]), data)
    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"]
    assert CollectionNote.objects.filter(account=account).count() == 1
    page = as_support.get(again["Location"]).content.decode()
    assert "already submitted" in page


def test_a_note_without_a_valid_token_is_not_saved(as_support, ledger):
    account = account_of(ledger, "ada_current")
    response = post_note(as_support, account, outcome="reached", form_token="forged")
    assert response.status_code == 400 and not CollectionNote.objects.exists()


def test_adding_a_note(as_support, ledger, staff):
    account = account_of(ledger, "ada_current")
    response = post_note(
        as_support,
        account,
        outcome="promised_to_pay",
        promised_date=days(7).isoformat(),
        promised_amount="100.00",
        text="  Will pay the overdue one next week.  ",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("collections:account", args=[account.pk]) + "#notes"
    note = CollectionNote.objects.get()
    assert (note.account, note.outcome, note.promised_date, note.promised_amount, note.text, note.created_by) == (
        account, "promised_to_pay", days(7), D("100.00"), "Will pay the overdue one next week.", staff["support"],
    )  # fmt: skip
    page = as_support.get(response["Location"]).content.decode()
    assert "Note added: Promised to pay." in page and "Will pay the overdue one next week." in page
    assert "100.00 EUR" in page
    latest = {row["account"].pk: row["note"] for row in queue(as_support, "?sort=age").context["rows"]}
    assert latest[account.pk] == note and latest[account_of(ledger, "cy_jpy_45").pk] is None


def test_the_queue_shows_each_accounts_latest_note(as_support, ledger):
    account = account_of(ledger, "ada_partial_75")
    for outcome in ("no_answer", "left_message", "reached"):
        assert post_note(as_support, account, outcome=outcome).status_code == 302
    rows = {row["account"].pk: row["note"] for row in queue(as_support).context["rows"]}
    assert rows[account.pk].outcome == "reached"


def test_finance_can_add_notes_too(client, ledger, staff):
    client.force_login(staff["finance"])
    assert post_note(client, account_of(ledger, "bob_usd_100"), outcome="no_answer").status_code == 302
    assert CollectionNote.objects.get().created_by == staff["finance"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "outcome", "This field is required."),
        ({"outcome": "bribed"}, "outcome", "Select a valid choice."),
        ({"outcome": "promised_to_pay", "promised_amount": "12.345"}, "promised_amount", "decimal"),
        ({"outcome": "promised_to_pay", "promised_amount": "-5"}, "promised_amount", "greater than zero"),
        ({"outcome": "promised_to_pay", "promised_amount": "abc"}, "promised_amount", "is not a number"),
        ({"outcome": "promised_to_pay", "promised_date": "2020-01-01"}, "promised_date", "cannot be in the past"),
        ({"outcome": "promised_to_pay", "promised_date": "soon"}, "promised_date", "Enter a valid date."),
        ({"outcome": "no_answer", "promised_amount": "10"}, "outcome", "Promised to pay"),
        ({"outcome": "disputed"}, "text", "Say what the customer disputes."),
        ({"outcome": "other", "text": "   "}, "text", "Say what happened."),
        ({"outcome": "reached", "text": "x" * 2001}, "text", "2000"),
    ],
)
def test_bad_notes_show_errors_and_write_nothing(as_support, ledger, data, field, message):
    account = account_of(ledger, "ada_current")
    response = post_note(as_support, account, **data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert "The note was not saved" in response.content.decode()
    assert not CollectionNote.objects.exists()


def test_yen_promises_have_no_decimals(as_support, ledger):
    account = account_of(ledger, "cy_jpy_45")
    response = post_note(as_support, account, outcome="promised_to_pay", promised_amount="5000.50")
    assert response.status_code == 400 and "JPY" in " ".join(response.context["form"].errors["promised_amount"])
    assert post_note(as_support, account, outcome="promised_to_pay", promised_amount="5000").status_code == 302


def test_get_on_the_note_url_goes_to_the_account(as_support, ledger):
    account = account_of(ledger, "ada_current")
    response = as_support.get(reverse("collections:add_note", args=[account.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("collections:account", args=[account.pk])


def test_notes_are_append_only_at_the_database(as_support, ledger):
    account = account_of(ledger, "ada_current")
    post_note(as_support, account, outcome="reached", text="Fine.")
    note = CollectionNote.objects.get()
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        CollectionNote.objects.filter(pk=note.pk).update(text="Rewritten")
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        note.delete()
    note.refresh_from_db()
    assert note.text == "Fine."


def test_promised_amount_is_positive_at_the_database(ledger):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        CollectionNote.objects.create(
            account=account_of(ledger, "ada_current"), outcome="reached", promised_amount=D("-1")
        )


def test_empty_queue(as_support, ledger):
    body = queue(as_support, "?min_balance=1000000").content.decode()
    assert "No accounts owing match these filters." in body


def test_dates_in_the_queue_use_today(as_support, ledger):
    body = queue(as_support, "?sort=age").content.decode()
    assert "100 days past due" in body and datetime.date.isoformat(days(-100)) in body
