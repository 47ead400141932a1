"""Automatic allocation over a plan's invoices (DESIGN.md sections 6 and 10), and manual allocation."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from allocations.checks import plan_allocation
from allocations.services import allocate, auto_allocate
from intake.services import NewCredit, booked_at
from invoices.models import Invoice
from plans.models import Plan
from plans.services import assess_penalties
from tests.factories import make_invoice, make_payment
from tests.intake.test_bulk_differential import assert_same, run_both
from tests.invariants import assert_invariants
from tests.plans.helpers import day, installments, paid_on, pay, penalties_of

pytestmark = pytest.mark.django_db

D = Decimal


def split_of(rows) -> list[tuple[str, str, Decimal]]:
    """(kind, installment sequence or penalty 'k.period', amount) of each allocation row."""
    found = []
    for row in rows:
        invoice = Invoice.objects.get(pk=row.invoice_id)
        if invoice.kind == "penalty":
            label = f"{Invoice.objects.get(pk=invoice.installment_id).plan_sequence}.{invoice.penalty_period}"
        else:
            label = str(invoice.plan_sequence or invoice.number)
        found.append((invoice.kind, label, row.amount))
    return found


@pytest.fixture
def late_plan(plan, clerk):
    """Installments 1 and 2 unpaid at 2025-03-31: penalties 1.1, 1.2 and 2.1 of 2.00 each."""
    assess_penalties(as_of=day("2025-03-31"), by=clerk)
    first, second = installments(plan)[:2]
    assert penalties_of(first) == [(1, day("2025-02-15"), D("2.00")), (2, day("2025-03-15"), D("2.00"))]
    assert penalties_of(second) == [(1, day("2025-03-15"), D("2.00"))]
    return plan


def test_auto_allocation_pays_penalties_before_their_installment_oldest_first(late_plan, clerk):
    payment = make_payment(customer=late_plan.customer, amount="150.00", received_at=paid_on("2025-04-01"))
    rows = auto_allocate(payment, by=clerk)
    assert split_of(rows) == [
        ("penalty", "1.1", D("2.00")),
        ("penalty", "1.2", D("2.00")),
        ("installment", "1", D("100.00")),
        ("penalty", "2.1", D("2.00")),
        ("installment", "2", D("44.00")),
    ]
    assert_invariants()


def test_an_amount_equal_to_a_later_installment_is_not_an_exact_match(late_plan, clerk):
    # 100.00 equals installments 1..10 exactly: the plan's order still pays penalties 1.1, 1.2 first.
    payment = make_payment(customer=late_plan.customer, amount="100.00", received_at=paid_on("2025-04-01"))
    rows = auto_allocate(payment, by=clerk)
    assert split_of(rows) == [
        ("penalty", "1.1", D("2.00")),
        ("penalty", "1.2", D("2.00")),
        ("installment", "1", D("96.00")),
    ]


@override_settings(SETTLE_PLAN_ALLOCATION="installment_first")
def test_the_setting_puts_the_installment_before_its_penalties(late_plan, clerk):
    payment = make_payment(customer=late_plan.customer, amount="150.00", received_at=paid_on("2025-04-01"))
    rows = auto_allocate(payment, by=clerk)
    assert split_of(rows) == [
        ("installment", "1", D("100.00")),
        ("penalty", "1.1", D("2.00")),
        ("penalty", "1.2", D("2.00")),
        ("installment", "2", D("46.00")),
    ]


def test_other_invoices_keep_their_place_by_due_date(late_plan, clerk, provider):
    # An ordinary invoice due between installment 1 (2025-01-10) and 2 (2025-02-10).
    other = make_invoice(
        customer=late_plan.customer,
        provider=provider,
        total="30.00",
        issue_date=day("2025-01-05"),
        due_date=day("2025-01-20"),
    )
    payment = make_payment(customer=late_plan.customer, amount="140.00", received_at=paid_on("2025-04-01"))
    rows = auto_allocate(payment, by=clerk)
    assert split_of(rows) == [
        ("penalty", "1.1", D("2.00")),
        ("penalty", "1.2", D("2.00")),
        ("installment", "1", D("100.00")),
        ("standard", other.number, D("30.00")),
        ("penalty", "2.1", D("2.00")),
        ("installment", "2", D("4.00")),
    ]


def test_an_exact_match_outside_plans_still_wins(late_plan, clerk, provider):
    other = make_invoice(customer=late_plan.customer, provider=provider, total="37.50", issue_date=day("2025-06-01"))
    payment = make_payment(customer=late_plan.customer, amount="37.50", received_at=paid_on("2025-07-01"))
    assert split_of(auto_allocate(payment, by=clerk)) == [("standard", other.number, D("37.50"))]


def test_a_payment_on_installment_7_while_5_and_6_are_overdue(plan, clerk):
    """Manual allocation goes to any installment, as for any invoice; the overdue ones are charged."""
    by_sequence = {i.plan_sequence: i for i in installments(plan)}
    for sequence in (1, 2, 3, 4):
        pay(plan, by_sequence[sequence], "100.00", f"2025-0{sequence}-10")  # on the due date
    pay(plan, by_sequence[7], "100.00", "2025-06-20")  # installment 7 is due 2025-07-10: paid early
    assess_penalties(as_of=day("2025-07-31"), by=clerk)
    # 5 due 2025-05-10: periods 2025-06-15 and 2025-07-15; 6 due 2025-06-10: period 2025-07-15.
    assert penalties_of(by_sequence[5]) == [(1, day("2025-06-15"), D("2.00")), (2, day("2025-07-15"), D("2.00"))]
    assert penalties_of(by_sequence[6]) == [(1, day("2025-07-15"), D("2.00"))]
    assert all(penalties_of(by_sequence[k]) == [] for k in (1, 2, 3, 4, 7, 8, 9, 10))
    seven = Invoice.objects.get(pk=by_sequence[7].pk)
    assert (seven.payment_status, seven.balance_due) == ("paid", D("0.00"))
    assert Invoice.objects.get(pk=by_sequence[5].pk).payment_status == "unpaid"
    assert_invariants()


def test_plan_is_paid_off_when_every_installment_and_penalty_is_paid_and_active_again_with_a_new_penalty(plan, clerk):
    first, *rest = installments(plan)
    pay(plan, first, "100.00", "2025-02-20")  # late: one period (2025-02-15) of 2.00
    for invoice in rest:
        pay(plan, invoice, "100.00", invoice.due_date.isoformat())
    assert Plan.objects.get(pk=plan.pk).state == "paid_off"
    (penalty,) = assess_penalties(as_of=day("2025-12-31"), by=clerk)
    assert (penalty.total, penalty.installment_id) == (D("2.00"), first.pk)
    assert Plan.objects.get(pk=plan.pk).state == "active"
    allocate(make_payment(customer=plan.customer, amount="2.00"), penalty, "2.00", by=clerk)
    assert Plan.objects.get(pk=plan.pk).state == "paid_off"
    assert list(Plan.objects.get(pk=plan.pk).status_changes.values_list("old", "new")) == [
        ("active", "paid_off"),
        ("paid_off", "active"),
        ("active", "paid_off"),
    ]
    assert_invariants()


def test_bad_setting_stops_the_application_at_start():
    with override_settings(SETTLE_PLAN_ALLOCATION="newest_first"):
        with pytest.raises(ValueError, match="penalties_first or installment_first"):
            plan_allocation()
        assert [m.id for m in run_checks() if m.id == "settle.E003"] == ["settle.E003"]


@pytest.mark.parametrize("rule", ["penalties_first", "installment_first"])
def test_the_bank_import_allocates_a_plan_as_auto_allocate_does(late_plan, clerk, rule):
    customer = late_plan.customer
    when = booked_at(datetime.date(2025, 4, 2))
    credits = [
        NewCredit("P1", customer, D("103.00"), "EUR", when, ""),
        NewCredit("P2", customer, D("100.00"), "EUR", when, ""),
        NewCredit("P3", customer, D("2.00"), "EUR", when, ""),
    ]
    with override_settings(SETTLE_PLAN_ALLOCATION=rule):
        assert_same(run_both(credits, by=clerk))


def test_a_plan_paid_off_by_a_clerk_names_the_clerk_in_its_history(customer, provider, clerk):
    """ledger.core.refresh_all passes the clerk on to the plans it refreshes."""
    from allocations.services import allocate
    from invoices.models import Invoice
    from plans.models import PlanStatusChange
    from tests.factories import make_payment
    from tests.plans.helpers import make_plan

    plan = make_plan(customer, provider, clerk, principal="100.00", installments=1)
    [installment] = Invoice.objects.filter(plan=plan)
    allocate(make_payment(customer=customer, amount="100.00"), installment, "100.00", by=clerk)
    moves = PlanStatusChange.objects.filter(plan=plan, field="state").order_by("id")
    assert [(m.old, m.new, m.created_by) for m in moves][-1] == ("active", "paid_off", clerk)
