"""The list pages' totals from the trigger-kept queue tables equal the aggregate over the rows.

For every filter combination the kept totals answer, the count and per-currency sums
shown must be exactly what one COUNT/SUM over the filtered rows gives.
"""

import datetime
import itertools

import pytest
from django.db import connection
from django.test import RequestFactory

from allocations.services import allocate
from billing.listing import currency_totals
from invoices.filters import InvoiceFilter
from invoices.models import Invoice
from invoices.selectors import invoice_totals
from invoices.services import issue_credit_note, void_invoice
from payments.filters import PaymentFilter
from payments.models import Payment
from payments.selectors import payment_totals
from payments.services import cancel_payment, record_chargeback
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


@pytest.fixture
def books(settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "manual"
    provider = ProviderFactory(code="KEPT")
    for currency, scale in (("EUR", 1), ("USD", 2)):
        customer = CustomerFactory()
        old = TODAY - datetime.timedelta(days=60)
        invoices = [
            make_invoice(
                customer=customer,
                provider=provider,
                total=str(100 * scale + i),
                currency=currency,
                issue_date=old,
                due_date=old + datetime.timedelta(days=10 * i),
            )
            for i in range(8)
        ]
        make_invoice(customer=customer, provider=provider, currency=currency, issue=False)  # a draft
        payments = [make_payment(customer=customer, amount=str(150 * scale), currency=currency) for _ in range(4)]
        allocate(payments[0], invoices[0], invoices[0].total, by=None)
        allocate(payments[1], invoices[1], "40.00", by=None)
        allocate(payments[2], invoices[2], invoices[2].total, by=None)
        issue_credit_note(invoices[2], amount="10.00", reason="discount", by=None)  # overpaid
        record_chargeback(payments[2], amount="100.00", reason="dispute", by=None)  # overallocated (manual)
        void_invoice(invoices[3], reason="wrong", by=None)
        cancel_payment(payments[3], reason="duplicate", by=None)


def _aggregate(filterset, **sums):
    return currency_totals(filterset.qs, None, **sums)


INVOICE_QUERIES = [
    {"state": state, "payment_status": list(statuses), "overdue": overdue, "currency": currency}
    for state, statuses, overdue, currency in itertools.product(
        ["", "open", "draft", "all"],
        [(), ("unpaid",), ("partially_paid", "overpaid"), ("paid",)],
        ["", "on"],
        ["", "USD"],
    )
]


@pytest.mark.parametrize("query", INVOICE_QUERIES, ids=str)
def test_invoice_kept_totals_equal_the_aggregate(books, query):
    params = {k: v for k, v in query.items() if v}
    request = RequestFactory().get("/invoices/", params)
    filterset = InvoiceFilter(request.GET, queryset=Invoice.objects.all())
    assert filterset.is_valid()
    assert invoice_totals(filters=request.GET) == _aggregate(filterset, total="total", balance_due="balance_due")


PAYMENT_QUERIES = [
    {"queue": queue, "state": state, "allocation_status": list(statuses), "currency": currency}
    for queue, state, statuses, currency in itertools.product(
        ["", "needs_work"],
        ["", "settled", "canceled", "charged_back"],
        [(), ("unallocated",), ("overallocated", "partially_allocated"), ("fully_allocated",)],
        ["", "EUR"],
    )
]


@pytest.mark.parametrize("query", PAYMENT_QUERIES, ids=str)
def test_payment_kept_totals_equal_the_aggregate(books, query):
    params = {k: v for k, v in query.items() if v}
    request = RequestFactory().get("/payments/", params)
    filterset = PaymentFilter(request.GET, queryset=Payment.objects.all())
    assert filterset.is_valid()
    assert payment_totals(filters=request.GET) == _aggregate(filterset, amount="amount", unallocated="unallocated")


def test_other_filters_fall_back_to_the_aggregate(books):
    request = RequestFactory().get("/invoices/", {"customer": "Customer", "payment_status": "unpaid"})
    filterset = InvoiceFilter(request.GET, queryset=Invoice.objects.all())
    assert filterset.is_valid()
    assert invoice_totals(filters=request.GET) == _aggregate(filterset, total="total", balance_due="balance_due")


def test_nav_counts_equal_the_queues(books):
    from backoffice.context_processors import work_queue_counts

    counts = work_queue_counts()
    open_invoices = Invoice.objects.filter(state="open")
    for status in ("unpaid", "partially_paid", "overpaid"):
        assert counts[status] == open_invoices.filter(payment_status=status).count()
    working = Payment.objects.filter(state__in=["settled", "charged_back"])
    for status in ("unallocated", "partially_allocated", "overallocated"):
        assert counts[status] == working.filter(allocation_status=status).count()
    assert counts["overallocated"] > 0 and counts["overpaid"] > 0


def _churn(table: str, figures: list[str], rows_wanted: int) -> int:
    """Append zero-sum delta rows to a queue-total table, as a day of clerks' writes would
    (each change appends a row leaving a key and one entering it); returns the table's size."""
    with connection.cursor() as cursor:
        keys = [f.column for f in _queue_model(table)._meta.concrete_fields if f.column not in {"id", *figures}]
        cursor.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(keys)} FROM {table}) k")
        pairs = -(-rows_wanted // (2 * cursor.fetchone()[0]))
        deltas = ", ".join(f"s.sign * {n}.25" for n in range(1, len(figures)))
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(keys)}, {', '.join(figures)}) "
            f"SELECT {', '.join(f'k.{key}' for key in keys)}, s.sign, {deltas} "
            f"FROM (SELECT DISTINCT {', '.join(keys)} FROM {table}) k, generate_series(1, %s) g, "
            f"(VALUES (1), (-1)) s(sign)",
            [pairs],
        )
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def _queue_model(table: str):
    from invoices.models import InvoiceQueueTotal
    from payments.models import PaymentQueueTotal

    return {m._meta.db_table: m for m in (InvoiceQueueTotal, PaymentQueueTotal)}[table]


LIST_CASES = [
    (
        "/invoices/",
        "invoices_invoicequeuetotal",
        ["invoices", "balance_due", "total"],
        [{}, {"state": "all"}, {"payment_status": "unpaid"}, {"overdue": "on"}, {"currency": "USD", "state": "open"}],
    ),
    (
        "/payments/",
        "payments_paymentqueuetotal",
        ["payments", "amount", "unallocated"],
        [{}, {"queue": "needs_work"}, {"allocation_status": "overallocated"}, {"state": "canceled", "currency": "EUR"}],
    ),
]


@pytest.mark.parametrize(("path", "table", "figures", "queries"), LIST_CASES, ids=[c[0] for c in LIST_CASES])
def test_lists_answer_past_20000_delta_rows_and_a_get_writes_nothing(books, client, path, table, figures, queries):
    """The crash of issue 8: past 20,000 delta rows the page folded them inside the GET and
    the fold named the count column twice (500 for everyone). Now reading never writes,
    and the totals stay exact however many deltas wait for compact_queue_totals."""
    size = _churn(table, figures, 20_500)
    assert size > 20_000
    client.force_login(user_with_role("support"))
    for query in queries:
        response = client.get(path, query)
        assert response.status_code == 200, (query, response.status_code)
        filterset = response.context["filter"]
        sums = (
            {"total": "total", "balance_due": "balance_due"}
            if path == "/invoices/"
            else {"amount": "amount", "unallocated": "unallocated"}
        )
        assert response.context["totals"] == _aggregate(filterset, **sums), query
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == size  # nothing folded, nothing written by the GETs
