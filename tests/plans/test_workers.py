"""The nightly assessment in several processes (plans.workers) ends exactly as one process does."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import Account
from invoices.models import CreditNote, Invoice
from plans.models import PenaltyAssessment, Plan
from tests.factories import CustomerFactory
from tests.invariants import assert_invariants
from tests.plans.helpers import D, installments, make_plan, pay

AS_OF = "2025-09-30"


def assess(*args: str) -> str:
    out = StringIO()
    call_command("assess_penalties", "--as-of", AS_OF, *args, stdout=out)
    return out.getvalue()


def snapshot():
    """What the assessment leaves behind, without ids, numbers and times (two workers issue in
    another order, so the providers' numbers differ; each is checked without gaps below)."""
    penalties = Invoice.objects.filter(kind="penalty")
    return (
        sorted(
            penalties.values_list(
                "installment__number", "penalty_period", "penalty_revision", "total", "issue_date", "payment_status"
            )
        ),
        sorted(CreditNote.objects.values_list("invoice__installment__number", "invoice__penalty_period", "amount")),
        sorted(Plan.objects.values_list("description", "state", "balance_due")),
        sorted(Account.objects.values_list("customer__name", "balance_due", "open_invoice_count")),
    )


@pytest.mark.django_db(transaction=True)
def test_workers_end_exactly_as_one_process(provider, clerk, settings, monkeypatch):
    from plans import assessment

    plans = []
    for n in range(4):
        plan = make_plan(
            CustomerFactory(name=f"Customer {n}"), provider, clerk, description=f"Plan {n}", installments=4
        )
        first, second, *_ = installments(plan)
        pay(plan, first, "250.00", "2025-01-12")  # on time
        pay(plan, second, "250.00", "2025-04-20")  # two months late
        plans.append(plan)
    assess("--plan", str(plans[2].pk))  # an earlier run charged one plan: the last run adds the rest
    monkeypatch.setattr(assessment, "BATCH", 3)  # 16 candidates or fewer: several batches per worker
    settings.SETTLE_ASSESSMENT_WORKERS_FROM = 0
    from django.db import transaction

    before = Invoice.objects.filter(kind="penalty").count()
    with transaction.atomic():  # inside a transaction the run stays in this process
        one = assess("--full", "--workers", "2")
        expected = snapshot()
        transaction.set_rollback(True)

    two = assess("--full", "--workers", "2")

    assert snapshot() == expected
    assert len(expected[0]) >= 8 and expected[1] == []
    assert two.splitlines()[:3] == one.splitlines()[:3]
    sequences = sorted(
        Invoice.objects.filter(provider=provider).exclude(sequence=None).values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, len(sequences) + 1))  # no gaps, none twice
    issued = len(expected[0]) - before
    assert issued > 0 and f"{issued} penalty invoices issued" in two
    assert PenaltyAssessment.objects.order_by("-id").values_list("penalties", "credit_notes").first() == (issued, 0)
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_workers_credit_what_a_back_dated_payment_paid(provider, clerk, settings, monkeypatch):
    from plans import assessment

    plans = [make_plan(CustomerFactory(), provider, clerk, description=f"Plan {n}", installments=3) for n in range(3)]
    assess("--workers", "1")  # charges every installment's months up to AS_OF
    for plan in plans:
        first = installments(plan)[0]
        pay(plan, first, "333.33", "2025-01-10")  # paid on its due date after all
    monkeypatch.setattr(assessment, "BATCH", 1)
    settings.SETTLE_ASSESSMENT_WORKERS_FROM = 0

    out = assess("--full", "--workers", "2")

    credited = CreditNote.objects.filter(reason_code="recalculation")
    first_penalties = Invoice.objects.filter(installment__plan_sequence=1, kind="penalty")
    assert first_penalties.count() >= 3 * 7  # February to September, each plan
    assert sorted(credited.values_list("invoice_id", flat=True)) == sorted(first_penalties.values_list("pk", flat=True))
    assert f"{credited.count()} recalculation credit notes" in out
    assert {p.balance_due for p in first_penalties} == {D("0.00")}
    assert_invariants()


def test_workers_must_be_one_or_more():
    with pytest.raises(CommandError, match="--workers must be 1 or more"):
        call_command("assess_penalties", "--workers", "0")
