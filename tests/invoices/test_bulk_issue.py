"""issue_new_invoices: many new invoices issued in one set-based write, the same as create_invoice
then issue_invoice for each in turn."""

import datetime
from decimal import Decimal

import pytest

from billing.errors import InvalidInput
from billing.models import Account, Provider
from invoices.models import Invoice, InvoiceLine, InvoiceStatusChange
from invoices.services import create_invoice, issue_invoice, issue_new_invoices
from ledger.models import Entry
from tests.factories import CustomerFactory, make_invoice
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date.today()


def arguments(customers, provider, other_provider):
    """Two customers, two providers, several lines, an issue date given or not (today), an
    account that does not exist yet (the first customer's with the other provider)."""
    first, second = customers
    past = TODAY - datetime.timedelta(days=40)
    return [
        dict(customer=first, provider=provider, currency="EUR", lines=[("Cleaning", "2", "30.00")], due_date=TODAY),
        dict(
            customer=second,
            provider=provider,
            currency="EUR",
            lines=[("Windows", "1", "12.50"), ("Ladder", "0.5", "3.33")],
            issue_date=past,
            due_date=past + datetime.timedelta(days=30),
        ),
        dict(customer=first, provider=other_provider, currency="EUR", lines=[("Audit", "1", "99")], due_date=TODAY),
        dict(customer=first, provider=provider, currency="EUR", lines=[("Free visit", "1", "0")], due_date=TODAY),
    ]


def what_was_written(customers):
    """Everything issuing leaves behind for these customers, without ids, numbers and times."""
    invoices = Invoice.objects.filter(customer__in=customers).order_by("id")
    rows = list(
        invoices.values_list(
            "provider__code", "account__provider__code", "state", "payment_status", "issue_date", "due_date"
        )
    )
    figures = list(invoices.values_list("total", "balance_due", "paid_total", "credited_total", "kind"))
    lines = list(
        InvoiceLine.objects.filter(invoice__in=invoices)
        .order_by("invoice_id", "position")
        .values_list("position", "description", "quantity", "unit_price", "amount")
    )
    history = list(
        InvoiceStatusChange.objects.filter(invoice__in=invoices)
        .order_by("invoice_id", "id")
        .values_list("field", "old", "new", "reason", "created_by__username")
    )
    journal = list(
        Entry.objects.filter(invoice__in=invoices)
        .order_by("invoice_id")
        .values_list("kind", "amount", "effective_date", "currency", "account__provider__code")
    )
    accounts = list(
        Account.objects.filter(customer__in=customers)
        .order_by("provider__code", "customer__name")
        .values_list("provider__code", "balance_due", "open_invoice_count", "oldest_due_date")
    )
    return rows, figures, lines, history, journal, accounts


def numbers(customers):
    return list(Invoice.objects.filter(customer__in=customers).order_by("id").values_list("provider_id", "sequence"))


def test_many_at_once_write_what_one_by_one_writes(provider, other_provider, clerk):
    one_by_one = [CustomerFactory(name="A1"), CustomerFactory(name="B1")]
    at_once = [CustomerFactory(name="A2"), CustomerFactory(name="B2")]
    for given in arguments(one_by_one, provider, other_provider):
        issue_invoice(create_invoice(**given, by=clerk), by=clerk)
    counters = dict(Provider.objects.values_list("pk", "last_invoice_number"))

    issued = issue_new_invoices(arguments(at_once, provider, other_provider), by=clerk)

    assert what_was_written(at_once) == what_was_written(one_by_one)
    assert [invoice.pk for invoice in issued] == list(
        Invoice.objects.filter(customer__in=at_once).order_by("id").values_list("pk", flat=True)
    )
    # Each provider's next numbers, without gaps, in the list's order.
    assert numbers(at_once) == [
        (provider.pk, counters[provider.pk] + 1),
        (provider.pk, counters[provider.pk] + 2),
        (other_provider.pk, counters[other_provider.pk] + 1),
        (provider.pk, counters[provider.pk] + 3),
    ]
    assert dict(Provider.objects.values_list("pk", "last_invoice_number")) == {
        provider.pk: counters[provider.pk] + 3,
        other_provider.pk: counters[other_provider.pk] + 1,
    }
    assert [invoice.number for invoice in issued] == list(
        Invoice.objects.filter(customer__in=at_once).order_by("id").values_list("number", flat=True)
    )
    assert issued[0].number == f"{provider.code}-{counters[provider.pk] + 1:06d}"
    assert what_was_written(at_once)[1][3] == (D("0.00"), D("0.00"), D("0.00"), D("0.00"), "standard")
    assert_invariants()


def test_one_refused_refuses_them_all(provider, other_provider, clerk):
    customers = [CustomerFactory(), CustomerFactory()]
    make_invoice(customer=customers[0], provider=provider, total="10.00")
    given = arguments(customers, provider, other_provider)
    given[2]["issue_date"] = TODAY + datetime.timedelta(days=1)  # due the day before it is issued
    before = (Invoice.objects.count(), Account.objects.count(), Entry.objects.count())
    counters = dict(Provider.objects.values_list("pk", "last_invoice_number"))

    with pytest.raises(InvalidInput, match=f"The due date {TODAY} is before the issue date"):
        issue_new_invoices(given, by=clerk)

    assert (Invoice.objects.count(), Account.objects.count(), Entry.objects.count()) == before
    assert dict(Provider.objects.values_list("pk", "last_invoice_number")) == counters


def test_without_an_issue_date_it_is_issued_today_and_a_due_date_before_today_is_refused(provider, clerk):
    """issue_invoice's check of a draft without an issue date: issued today, so due today or later."""
    customer = CustomerFactory()
    late = dict(customer=customer, provider=provider, currency="EUR", lines=[("A", "1", "5")])
    yesterday = TODAY - datetime.timedelta(days=1)
    draft = create_invoice(**late, due_date=yesterday, by=clerk)
    with pytest.raises(InvalidInput, match=f"The due date {yesterday} is before the issue date {TODAY}"):
        issue_invoice(draft, by=clerk)
    with pytest.raises(InvalidInput, match=f"The due date {yesterday} is before the issue date {TODAY}"):
        issue_new_invoices([dict(late, due_date=TODAY), dict(late, due_date=yesterday)], by=clerk)
    assert not Invoice.objects.filter(customer=customer).exclude(pk=draft.pk).exists()
    (issued,) = issue_new_invoices([dict(late, due_date=TODAY)], by=clerk)
    assert (issued.issue_date, issued.state) == (TODAY, "open")


def test_an_orders_invoice_and_bad_lines_are_refused(provider, clerk):
    from orders.services import create_order

    customer = CustomerFactory()
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 1, "30")], by=clerk)
    with pytest.raises(InvalidInput, match="billed by orders.services.invoice_order"):
        issue_new_invoices(
            [
                dict(
                    customer=customer,
                    provider=provider,
                    currency="EUR",
                    lines=[("Lamp", "1", "30")],
                    due_date=TODAY,
                    order=order,
                )
            ],
            by=clerk,
        )
    with pytest.raises(InvalidInput, match="Line 1 needs a description"):
        issue_new_invoices(
            [dict(customer=customer, provider=provider, currency="EUR", lines=[("", "1", "30")], due_date=TODAY)],
            by=clerk,
        )
    assert not Invoice.objects.filter(customer=customer).exists()
    assert issue_new_invoices([], by=clerk) == []


def test_an_unknown_or_missing_argument_is_refused_as_python_refuses_it(provider, clerk):
    with pytest.raises(TypeError, match="missing required keyword arguments: due_date, lines"):
        create_invoice(customer=CustomerFactory(), provider=provider, currency="EUR", by=clerk)
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        create_invoice(
            customer=CustomerFactory(),
            provider=provider,
            currency="EUR",
            lines=[("A", "1", "1")],
            due_date=TODAY,
            colour="red",
            by=clerk,
        )
