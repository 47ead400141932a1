"""manage.py seed_demo: believable books through the services, every status present, invariants hold."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F
from django.test import RequestFactory

from allocations.models import Allocation
from billing.models import Customer, Provider
from billing.status import AllocationStatus, PaymentStatus
from invoices.models import CreditNoteLine, Invoice
from orders.models import BillingStatus, InvoicingPolicy, Order, OrderLine, OrderState
from payments.models import Payment
from tests.invariants import assert_invariants


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def fingerprint() -> tuple:
    """The business content of the books, without database ids or creation times."""
    invoices = sorted(
        Invoice.objects.values_list(
            "customer__reference",
            "number",
            "state",
            "payment_status",
            "currency",
            "total",
            "credited_total",
            "paid_total",
            "issue_date",
            "due_date",
        ),
        key=str,
    )
    payments = sorted(
        Payment.objects.values_list(
            "customer__reference",
            "amount",
            "currency",
            "method",
            "reference",
            "received_at",
            "state",
            "allocation_status",
            "refunded_total",
            "charged_back_total",
            "allocated_total",
        ),
        key=str,
    )
    customers = sorted(Customer.objects.values_list("reference", "name", "email", "phone"))
    return customers, invoices, payments


@pytest.mark.django_db
def test_seed_demo_has_every_status_and_keeps_the_invariants():
    output = seed("--customers", "14", "--seed", "7", "--workers", "1")

    assert set(Invoice.objects.values_list("payment_status", flat=True)) == set(PaymentStatus.values)
    assert set(Invoice.objects.values_list("state", flat=True)) == {"draft", "open", "void"}
    assert set(Payment.objects.values_list("allocation_status", flat=True)) == set(AllocationStatus.values)
    assert set(Payment.objects.values_list("state", flat=True)) == {"pending", "settled", "canceled", "charged_back"}
    assert {"EUR", "USD", "GBP", "JPY"} <= set(Invoice.objects.values_list("currency", flat=True))
    assert Provider.objects.count() == 5 and Customer.objects.count() == 14
    assert Customer.objects.filter(reference="C-00001").exists()
    # Installments, and one payment over invoices of several providers.
    assert Invoice.objects.filter(allocations__amount__gt=0).values("pk").annotate().count() > 0
    assert any(
        len({row.invoice.provider_id for row in payment.allocations.all()}) >= 2
        for payment in Payment.objects.prefetch_related("allocations__invoice")
    )
    assert Invoice.objects.filter(number__isnull=True, state="open").count() == 0
    assert_invariants()
    for text in ("Invoices by state and payment status:", "Payments by state and allocation status:", "open / paid"):
        assert text in output


@pytest.mark.django_db
def test_demo_users_and_groups():
    seed("--customers", "2", "--workers", "1")
    request = RequestFactory().post("/login/")  # the sign-in throttle (django-axes) needs the request
    assert authenticate(request, username="admin", password="admin").is_superuser
    finance = authenticate(request, username="finance", password="finance")
    support = authenticate(request, username="support", password="support")
    assert list(finance.groups.values_list("name", flat=True)) == ["finance"]
    assert list(support.groups.values_list("name", flat=True)) == ["support"]
    assert not finance.is_superuser and not support.is_staff


@pytest.mark.django_db
def test_if_empty_does_nothing_when_invoices_exist():
    seed("--customers", "2", "--workers", "1")
    before = fingerprint(), get_user_model().objects.count()
    output = seed("--if-empty", "--customers", "5", "--workers", "1")
    assert "nothing seeded" in output
    assert (fingerprint(), get_user_model().objects.count()) == before


@pytest.mark.django_db
def test_same_seed_same_books():
    with transaction.atomic():
        seed("--customers", "6", "--seed", "3", "--workers", "1")
        first = fingerprint()
        transaction.set_rollback(True)
    seed("--customers", "6", "--seed", "3", "--workers", "1")
    assert fingerprint() == first
    assert first[1], "no invoices were made"


@pytest.mark.django_db(transaction=True)
def test_worker_processes_make_the_same_books_as_one_process():
    seed("--customers", "8", "--seed", "5", "--workers", "1")
    sequential = fingerprint()
    call_command("flush", "--noinput", stdout=StringIO())
    output = seed("--customers", "8", "--seed", "5", "--workers", "2")
    assert "2 worker(s)" in output
    assert fingerprint() == sequential
    assert_invariants()


@pytest.mark.django_db
def test_refuses_when_demo_data_is_not_allowed(settings):
    settings.SETTLE_DEMO_ALLOWED = False
    with pytest.raises(CommandError, match="refuses to run"):
        seed("--customers", "2", "--workers", "1")
    assert not get_user_model().objects.filter(username="admin").exists()
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_seed_demo_has_orders_in_every_status_made_through_the_services():
    output = seed("--customers", "4", "--seed", "7", "--workers", "1")

    assert set(Order.objects.values_list("billing_status", flat=True)) == set(BillingStatus.values)
    assert set(Order.objects.values_list("payment_status", flat=True)) == set(PaymentStatus.values)
    assert set(Order.objects.values_list("state", flat=True)) == set(OrderState.values)
    assert set(Order.objects.values_list("invoicing", flat=True)) == set(InvoicingPolicy.values)
    # A fee added after the order was paid, billed alone on an invoice of kind fee.
    assert OrderLine.objects.filter(kind="fee", invoice_lines__invoice__kind="fee").exists()
    # A partial shipment: delivered and invoiced less than ordered.
    assert OrderLine.objects.filter(order__invoicing="delivered", invoiced_quantity__gt=0).filter(
        invoiced_quantity__lt=F("quantity")
    )
    # Credits by quantity, with and without reopen_quantity.
    assert set(CreditNoteLine.objects.values_list("credit_note__reopen_quantity", flat=True)) == {True, False}
    # A deposit applied at invoicing, and one payment over invoices of two orders.
    assert Allocation.objects.filter(reason__startswith="credit applied at invoicing of order").exists()
    assert any(
        len({row.invoice.order_id for row in payment.allocations.all()} - {None}) == 2
        for payment in Payment.objects.filter(allocations__invoice__order__isnull=False).prefetch_related(
            "allocations__invoice"
        )
    )
    assert_invariants()
    assert "Orders by state, billing status and payment status:" in output


@pytest.mark.django_db
def test_seed_demo_has_plans_with_late_payments_penalties_a_waiver_a_rule_change_and_a_notice():
    from documents.models import Document
    from invoices.models import CreditNote
    from plans.models import PenaltyRule, PenaltyWaiver, Plan

    output = seed("--customers", "8", "--seed", "5", "--workers", "1")
    assert set(Plan.objects.values_list("state", flat=True)) == {"active", "paid_off"}
    assert Plan.objects.count() == 4
    assert Invoice.objects.filter(kind="penalty").exists()
    assert Invoice.objects.filter(
        kind="installment", payment_status="paid", allocations__payment__received_at__date__gt=F("due_date")
    ).exists()
    assert CreditNote.objects.filter(reason_code="waiver", invoice__kind="penalty").count() == 1
    assert PenaltyWaiver.objects.count() == 1
    assert (
        PenaltyRule.objects.values("plan")
        .annotate()
        .filter(plan__penalty_rules__effective_from__gt=F("plan__issue_date"))
        .exists()
    )
    assert Document.objects.filter(kind="installment_notice").count() == 2
    assert "Plans by state:" in output and "penalty waived" in output
    assert_invariants()

    # A second run over the same books adds no plan (the demo's plans are made once).
    from demo.plans import seed_plans

    before = (Plan.objects.count(), Invoice.objects.count(), Payment.objects.count(), Document.objects.count())
    seed_plans(list(Customer.objects.all()), list(Provider.objects.all()))
    assert (Plan.objects.count(), Invoice.objects.count(), Payment.objects.count(), Document.objects.count()) == before


@pytest.mark.django_db
def test_seed_demo_has_workshops_one_full_with_a_wait_list_and_cancellations():
    from invoices.models import CreditNote
    from registrations.models import Registration, RegistrationChange, Workshop

    output = seed("--customers", "8", "--seed", "5", "--workers", "1")
    assert Workshop.objects.count() == 4
    full = Workshop.objects.get(title="Demo: Sourdough basics")
    assert full.seats_taken == full.capacity and full.waitlist_length >= 1
    assert set(Registration.objects.values_list("status", flat=True)) == {"confirmed", "waitlisted", "canceled"}
    # One cancellation credited in full, one after the deadline credited nothing, one left the wait list.
    assert CreditNote.objects.filter(reason_code="cancellation").count() == 1
    assert RegistrationChange.objects.filter(note__contains="nothing credited").count() == 1
    assert RegistrationChange.objects.filter(note__startswith="left the wait list").count() == 1
    # The freed seat went to the first on the wait list, charged on its own invoice.
    assert RegistrationChange.objects.filter(old="waitlisted", new="confirmed", invoice__isnull=False).count() == 1
    assert "Registrations by status:" in output and "registration canceled, credited" in output
    assert_invariants()

    from demo.registrations import seed_registrations

    before = (Registration.objects.count(), Invoice.objects.count())
    seed_registrations(list(Customer.objects.all()), list(Provider.objects.all()))
    assert (Registration.objects.count(), Invoice.objects.count()) == before
