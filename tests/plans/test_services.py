"""plans.services: the rules of DESIGN.md section 10 and the failures peers' users report (issue 13)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import BillingError, InvalidAmount, InvalidInput, InvalidState
from invoices.models import CreditNote, Invoice
from invoices.services import void_invoice
from plans.assessment import run_assessment
from plans.models import PenaltyRule, PenaltyWaiver, Plan
from plans.services import (
    assess_penalties,
    change_penalty_rule,
    create_plan,
    waive_future_penalties,
    waive_penalty,
)
from tests.invariants import assert_invariants
from tests.plans.helpers import TWO_PERCENT, day, installments, make_plan, pay, penalties_of

pytestmark = pytest.mark.django_db

D = Decimal


def credit_notes(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [(c.reason_code, c.amount) for c in CreditNote.objects.filter(invoice_id=invoice.pk).order_by("id")]


# --- create_plan -------------------------------------------------------------------------------


def test_a_plan_issues_its_installments_monthly_adding_up_to_the_principal(plan):
    assert str(plan) == f"Plan {plan.pk}: 1000.00 EUR in 10 installments"
    found = installments(plan)
    assert [(i.plan_sequence, i.kind, i.state, i.total) for i in found] == [
        (k, "installment", "open", D("100.00")) for k in range(1, 11)
    ]
    assert [i.due_date.isoformat() for i in found] == [f"2025-{m:02d}-10" for m in range(1, 11)]
    assert {i.issue_date for i in found} == {day("2025-01-01")}
    assert (plan.state, plan.principal, plan.installment_count) == ("active", D("1000.00"), 10)
    (rule,) = plan.penalty_rules.all()
    assert (rule.effective_from, rule.kind, rule.rate, rule.grace_days, rule.frequency, rule.cap) == (
        day("2025-01-01"),
        "percent",
        D("2.0000"),
        5,
        "monthly",
        None,
    )
    assert str(rule) == "From 2025-01-01: 2% of the overdue balance, per full month overdue, after 5 grace days"
    assert_invariants()


def test_the_remainder_of_the_split_goes_on_the_last_installment(customer, provider, clerk):
    plan = make_plan(customer, provider, clerk, principal="1000.00", installments=3, every_months=2, penalty=None)
    assert [(i.total, i.due_date.isoformat()) for i in installments(plan)] == [
        (D("333.33"), "2025-01-10"),
        (D("333.33"), "2025-03-10"),
        (D("333.34"), "2025-05-10"),
    ]
    odd = make_plan(customer, provider, clerk, principal="100.05", installments=6, penalty=None)
    assert [i.total for i in installments(odd)] == [D("16.67")] * 5 + [D("16.70")]
    assert sum(i.total for i in installments(odd)) == D("100.05")


def test_due_dates_keep_the_day_of_month_clamped_to_short_months(customer, provider, clerk):
    plan = make_plan(customer, provider, clerk, first_due_date=day("2025-01-31"), installments=4, penalty=None)
    assert [i.due_date.isoformat() for i in installments(plan)] == [
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
    ]


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"installments": 0}, InvalidInput, "number of installments must be between 1"),
        ({"installments": 2.0}, InvalidInput, "must be a whole number"),
        ({"principal": "-100.00"}, InvalidAmount, "principal must be greater than zero"),
        ({"principal": "0"}, InvalidAmount, "principal must be greater than zero"),
        ({"principal": 1000.0}, InvalidAmount, "must be an exact decimal, not float"),
        ({"principal": "1e3"}, InvalidAmount, "is not a number"),
        ({"principal": "0.05"}, InvalidAmount, "cannot be split into 10 installments"),
        ({"currency": "XXX"}, InvalidInput, "not a currency"),
        ({"first_due_date": day("2024-12-01")}, InvalidInput, "before the plan's issue date"),
        ({"every_months": 0}, InvalidInput, "months between installments"),
        (
            {"penalty": {"kind": "percent", "rate": D("2"), "amount": D("5.00")}},
            InvalidInput,
            "not both",
        ),
        ({"penalty": {"kind": "percent", "rate": 2.0}}, InvalidAmount, "not float"),
        ({"penalty": {"kind": "fixed", "amount": 5.5}}, InvalidAmount, "not float"),
        ({"penalty": {"kind": "percent", "rate": "0"}}, InvalidAmount, "more than 0 and at most 100"),
        ({"penalty": {"kind": "percent", "rate": "101"}}, InvalidAmount, "more than 0 and at most 100"),
        ({"penalty": {"kind": "percent"}}, InvalidInput, "needs its rate"),
        ({"penalty": {"kind": "fixed"}}, InvalidInput, "needs its amount"),
        ({"penalty": {"kind": "daily", "rate": "1"}}, InvalidInput, "percent or fixed"),
        ({"penalty": {"kind": "fixed", "amount": "5", "frequency": "weekly"}}, InvalidInput, "once or monthly"),
        ({"penalty": {"kind": "fixed", "amount": "5", "grace_days": -1}}, InvalidInput, "grace days"),
        ({"penalty": {"kind": "fixed", "amount": "5", "cap": "-1"}}, InvalidAmount, "penalty cap"),
        ({"penalty": {"kind": "fixed", "amount": "5", "fee": "1"}}, InvalidInput, "has no fee"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_written(customer, provider, clerk, overrides, error, message):
    with pytest.raises(error, match=message):
        make_plan(customer, provider, clerk, **overrides)
    assert not Plan.objects.exists()
    assert not Invoice.objects.exists()
    assert issubclass(error, BillingError)


def test_by_is_required(customer, provider):
    with pytest.raises(TypeError):
        create_plan(  # type: ignore[call-arg]
            customer=customer,
            provider=provider,
            currency="EUR",
            principal="100",
            installments=1,
            first_due_date=day("2025-01-10"),
        )


# --- assessment --------------------------------------------------------------------------------


def test_re_running_the_assessment_charges_nothing_more(plan, clerk):
    first_run = assess_penalties(as_of=day("2025-05-31"), by=clerk)
    # Installments 1..4 unpaid: 1 has 4 periods (Feb..May 15), 2 has 3, 3 has 2, 4 has 1.
    assert len(first_run) == 10
    assert sum(i.total for i in first_run) == D("20.00")
    assert assess_penalties(as_of=day("2025-05-31"), by=clerk) == []
    assert assess_penalties(as_of=day("2025-05-20"), by=clerk) == []  # an earlier day: nothing either
    assert Invoice.objects.filter(kind="penalty").count() == 10
    assert_invariants()


def test_a_rule_change_applies_only_from_its_date(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-03-31"), by=clerk)  # 1.1 (Feb 15) and 1.2 (Mar 15) at 2%
    change_penalty_rule(plan, effective_from=day("2025-04-01"), kind="fixed", amount="5.00", grace_days=5, by=clerk)
    assess_penalties(as_of=day("2025-05-31"), by=clerk)
    assert penalties_of(first) == [
        (1, day("2025-02-15"), D("2.00")),
        (2, day("2025-03-15"), D("2.00")),
        (3, day("2025-04-15"), D("5.00")),
        (4, day("2025-05-15"), D("5.00")),
    ]
    assert list(plan.penalty_rules.values_list("effective_from", "kind")) == [
        (day("2025-01-01"), "percent"),
        (day("2025-04-01"), "fixed"),
    ]
    assert_invariants()


def test_a_rule_change_cannot_reach_back_before_what_was_charged(plan, clerk):
    assess_penalties(as_of=day("2025-03-31"), by=clerk)
    with pytest.raises(InvalidInput, match="up to 2025-03-15"):
        change_penalty_rule(plan, effective_from=day("2025-03-15"), kind="fixed", amount="5", by=clerk)
    with pytest.raises(InvalidInput, match="not both"):
        change_penalty_rule(plan, effective_from=day("2025-04-01"), kind="fixed", amount="5", rate="2", by=clerk)
    assert PenaltyRule.objects.filter(plan=plan).count() == 1


@pytest.mark.parametrize(
    "table", ["plans_penaltyrule", "plans_penaltywaiver", "plans_planstatuschange", "plans_penaltyassessment"]
)
@pytest.mark.parametrize("statement", ["UPDATE {} SET reason = 'rewritten'", "DELETE FROM {}", "TRUNCATE {} CASCADE"])
def test_rule_versions_waivers_and_plan_history_are_append_only_at_the_database(plan, clerk, table, statement):
    from django.db import DatabaseError, connection, transaction

    first = installments(plan)[0]
    waive_future_penalties(first, by=clerk, reason="Hardship")
    pay(plan, first, "100.00", "2025-01-10")
    for invoice in installments(plan)[1:]:
        pay(plan, invoice, "100.00", "2025-01-10")
    assert Plan.objects.get(pk=plan.pk).status_changes.exists()
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table))


@pytest.mark.parametrize(
    "change",
    ["plan_sequence = 3", "penalty_period = 7", "installment_id = NULL, penalty_period = NULL", "kind = 'fee'"],
)
def test_an_issued_penalty_keeps_its_installment_and_period(plan, clerk, change):
    from django.db import DatabaseError, connection, transaction

    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    target = Invoice.objects.get(kind="penalty") if "penalty" in change or "kind" in change else installments(plan)[0]
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE invoices_invoice SET {change} WHERE id = %s", [target.pk])


def test_a_fixed_penalty_charged_once_after_grace(customer, provider, clerk):
    plan = make_plan(
        customer, provider, clerk, penalty={"kind": "fixed", "amount": "15.00", "grace_days": 10, "frequency": "once"}
    )
    first, second = installments(plan)[:2]
    pay(plan, second, "100.00", "2025-02-20")  # due 2025-02-10, grace to the 20th: on time
    assess_penalties(as_of=day("2025-06-30"), by=clerk)
    assert penalties_of(first) == [(1, day("2025-01-21"), D("15.00"))]
    assert penalties_of(second) == []


def test_a_cap_limits_one_installments_penalties(customer, provider, clerk):
    plan = make_plan(customer, provider, clerk, penalty={**TWO_PERCENT, "cap": "5.00"})
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-06-30"), by=clerk)
    assert penalties_of(first) == [
        (1, day("2025-02-15"), D("2.00")),
        (2, day("2025-03-15"), D("2.00")),
        (3, day("2025-04-15"), D("1.00")),
    ]


def test_a_partly_paid_installment_is_charged_on_what_is_overdue(plan, clerk):
    first = installments(plan)[0]
    pay(plan, first, "60.00", "2025-02-01")
    pay(plan, first, "15.00", "2025-03-01")
    assess_penalties(as_of=day("2025-04-30"), by=clerk)
    # 40.00 overdue at 2025-02-15, 25.00 at 2025-03-15 and 2025-04-15.
    assert penalties_of(first) == [
        (1, day("2025-02-15"), D("0.80")),
        (2, day("2025-03-15"), D("0.50")),
        (3, day("2025-04-15"), D("0.50")),
    ]


def test_a_back_dated_payment_credits_exactly_the_penalty_that_should_not_have_been_charged(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-03-31"), by=clerk)
    assert penalties_of(first) == [(1, day("2025-02-15"), D("2.00")), (2, day("2025-03-15"), D("2.00"))]
    # The customer shows the bank's proof: 100.00 paid on 2025-03-01 (recorded and allocated today).
    pay(plan, first, "100.00", "2025-03-01")
    (note,) = assess_penalties(as_of=day("2025-03-31"), by=clerk)
    period_two = Invoice.objects.get(installment=first, penalty_period=2)
    assert (note.invoice_id, note.amount, note.reason_code) == (period_two.pk, D("2.00"), "recalculation")
    assert "period 2 of installment" in note.reason
    assert credit_notes(Invoice.objects.get(installment=first, penalty_period=1)) == []
    assert assess_penalties(as_of=day("2025-03-31"), by=clerk) == []  # and nothing again
    assert_invariants()


def test_a_back_dated_partial_payment_credits_the_difference(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-03-31"), by=clerk)
    pay(plan, first, "30.00", "2025-02-01")
    notes = assess_penalties(as_of=day("2025-03-31"), by=clerk)
    # 70.00 was overdue at both period dates: 1.40 instead of 2.00, twice.
    assert [(n.invoice.penalty_period, n.amount) for n in notes] == [(1, D("0.60")), (2, D("0.60"))]


def test_a_waived_penalty_is_never_charged_again(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-03-31"), by=clerk)
    penalty = Invoice.objects.get(installment=first, penalty_period=1)
    with pytest.raises(InvalidInput, match="reason"):
        waive_penalty(penalty, by=clerk, reason=" ")
    with pytest.raises(InvalidInput, match="not a penalty"):
        waive_penalty(first, by=clerk, reason="Goodwill")
    note = waive_penalty(penalty, by=clerk, reason="Goodwill: first late payment")
    assert (note.amount, note.reason_code, note.created_by) == (D("2.00"), "waiver", clerk)
    assert Invoice.objects.get(pk=penalty.pk).balance_due == D("0.00")
    assert assess_penalties(as_of=day("2025-03-31"), by=clerk) == []
    assert assess_penalties(as_of=day("2025-04-30"), by=clerk)  # other periods go on
    assert penalties_of(first)[0] == (1, day("2025-02-15"), D("2.00"))
    assert credit_notes(penalty) == [("waiver", D("2.00"))]
    with pytest.raises(InvalidState, match="nothing left to waive"):
        waive_penalty(penalty, by=clerk, reason="again")
    assert_invariants()


def test_a_partly_waived_penalty_recalculated_credits_at_most_what_is_left(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    penalty = Invoice.objects.get(installment=first, penalty_period=1)
    waive_penalty(penalty, amount="1.50", by=clerk, reason="Half and a bit")
    pay(plan, first, "100.00", "2025-01-12")  # back-dated: within grace, nothing was due
    (note,) = assess_penalties(as_of=day("2025-02-28"), by=clerk)
    assert (note.amount, note.reason_code) == (D("0.50"), "recalculation")
    assert credit_notes(penalty) == [("waiver", D("1.50")), ("recalculation", D("0.50"))]
    assert assess_penalties(as_of=day("2025-02-28"), by=clerk) == []


def test_waiving_future_penalties_stops_the_charges(plan, clerk):
    first, second = installments(plan)[:2]
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    waiver = waive_future_penalties(first, by=clerk, reason="Hardship agreed with the customer")
    assert (waiver.installment_id, waiver.by, waiver.reason) == (first.pk, clerk, "Hardship agreed with the customer")
    assess_penalties(as_of=day("2025-06-30"), by=clerk)
    assert penalties_of(first) == [(1, day("2025-02-15"), D("2.00"))]  # charged before the waiver: stays
    assert len(penalties_of(second)) == 4
    with pytest.raises(InvalidState, match="already waived"):
        waive_future_penalties(first, by=clerk, reason="again")
    with pytest.raises(InvalidInput, match="not a plan's installment"):
        waive_future_penalties(Invoice.objects.get(installment=first), by=clerk, reason="x")
    with pytest.raises(InvalidInput, match="reason"):
        waive_future_penalties(second, by=clerk, reason="")
    assert PenaltyWaiver.objects.count() == 1


def test_a_voided_penalty_is_not_charged_again(plan, clerk):
    first = installments(plan)[0]
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    void_invoice(Invoice.objects.get(installment=first), by=clerk, reason="Charged in error")
    assert assess_penalties(as_of=day("2025-02-28"), by=clerk) == []


def test_a_period_that_comes_to_more_is_charged_the_difference_by_a_second_invoice(plan, clerk):
    from allocations.services import deallocate

    first = installments(plan)[0]
    payment = pay(plan, first, "50.00", "2025-02-01")
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    assert penalties_of(first) == [(1, day("2025-02-15"), D("1.00"))]
    # The 50.00 was meant for another invoice: 100.00 was overdue on 2025-02-15 after all.
    deallocate(payment, Invoice.objects.get(pk=first.pk), by=clerk, reason="Was meant for another invoice")
    result = run_assessment(as_of=day("2025-02-28"), by=clerk)
    (supplement,) = result.documents
    assert (supplement.penalty_period, supplement.penalty_revision, supplement.total) == (1, 1, D("1.00"))
    assert "revised: 1.00 more" in supplement.lines.get().description
    assert penalties_of(first) == [(1, day("2025-02-15"), D("1.00")), (1, day("2025-02-15"), D("1.00"))]
    assert assess_penalties(as_of=day("2025-02-28"), by=clerk) == []
    # Paid back on time after all (the bank's proof): both invoices of the period are credited, newest first.
    pay(plan, first, "100.00", "2025-01-20")
    notes = assess_penalties(as_of=day("2025-02-28"), by=clerk)
    assert [(n.invoice.penalty_revision, n.amount, n.reason_code) for n in notes] == [
        (1, D("1.00"), "recalculation"),
        (0, D("1.00"), "recalculation"),
    ]
    assert_invariants()


def test_assessment_as_of_the_future_or_a_bad_date_is_refused(plan, clerk):
    import datetime

    with pytest.raises(InvalidInput, match="ahead of time"):
        assess_penalties(as_of=datetime.date.today() + datetime.timedelta(days=1), by=clerk)
    with pytest.raises(InvalidInput, match="as of a date"):
        assess_penalties(as_of="2025-01-01", by=clerk)  # type: ignore[arg-type]


def test_one_plan_only(plan, customer, provider, clerk):
    other = make_plan(customer, provider, clerk)
    assess_penalties(as_of=day("2025-02-28"), plan=other, by=clerk)
    assert Invoice.objects.filter(kind="penalty", plan=other).count() == 1
    assert Invoice.objects.filter(kind="penalty", plan=plan).count() == 0


def test_the_nightly_command_prints_a_summary(plan, clerk):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("assess_penalties", "--as-of", "2025-03-31", stdout=out)
    text = out.getvalue()
    assert "3 penalty invoices issued, 6.00 EUR" in text
    assert "0 recalculation credit notes" in text
    out = StringIO()
    call_command("assess_penalties", "--as-of", "2025-03-31", "--plan", str(plan.pk), stdout=out)
    assert "0 penalty invoices issued" in out.getvalue()


def test_installment_and_penalty_invoices_come_only_from_their_plan(customer, provider, clerk):
    from invoices.services import create_invoice

    for kind in ("installment", "penalty"):
        with pytest.raises(InvalidInput, match="issued by"):
            create_invoice(
                customer=customer,
                provider=provider,
                currency="EUR",
                lines=[("Installment", "1", "10.00")],
                due_date=day("2025-01-10"),
                kind=kind,
                by=clerk,
            )


def test_a_nightly_run_looks_only_at_what_changed_and_issues_what_a_full_run_would(plan, clerk, monkeypatch):
    import datetime

    from plans import assessment
    from plans.models import PenaltyAssessment

    monkeypatch.setattr(assessment, "SINCE_MARGIN", datetime.timedelta(0))
    first, second, third, fourth = installments(plan)[:4]
    pay(plan, first, "100.00", "2025-01-12")  # on time
    pay(plan, second, "100.00", "2025-03-01")  # late, but before its first full month (2025-03-15)
    pay(plan, third, "100.00", "2025-04-20")  # late: 3.1 (2025-04-15)
    full = run_assessment(as_of=day("2025-05-31"), by=clerk)  # 3.1, and 4.1 (2025-05-15) unpaid
    assert [(p.installment_id, p.penalty_period) for p in full.penalties] == [(third.pk, 1), (fourth.pk, 1)]
    # Nothing moved: the next night's run looks only at installment 5, which still owes and may
    # have a new period; not at 2 and 3 (paid, unchanged) nor 4 (its penalty is dated 2025-05-15).
    nightly = run_assessment(as_of=day("2025-06-01"), by=clerk)
    assert nightly.documents == []
    assert (nightly.candidates, full.candidates) == (1, 4)
    # A back-dated payment on 3 is seen by the next night's run and credited.
    from allocations.services import deallocate

    payment = Invoice.objects.get(pk=third.pk).allocations.get().payment
    deallocate(payment, Invoice.objects.get(pk=third.pk), by=clerk, reason="Misapplied")
    pay(plan, third, "100.00", "2025-04-01")
    (note,) = run_assessment(as_of=day("2025-06-02"), by=clerk).documents
    assert (note.invoice.installment_id, note.amount, note.reason_code) == (third.pk, D("2.00"), "recalculation")
    # A full run afterwards finds nothing left to do.
    assert run_assessment(as_of=day("2025-06-02"), full=True, by=clerk).documents == []
    runs = list(PenaltyAssessment.objects.order_by("id").values_list("incremental", "penalties", "credit_notes"))
    assert runs == [(False, 2, 0), (True, 0, 0), (True, 0, 1), (False, 0, 0)]
