"""issue_installment_notice: a plan's installment notice with every figure asserted, as of its date.

The plan of the plan tests: 10 installments of 100.00 due on the 10th from January 2025, 2% a
month of the overdue balance after 5 grace days. Installment 1 is paid on time, 40.00 of
installment 2 before it falls due, 30.00 of installment 3 late; the assessment of 2025-04-20
charges installment 2 periods 1 and 2 (1.20 each, on 2025-03-15 and 2025-04-15) and
installment 3 period 1 (2.00, on 2025-04-15); installment 2's first penalty is waived on
2025-04-25.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string

from billing.errors import InvalidInput, InvalidState
from documents.models import Document, DocumentKind
from documents.selectors import notice_changes_since
from documents.services import issue_installment_notice, render_document, sha256_of
from invoices.models import Invoice
from invoices.services import void_invoice
from plans.services import assess_penalties, waive_penalty
from tests.documents.conftest import on
from tests.plans.helpers import day, installments, make_plan, pay

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def late_plan(customer, provider, clerk):
    with on(day("2025-01-01")):
        plan = make_plan(customer, provider, clerk)
    first, second, third = installments(plan)[:3]
    pay(plan, first, "100.00", "2025-01-08")
    pay(plan, second, "40.00", "2025-02-05")
    pay(plan, third, "30.00", "2025-04-18")
    with on(day("2025-04-20")):
        assess_penalties(as_of=day("2025-04-20"), by=clerk)
    with on(day("2025-04-25")):
        penalty = Invoice.objects.get(installment=second, penalty_period=1)
        waive_penalty(penalty, by=clerk, reason="First time late")
    return plan


def figures_of(document: Document) -> dict[str, str]:
    keys = ("amount", "paid", "outstanding", "penalty", "penalty_paid", "penalty_outstanding")
    return {key: document.figures[key] for key in (*keys, "previous_outstanding", "total_receivable")}


def test_the_penalties_the_notices_read(late_plan):
    second, third = installments(late_plan)[1:3]
    got = [
        (p.installment.plan_sequence, p.penalty_period, p.issue_date.isoformat(), p.total, p.credited_total)
        for p in Invoice.objects.filter(plan=late_plan, kind="penalty").order_by(
            "installment__plan_sequence", "penalty_period"
        )
    ]
    assert got == [
        (2, 1, "2025-03-15", D("1.20"), D("1.20")),
        (2, 2, "2025-04-15", D("1.20"), D("0.00")),
        (3, 1, "2025-04-15", D("2.00"), D("0.00")),
    ]


def test_a_notice_of_today_prints_every_figure(late_plan, clerk):
    third = installments(late_plan)[2]
    with on(day("2025-05-01")):
        notice = issue_installment_notice(third, by=clerk)
    assert (notice.kind, notice.customer_id, notice.account_id, notice.currency) == (
        DocumentKind.INSTALLMENT_NOTICE,
        late_plan.customer_id,
        late_plan.account_id,
        "EUR",
    )
    assert notice.number.startswith("IN-")
    assert notice.as_of == day("2025-05-01")
    assert figures_of(notice) == {
        "amount": "100.00",
        "paid": "30.00",
        "outstanding": "70.00",
        "penalty": "2.00",
        "penalty_paid": "0.00",
        "penalty_outstanding": "2.00",
        # Installment 2: 60.00 unpaid, penalties 1.20 + 1.20 less the 1.20 waived.
        "previous_outstanding": "61.20",
        "total_receivable": "133.20",
    }
    assert notice.figures["previous"] == [{"sequence": 2, "outstanding": "61.20"}]
    assert notice.figures["installment"] == {
        "id": third.pk,
        "number": third.number,
        "sequence": 3,
        "due_date": "2025-03-10",
    }
    assert notice.figures["plan"]["installments"] == 10
    assert [(p["period"], p["amount"], p["paid"]) for p in notice.figures["penalties"]] == [(1, "2.00", "0.00")]
    for text in ("Installment 3 of 10", "Total receivable", "133.20", "61.20", "Penalty to date"):
        assert text in notice.html
    assert notice.sha256 == sha256_of(notice.html) == sha256_of(render_document(notice))


def test_a_notice_as_of_an_earlier_day_derives_every_figure_on_that_day(late_plan, clerk):
    third = installments(late_plan)[2]
    with on(day("2025-05-01")):
        before_payment = issue_installment_notice(third, as_of=day("2025-04-16"), by=clerk)
        before_penalty = issue_installment_notice(third, as_of=day("2025-03-20"), by=clerk)
    # On 2025-04-16: the 30.00 (value date 04-18) not yet paid, the waiver (04-25) not yet written.
    assert figures_of(before_payment) == {
        "amount": "100.00",
        "paid": "0.00",
        "outstanding": "100.00",
        "penalty": "2.00",
        "penalty_paid": "0.00",
        "penalty_outstanding": "2.00",
        "previous_outstanding": "62.40",
        "total_receivable": "164.40",
    }
    # On 2025-03-20: installment 3's penalty (04-15) and installment 2's second one not charged yet.
    assert figures_of(before_penalty) == {
        "amount": "100.00",
        "paid": "0.00",
        "outstanding": "100.00",
        "penalty": "0.00",
        "penalty_paid": "0.00",
        "penalty_outstanding": "0.00",
        "previous_outstanding": "61.20",
        "total_receivable": "161.20",
    }


def test_the_first_installment_has_no_previous_outstanding_and_penalties_paid_count(late_plan, clerk):
    second = installments(late_plan)[1]
    penalty = Invoice.objects.get(installment=second, penalty_period=2)
    pay(late_plan, penalty, "1.20", "2025-04-28")
    with on(day("2025-05-01")):
        first = issue_installment_notice(installments(late_plan)[0], by=clerk)
        notice = issue_installment_notice(second, by=clerk)
    assert figures_of(first) == {
        "amount": "100.00",
        "paid": "100.00",
        "outstanding": "0.00",
        "penalty": "0.00",
        "penalty_paid": "0.00",
        "penalty_outstanding": "0.00",
        "previous_outstanding": "0.00",
        "total_receivable": "0.00",
    }
    assert figures_of(notice) == {
        "amount": "100.00",
        "paid": "40.00",
        "outstanding": "60.00",
        "penalty": "1.20",  # 2.40 charged less the 1.20 waived
        "penalty_paid": "1.20",
        "penalty_outstanding": "0.00",
        "previous_outstanding": "0.00",
        "total_receivable": "60.00",
    }


def test_what_changed_since_shows_todays_figures_beside_the_printed_ones(late_plan, clerk):
    third = installments(late_plan)[2]
    notice = issue_installment_notice(third, by=clerk)  # today, after everything of the fixture
    pay(late_plan, third, "70.00", "2025-05-02")
    changes = notice_changes_since(notice)
    assert changes is not None and changes["changed"]
    rows = {row["key"]: (row["printed"], row["today"], row["difference"]) for row in changes["rows"]}
    assert rows == {
        "amount": (D("100.00"), D("100.00"), D("0.00")),
        "paid": (D("30.00"), D("100.00"), D("70.00")),
        "penalty": (D("2.00"), D("2.00"), D("0.00")),
        "penalty_paid": (D("0.00"), D("0.00"), D("0.00")),
        "previous_outstanding": (D("61.20"), D("61.20"), D("0.00")),
        "total_receivable": (D("133.20"), D("63.20"), D("-70.00")),
    }
    assert (changes["entries_since"], changes["allocations_since"]) == (1, 1)  # the payment and its allocation
    stored = Document.objects.get(pk=notice.pk)
    assert (stored.figures, stored.html, stored.sha256) == (notice.figures, notice.html, notice.sha256)


def test_sent_notices_never_change(late_plan, clerk):
    with on(day("2025-05-01")):
        notice = issue_installment_notice(installments(late_plan)[2], by=clerk)
    for sql in (
        "UPDATE documents_document SET figures = '{}'",
        "DELETE FROM documents_document",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert Document.objects.get(pk=notice.pk).html == notice.html
    assert (
        render_to_string(
            "documents/installment_notice.html",
            {"number": notice.number, "kind": notice.kind, "title": "Installment notice", "figures": notice.figures},
        )
        == notice.html
    )


def test_bad_input_is_refused_and_writes_nothing(late_plan, clerk):
    second = installments(late_plan)[1]
    penalty = Invoice.objects.get(installment=second, penalty_period=2)
    with pytest.raises(InvalidInput, match="not an installment of a plan"):
        issue_installment_notice(penalty, by=clerk)
    with pytest.raises(InvalidInput, match="after today"):
        issue_installment_notice(second, as_of=datetime.date.today() + datetime.timedelta(days=400), by=clerk)
    with pytest.raises(TypeError):
        issue_installment_notice(second)  # type: ignore[call-arg]
    void_invoice(installments(late_plan)[9], by=clerk, reason="Plan shortened")
    with pytest.raises(InvalidState, match="is void: no notice"):
        issue_installment_notice(installments(late_plan)[9], by=clerk)
    assert not Document.objects.exists()
