"""The invoice list's selectors: invoice_list filters through InvoiceFilter, invoice_totals
reads the queue-total table when the filters allow.

These cases came from the deleted second list layer (invoice_queue). Where its defaults
differed, the page's are kept: without a state the list shows open invoices (`state=all`
lifts that), and it is newest issued first unless sorted (`sort=due_date` is the work
queue's oldest due first) or overdue (oldest due first).
"""

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.errors import InvalidInput
from billing.kept_totals import compact_totals
from billing.listing import currency_totals, keyset_page
from invoices.filters import INVOICE_SORTS
from invoices.models import INVOICE_QUEUE_FIGURES, InvoiceQueueTotal
from invoices.selectors import invoice_list, invoice_totals
from invoices.services import issue_credit_note, void_invoice
from tests.factories import TODAY, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def ledger(customer, provider, clerk):
    """Open invoices in every payment status, a draft and a void one, two currencies."""
    issued = TODAY - datetime.timedelta(days=60)
    due = TODAY - datetime.timedelta(days=5)

    def invoice(total, **kwargs):
        return make_invoice(customer=customer, provider=provider, total=total, issue_date=issued, **kwargs)

    unpaid = invoice("100.00", due_date=due)
    late = invoice("70.00", due_date=due - datetime.timedelta(days=40))
    partial = invoice("80.00", due_date=TODAY + datetime.timedelta(days=9))
    paid = invoice("50.00")
    overpaid = invoice("60.00")
    dollars = invoice("40.00", currency="USD", due_date=due)
    draft = invoice("30.00", issue=False)
    void = invoice("20.00")
    payment = make_payment(customer=customer, amount="500.00")
    allocate(payment, partial, D("30.00"), by=clerk)
    allocate(payment, paid, D("50.00"), by=clerk)
    allocate(payment, overpaid, D("60.00"), by=clerk)
    issue_credit_note(overpaid, amount=D("10.00"), by=clerk, reason="discount")
    void_invoice(void, by=clerk, reason="duplicate")
    return {
        "unpaid": unpaid,
        "late": late,
        "partial": partial,
        "paid": paid,
        "overpaid": overpaid,
        "dollars": dollars,
        "draft": draft,
        "void": void,
    }


def ids(queryset):
    return list(queryset.values_list("pk", flat=True))


def listed(**filters):
    return ids(invoice_list(filters=filters))


def recount(queryset):
    return currency_totals(queryset, total="total", balance_due="balance_due")


def test_each_status_lists_open_invoices_oldest_due_first(ledger):
    assert set(listed(payment_status="unpaid")) == {ledger["late"].pk, ledger["unpaid"].pk, ledger["dollars"].pk}
    dues = list(invoice_list(filters={"payment_status": "unpaid", "sort": "due_date"}).values_list("due_date", "id"))
    assert dues == sorted(dues)
    # The void invoice went back to unpaid but left every queue; the draft is in none yet.
    assert ledger["void"].pk not in listed(payment_status="unpaid")
    assert ledger["draft"].pk not in listed(payment_status="unpaid")
    assert set(listed(state="all")) == {invoice.pk for invoice in ledger.values()}
    assert listed(state="draft") == [ledger["draft"].pk]


@pytest.mark.parametrize(
    ("status", "invoice"), [("partially_paid", "partial"), ("paid", "paid"), ("overpaid", "overpaid")]
)
def test_one_open_invoice_per_other_status(ledger, status, invoice):
    assert listed(payment_status=status) == [ledger[invoice].pk]


def test_overdue_is_unpaid_or_partially_paid_due_before_today(ledger):
    overdue = set(ids(invoice_list(filters={"overdue": "1"}, today=TODAY)))
    assert overdue == {ledger["unpaid"].pk, ledger["late"].pk, ledger["dollars"].pk}
    assert ids(invoice_list(filters={"overdue": "1", "payment_status": "paid"}, today=TODAY)) == []
    later = TODAY + datetime.timedelta(days=10)
    assert ledger["partial"].pk in ids(invoice_list(filters={"overdue": "1"}, today=later))


@pytest.mark.parametrize(
    "params",
    [
        {"payment_status": "unpaid"},
        {"payment_status": ["unpaid", "partially_paid"]},
        {"payment_status": "overpaid"},
        {"overdue": "1"},
        {"overdue": "1", "currency": "USD"},
        {"state": "void"},
        {"state": "draft"},
        {},
    ],
)
def test_totals_from_the_queue_total_table_equal_a_recount(ledger, params):
    cached = invoice_totals(filters=params, today=TODAY)
    counted = recount(invoice_list(filters=params, today=TODAY))
    assert cached == counted
    assert cached.count == invoice_list(filters=params, today=TODAY).count()


def test_totals_are_per_currency(ledger):
    totals = invoice_totals(filters={"payment_status": "unpaid"})
    assert totals.count == 3
    assert totals.by_currency == [
        {"currency": "EUR", "count": 2, "balance_due": D("170.00"), "total": D("170.00")},
        {"currency": "USD", "count": 1, "balance_due": D("40.00"), "total": D("40.00")},
    ]
    assert invoice_totals(filters={"payment_status": "overpaid"}).by_currency[0]["balance_due"] == D("-10.00")


def test_compaction_folds_the_deltas_and_changes_no_answer(ledger):
    statuses = ("unpaid", "partially_paid", "paid", "overpaid")
    before = {s: invoice_totals(filters={"payment_status": s}) for s in statuses}
    rows_before = InvoiceQueueTotal.objects.count()
    kept = compact_totals(INVOICE_QUEUE_FIGURES)
    assert kept == InvoiceQueueTotal.objects.count() < rows_before
    assert not InvoiceQueueTotal.objects.filter(invoices=0, balance_due=0, total=0).exists()
    assert before == {s: invoice_totals(filters={"payment_status": s}) for s in before}
    assert_invariants()


def test_a_customer_filter_is_counted_from_the_rows(ledger, customer):
    totals = invoice_totals(filters={"payment_status": "unpaid", "customer": customer.name})
    assert totals.count == 3


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"payment_status": "settled"}, "payment_status: Select a valid choice"),
        ({"provider": "bob"}, "provider: Select a valid choice"),
        ({"due_from": "yesterday"}, "due_from: Enter a valid date"),
    ],
)
def test_bad_filters_are_refused_with_a_message(filters, message):
    with pytest.raises(InvalidInput, match=message):
        invoice_list(filters=filters)
    with pytest.raises(InvalidInput, match=message):
        invoice_totals(filters=filters)


def test_pages_from_either_end_are_the_same_slices(customer, provider, rf):
    for n in range(7):
        make_invoice(customer=customer, provider=provider, due_date=TODAY + datetime.timedelta(days=30 + n % 3))
    filters = {"payment_status": "unpaid", "sort": "due_date"}
    queryset = invoice_list(filters=filters)
    everything = ids(queryset)

    def page(request):
        return keyset_page(request, queryset, INVOICE_SORTS["due_date"], per_page=3, total_count=7)

    pages = [page(rf.get("/invoices/", filters))]
    while pages[-1].has_next:
        pages.append(page(rf.get(pages[-1].next_url)))
    assert [[row.pk for row in p.rows] for p in pages] == [everything[0:3], everything[3:6], everything[6:7]]
    last = page(rf.get("/invoices/", {**filters, "last": "1"}))
    assert (last.number, [row.pk for row in last.rows]) == (3, everything[6:7])


def test_the_compaction_command_keeps_every_answer(ledger):
    from django.core.management import call_command

    before = invoice_totals(filters={"payment_status": "unpaid"})
    call_command("compact_queue_totals")
    assert invoice_totals(filters={"payment_status": "unpaid"}) == before
    assert_invariants()
