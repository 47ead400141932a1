"""The plan pages: the list (filters, totals, CSV, empty state), the plan page's figures, every
action's success and error path, the new-plan page, the waiver report and its CSV, the invoice
page's link to its plan, and who may do what (finance writes, support reads, anonymous signs in)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from documents.services import issue_installment_notice
from invoices.models import CreditNote, Invoice
from plans.models import PenaltyRule, PenaltyWaiver, Plan
from plans.services import assess_penalties, waive_future_penalties, waive_penalty
from submissions.tokens import issue_token
from tests.factories import CustomerFactory
from tests.plans.helpers import day, installments, make_plan, pay
from tests.support.actions import (  # noqa: F401  (fixtures)
    client_for,
    finance,
    finance_user,
    support,
    support_user,
    text,
)
from tests.support.helpers import csv_rows, row_ids

pytestmark = pytest.mark.django_db
D = Decimal


@dataclass
class Books:
    late: Plan  # Ada's, ACME: installments 2 and 3 late, penalties charged
    future: Plan  # Bob's, BOLT: nothing due yet
    paid_off: Plan  # Bob's, ACME: its one installment paid
    bob: object


@pytest.fixture
def books(customer, provider, other_provider, finance_user) -> Books:
    by = finance_user
    late = make_plan(customer, provider, by)
    first, second, third = installments(late)[:3]
    pay(late, first, "100.00", "2025-01-08")
    pay(late, second, "40.00", "2025-02-05")
    assess_penalties(as_of=day("2025-04-20"), by=by)  # 2: 1.20 + 1.20; 3: 2.00
    bob = CustomerFactory(name="Bob Builder", email="bob@builder.test")
    today = timezone.localdate()
    future = make_plan(
        bob,
        other_provider,
        by,
        principal="600.00",
        installments=6,
        issue_date=today,
        first_due_date=today + datetime.timedelta(days=30),
        description="Kitchen",
    )
    paid_off = make_plan(bob, provider, by, principal="50.00", installments=1, penalty=None, description="Lamp")
    pay(paid_off, installments(paid_off)[0], "50.00", "2025-01-05")
    return Books(Plan.objects.get(pk=late.pk), Plan.objects.get(pk=future.pk), Plan.objects.get(pk=paid_off.pk), bob)


def row_html(page: str, sequence: int) -> str:
    """The schedule's row of installment `sequence`."""
    start = page.index(f'<tr data-sequence="{sequence}"')
    return page[start : page.index("</tr>", start)]


def names(books: Books, ids) -> set[str]:
    by_id = {books.late.pk: "late", books.future.pk: "future", books.paid_off.pk: "paid_off"}
    return {by_id[pk] for pk in ids}


def listed(client, query: str = "") -> list[int]:
    return row_ids(client.get(reverse("plans:list") + query))


def post(client, url: str, user, **data):
    return client.post(url, {"form_token": issue_token(user), **data})


# --- who may do what ----------------------------------------------------------------------------------


def read_urls(books: Books) -> list[str]:
    return [
        reverse("plans:list"),
        reverse("plans:export"),
        reverse("plans:waivers"),
        reverse("plans:waivers_export"),
        reverse("plans:detail", args=[books.late.pk]),
    ]


def write_urls(books: Books) -> list[str]:
    late = books.late
    second = installments(late)[1]
    penalty = Invoice.objects.filter(installment=second).first()
    return [
        reverse("plans:new"),
        reverse("plans:assess", args=[late.pk]),
        reverse("plans:change_rule", args=[late.pk]),
        reverse("plans:waive", args=[late.pk, penalty.pk]),
        reverse("plans:waive_future", args=[late.pk, second.pk]),
        reverse("plans:notice", args=[late.pk, second.pk]),
    ]


def test_anonymous_is_sent_to_sign_in(client, books):
    for url in read_urls(books) + write_urls(books):
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302, url
            assert response["Location"].startswith("/login/"), url


def test_support_reads_but_cannot_write(support, books):
    for url in read_urls(books):
        assert support.get(url).status_code == 200, url
    before = (
        Invoice.objects.count(),
        CreditNote.objects.count(),
        Document.objects.count(),
        PenaltyWaiver.objects.count(),
    )
    for url in write_urls(books):
        assert support.get(url).status_code == 403, url
        response = support.post(url, {"reason": "try", "confirm": "1"})
        assert response.status_code == 403, url
        assert "Finance" in text(response)
    after = (
        Invoice.objects.count(),
        CreditNote.objects.count(),
        Document.objects.count(),
        PenaltyWaiver.objects.count(),
    )
    assert before == after
    page = text(support.get(reverse("plans:detail", args=[books.late.pk])))
    assert "Waive…" not in page and "Assess penalties now" not in page


def test_the_customer_page_leads_to_its_plans(support, books, customer):
    page = text(support.get(reverse("customer", args=[customer.pk])))
    assert f'href="/plans/?customer={quote(customer.email, safe="/")}"' in page
    assert names(books, listed(support, f"?customer={quote(customer.email)}")) == {"late"}


def test_the_navigation_has_plans(finance, books):
    page = text(finance.get(reverse("plans:list")))
    assert '<a href="/plans/" class="active" aria-current="page">Plans</a>' in page
    assert '<a href="/plans/"' in text(finance.get("/orders/"))


# --- the list --------------------------------------------------------------------------------------------

ALL = {"late", "future", "paid_off"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("?state=active", {"late", "future"}),
        ("?state=paid_off", {"paid_off"}),
        ("?state=canceled", set()),
        ("?overdue=yes", {"late"}),
        ("?overdue=no", {"future", "paid_off"}),
        ("?customer=lovelace", {"late"}),
        ("?customer=builder.test", {"future", "paid_off"}),
        ("?customer=builder.test&state=active", {"future"}),
        ("?currency=EUR", ALL),
        ("?currency=USD", set()),
    ],
)
def test_filters_return_exactly_the_right_plans(support, books, query, expected):
    assert names(books, listed(support, query)) == expected


def test_provider_filter_and_order(support, books, provider, other_provider):
    assert names(books, listed(support, f"?provider={other_provider.pk}")) == {"future"}
    assert names(books, listed(support, f"?provider={provider.pk}&overdue=yes")) == {"late"}
    assert listed(support) == [books.paid_off.pk, books.future.pk, books.late.pk]  # newest first


def test_totals_per_currency(support, books):
    page = text(support.get(reverse("plans:list")))
    assert "<strong>3</strong> plans" in page
    assert "principal <strong>1,650.00 EUR</strong>, outstanding <strong>1,464.40 EUR</strong>" in page
    page = text(support.get(reverse("plans:list") + "?overdue=no"))
    assert "<strong>2</strong> plans" in page and "principal <strong>650.00 EUR</strong>" in page


@pytest.mark.parametrize(
    "query",
    ["", "?overdue=yes", "?overdue=no", "?state=active&overdue=yes", "?provider={provider}", "?customer=builder"],
)
def test_totals_equal_the_listed_plans_whether_kept_or_aggregated(support, books, provider, query):
    # State, currency and overdue are answered from the trigger-kept PlanQueueTotal; a provider or
    # a customer by an aggregate over the plans: both must say what the listed rows add up to.
    response = support.get(reverse("plans:list") + query.format(provider=provider.pk))
    rows = response.context["page"].rows
    totals = response.context["totals"]
    assert totals.count == len(rows)
    assert [(row["currency"], row["count"], row["principal"], row["balance_due"]) for row in totals.by_currency] == (
        [("EUR", len(rows), sum(p.principal for p in rows), sum(p.outstanding for p in rows))] if rows else []
    )


def test_each_row_shows_what_its_plan_still_owes(support, books):
    response = support.get(reverse("plans:list"))
    outstanding = {plan.pk: plan.outstanding for plan in response.context["page"].rows}
    # Late: 1000 - 140 paid + 4.40 penalties; not yet due: all of it; paid off: nothing.
    assert outstanding == {books.late.pk: D("864.40"), books.future.pk: D("600.00"), books.paid_off.pk: D("0.00")}
    assert "864.40 EUR" in text(response)


def test_keyset_pages(support, books):
    first = support.get(reverse("plans:list") + "?per_page=25")
    assert len(row_ids(first)) == 3
    for _ in range(26):
        make_plan(books.bob, books.late.provider, None, principal="10.00", installments=1, penalty=None)
    response = support.get(reverse("plans:list") + "?per_page=25")
    page_one = row_ids(response)
    assert len(page_one) == 25
    next_url = response.context["page"].next_url
    page_two = row_ids(support.get(next_url))
    assert len(page_two) == 4 and not set(page_one) & set(page_two)
    assert page_two[-1] == books.late.pk


def test_empty_states(support, db):
    page = text(support.get(reverse("plans:list")))
    assert "No installment plans yet." in page
    page = text(support.get(reverse("plans:list") + "?customer=nobody-like-this"))
    assert "No plans match these filters." in page and "Clear filters" in page


def test_invalid_filters_are_said_and_the_export_refuses_them(support, books):
    assert "Fix these filters" in text(support.get(reverse("plans:list") + "?state=sleeping"))
    assert support.get(reverse("plans:export") + "?state=sleeping").status_code == 400


def test_csv_has_the_listed_plans_with_their_figures(support, books, provider):
    rows = csv_rows(support.get(reverse("plans:export") + f"?provider={provider.pk}"))
    assert [row["id"] for row in rows] == [str(books.paid_off.pk), str(books.late.pk)]
    late = rows[1]
    assert {k: late[k] for k in ("state", "overdue", "customer", "provider", "currency", "principal")} == {
        "state": "active",
        "overdue": "True",
        "customer": "Ada Lovelace",
        "provider": "Acme Cleaning",
        "currency": "EUR",
        "principal": "1000.00",
    }
    assert (late["installments"], late["every_months"], late["first_due_date"], late["issue_date"]) == (
        "10",
        "1",
        "2025-01-10",
        "2025-01-01",
    )
    assert (late["outstanding"], late["description"]) == ("864.40", "Sofa, 10 months")
    assert (rows[0]["state"], rows[0]["overdue"], rows[0]["outstanding"]) == ("paid_off", "False", "0.00")


# --- the plan page ---------------------------------------------------------------------------------------


def test_the_plan_page_shows_the_schedule_and_its_figures(support, books):
    response = support.get(reverse("plans:detail", args=[books.late.pk]))
    assert response.status_code == 200
    lines = {line.installment.plan_sequence: line for line in response.context["schedule"]}
    schedule = {k: line.row for k, line in lines.items()}
    today = timezone.localdate()
    got = [
        (
            k,
            schedule[k].amount,
            schedule[k].paid,
            schedule[k].penalty_charged,
            schedule[k].penalty_waived,
            schedule[k].outstanding,
        )
        for k in (1, 2, 3)
    ]
    assert got == [
        (1, D("100.00"), D("100.00"), D("0.00"), D("0.00"), D("0.00")),
        (2, D("100.00"), D("40.00"), D("2.40"), D("0.00"), D("62.40")),
        (3, D("100.00"), D("0.00"), D("2.00"), D("0.00"), D("102.00")),
    ]
    assert schedule[1].overdue_days == 0
    assert schedule[2].overdue_days == (today - day("2025-02-10")).days
    assert [a.amount for a in lines[2].allocations] == [D("40.00")]
    cells = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row_html(text(response), 2)))
    assert cells == {
        "amount": "100.00 EUR",
        "paid": "40.00 EUR",
        "penalty": "2.40 EUR",
        "waived": "0.00 EUR",
        "outstanding": "62.40 EUR",
        "overdue": "",
    }
    figures = response.context["figures"]
    assert (figures.paid, figures.penalty_charged, figures.waived, figures.outstanding) == (
        D("140.00"),
        D("4.40"),
        D("0.00"),
        D("864.40"),
    )
    page = text(response)
    for piece in (
        'id="plan-outstanding">864.40 EUR',
        "2% of the overdue balance",
        "plan created",
        "Penalty rule history",
    ):
        assert piece in page
    assert len(response.context["penalties"]) == 3


def test_a_plan_without_penalties_or_notices_says_so(support, books):
    page = text(support.get(reverse("plans:detail", args=[books.paid_off.pk])))
    assert "No penalty has been charged on this plan." in page
    assert "No notice has been issued for this plan." in page
    assert "This plan charges no penalties" in page


def test_an_unknown_plan_is_404(support, db):
    assert support.get(reverse("plans:detail", args=[999999])).status_code == 404


def test_installment_and_penalty_invoice_pages_show_their_plan(support, books):
    second = installments(books.late)[1]
    page = text(support.get(second.get_absolute_url()))
    assert f'href="/plans/{books.late.pk}/" id="invoice-plan">Plan {books.late.pk}</a>' in page
    assert "installment 2 of 10" in page
    penalty = Invoice.objects.get(installment=second, penalty_period=2)
    page = text(support.get(penalty.get_absolute_url()))
    assert "penalty on installment 2" in page and "period 2" in page


# --- waive a penalty (with a confirmation) ----------------------------------------------------------------


def penalty_of(plan: Plan, sequence: int, period: int) -> Invoice:
    return Invoice.objects.get(installment=installments(plan)[sequence - 1], penalty_period=period)


def test_waive_a_penalty_confirms_first_then_waives(finance, finance_user, books):
    penalty = penalty_of(books.late, 2, 1)
    url = reverse("plans:waive", args=[books.late.pk, penalty.pk])
    assert finance.get(url).status_code == 200
    token = issue_token(finance_user)
    review = finance.post(url, {"form_token": token, "amount": "", "reason": "First time late"})
    assert review.status_code == 200
    assert "1.20 EUR of penalty" in text(review) and "will be waived" in text(review)
    assert not CreditNote.objects.filter(invoice=penalty).exists()  # the review wrote nothing
    done = finance.post(url, {"form_token": token, "amount": "", "reason": "First time late", "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == reverse("plans:detail", args=[books.late.pk]) + "#penalties"
    (note,) = CreditNote.objects.filter(invoice=penalty)
    assert (note.reason_code, note.amount, note.reason, note.created_by) == (
        "waiver",
        D("1.20"),
        "First time late",
        finance_user,
    )
    page = finance.get(done["Location"])
    assert "1.20 EUR of penalty" in text(page) and "waived" in text(page)
    again = finance.post(url, {"form_token": token, "amount": "", "reason": "First time late", "confirm": "1"})
    assert (
        again.status_code == 302 and CreditNote.objects.filter(invoice=penalty).count() == 1
    )  # a replay writes nothing


def test_waive_part_of_a_penalty(finance, finance_user, books):
    penalty = penalty_of(books.late, 3, 1)
    url = reverse("plans:waive", args=[books.late.pk, penalty.pk])
    post(finance, url, finance_user, amount="0.50", reason="Goodwill", confirm="1")
    assert [n.amount for n in CreditNote.objects.filter(invoice=penalty)] == [D("0.50")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "", "reason": ""}, "reason"),
        ({"amount": "5.00", "reason": "too much"}, "5.00"),
        ({"amount": "1,2", "reason": "comma"}, "Write decimals with a point"),
    ],
)
def test_waive_errors_are_shown_and_nothing_is_written(finance, finance_user, books, data, message):
    penalty = penalty_of(books.late, 2, 1)
    url = reverse("plans:waive", args=[books.late.pk, penalty.pk])
    for extra in ({}, {"confirm": "1"}):
        response = post(finance, url, finance_user, **data, **extra)
        assert response.status_code == 200
        assert message in text(response)
    assert not CreditNote.objects.filter(invoice=penalty).exists()


# --- waive future penalties, notices, rule changes, assessment ---------------------------------------


def test_waive_future_penalties_needs_a_reason(finance, finance_user, books):
    third = installments(books.late)[2]
    url = reverse("plans:waive_future", args=[books.late.pk, third.pk])
    assert "Waive future penalties of" in text(finance.get(url))
    refused = post(finance, url, finance_user, reason="  ")
    assert refused.status_code == 200 and "reason" in text(refused).lower()
    assert not PenaltyWaiver.objects.exists()
    done = post(finance, url, finance_user, reason="Hardship")
    assert done.status_code == 302
    (waiver,) = PenaltyWaiver.objects.all()
    assert (waiver.installment_id, waiver.reason, waiver.created_by) == (third.pk, "Hardship", finance_user)
    again = post(finance, url, finance_user, reason="Twice")
    assert again.status_code == 200 and "already waived" in text(again)


def test_issue_a_notice_and_see_what_changed_since(finance, finance_user, books):
    third = installments(books.late)[2]
    response = post(finance, reverse("plans:notice", args=[books.late.pk, third.pk]), finance_user)
    document = Document.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("documents:detail", args=[document.pk])
    assert (document.kind, document.figures["total_receivable"], document.figures["previous_outstanding"]) == (
        "installment_notice",
        "164.40",
        "62.40",
    )
    page = text(finance.get(response["Location"]))
    assert "Today's figures are the ones printed." in page
    pay(books.late, third, "30.00", "2025-04-18")
    page = text(finance.get(response["Location"]))
    assert "The figures below differ from the ones printed" in page
    assert 'data-figure="total_receivable" class="changed"' in page
    plan_page = text(finance.get(reverse("plans:detail", args=[books.late.pk])))
    assert document.number in plan_page


def test_a_notice_of_a_void_installment_is_refused(finance, finance_user, books):
    from invoices.services import void_invoice

    last = installments(books.late)[9]
    void_invoice(last, by=finance_user, reason="Shortened")
    response = post(finance, reverse("plans:notice", args=[books.late.pk, last.pk]), finance_user)
    assert response.status_code == 400 and "no notice for it" in text(response)
    assert not Document.objects.exists()


def test_change_the_rule_from_a_date(finance, finance_user, books):
    url = reverse("plans:change_rule", args=[books.late.pk])
    assert finance.get(url).status_code == 200
    done = post(
        finance,
        url,
        finance_user,
        effective_from="2025-05-01",
        kind="fixed",
        amount="5.00",
        grace_days="3",
        frequency="once",
        cap="",
    )
    assert done.status_code == 302
    rule = PenaltyRule.objects.filter(plan=books.late).latest("effective_from")
    assert (
        rule.effective_from,
        rule.kind,
        rule.amount,
        rule.rate,
        rule.grace_days,
        rule.frequency,
        rule.created_by,
    ) == (
        day("2025-05-01"),
        "fixed",
        D("5.00"),
        None,
        3,
        "once",
        finance_user,
    )
    page = text(finance.get(reverse("plans:detail", args=[books.late.pk])))
    assert "From 2025-05-01: 5.00 fixed, once, after 3 grace days" in page and "rule changed" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"effective_from": "2025-04-01", "kind": "percent", "rate": "3"}, "must take effect after"),
        ({"effective_from": "2025-06-01", "kind": "percent", "rate": ""}, "Give the rate"),
        ({"effective_from": "2025-06-01", "kind": "percent", "rate": "200"}, "at most 100"),
        ({"effective_from": "2025-06-01", "kind": "fixed", "amount": ""}, "Give the amount"),
        ({"effective_from": "", "kind": "fixed", "amount": "1.00"}, "This field is required"),
    ],
)
def test_rule_change_errors_are_shown_and_nothing_is_written(finance, finance_user, books, data, message):
    response = post(
        finance,
        reverse("plans:change_rule", args=[books.late.pk]),
        finance_user,
        frequency="monthly",
        grace_days="0",
        **data,
    )
    assert response.status_code == 200
    assert message in text(response)
    assert PenaltyRule.objects.filter(plan=books.late).count() == 1


def test_assess_now_charges_the_difference_and_a_rerun_charges_nothing(finance, finance_user, books):
    url = reverse("plans:assess", args=[books.late.pk])
    before = Invoice.objects.filter(plan=books.late, kind="penalty").count()
    done = post(finance, url, finance_user)
    assert done.status_code == 302
    after = Invoice.objects.filter(plan=books.late, kind="penalty").count()
    assert after > before
    assert "penalt" in text(finance.get(done["Location"]))
    post(finance, url, finance_user)
    assert Invoice.objects.filter(plan=books.late, kind="penalty").count() == after
    page = text(finance.get(reverse("plans:detail", args=[books.late.pk])))
    assert "nothing to charge or credit" in page
    assert finance.get(url).status_code == 302  # a GET never writes


# --- the new-plan page -----------------------------------------------------------------------------------


def test_make_a_plan(finance, finance_user, customer, provider):
    url = reverse("plans:new")
    page = text(finance.get(url + f"?customer={customer.pk}"))
    assert 'for="id_principal"' in page and 'for="id_kind"' in page
    response = post(
        finance,
        url,
        finance_user,
        customer=customer.pk,
        provider=provider.pk,
        currency="EUR",
        principal="300.00",
        installments="3",
        first_due_date="2026-01-15",
        every_months="2",
        issue_date="2026-01-01",
        description="Bike",
        kind="percent",
        rate="1.5",
        amount="",
        grace_days="7",
        frequency="monthly",
        cap="10.00",
    )
    plan = Plan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("plans:detail", args=[plan.pk])
    assert [(i.total, i.due_date.isoformat()) for i in installments(plan)] == [
        (D("100.00"), "2026-01-15"),
        (D("100.00"), "2026-03-15"),
        (D("100.00"), "2026-05-15"),
    ]
    (rule,) = plan.penalty_rules.all()
    assert (rule.kind, rule.rate, rule.grace_days, rule.cap, rule.effective_from) == (
        "percent",
        D("1.5000"),
        7,
        D("10.00"),
        day("2026-01-01"),
    )


def test_a_plan_without_penalty_and_bad_input(finance, finance_user, customer, provider):
    base = dict(
        customer=customer.pk,
        provider=provider.pk,
        currency="EUR",
        installments="2",
        first_due_date=(timezone.localdate() + datetime.timedelta(days=20)).isoformat(),
        every_months="1",
        kind="",
        frequency="monthly",
    )
    refused = post(finance, reverse("plans:new"), finance_user, principal="1e3", **base)
    assert refused.status_code == 200 and "is not a number" in text(refused)
    refused = post(finance, reverse("plans:new"), finance_user, principal="10.00", **{**base, "installments": "0"})
    assert refused.status_code == 200 and "greater than or equal to 1" in text(refused)
    past = {**base, "first_due_date": "2020-01-01"}
    refused = post(finance, reverse("plans:new"), finance_user, principal="10.00", **past)
    assert refused.status_code == 200 and "before the plan&#x27;s issue date" in text(refused)
    assert not Plan.objects.exists()
    done = post(finance, reverse("plans:new"), finance_user, principal="10.00", **base)
    assert done.status_code == 302
    assert not Plan.objects.get().penalty_rules.exists()


# --- the waiver report -----------------------------------------------------------------------------------


@pytest.fixture
def waived(books, finance_user):
    waive_penalty(penalty_of(books.late, 2, 1), by=finance_user, reason="First time late")
    waive_future_penalties(installments(books.late)[2], by=None, reason="Hardship")
    return books


def test_the_waiver_report_lists_every_waiver(support, waived):
    response = support.get(reverse("plans:waivers"))
    rows = response.context["rows"]
    got = [(r.kind, r.installment.plan_sequence, r.penalty_charged, r.waived, r.by, r.reason) for r in rows]
    assert got == [
        ("future", 3, D("2.00"), None, "system", "Hardship"),
        ("charged", 2, D("2.40"), D("1.20"), "fiona.finance", "First time late"),
    ]
    page = text(response)
    assert "Future penalties waived" in page and "Charged penalty waived" in page and "First time late" in page


def test_waiver_report_filters(support, waived, other_provider, provider):
    def kinds(query):
        return [row.kind for row in support.get(reverse("plans:waivers") + query).context["rows"]]

    assert kinds("?customer=lovelace") == ["future", "charged"]
    assert kinds("?customer=builder.test") == []
    assert kinds(f"?provider={other_provider.pk}") == []
    assert kinds(f"?provider={provider.pk}") == ["future", "charged"]
    today = timezone.localdate().isoformat()
    assert kinds(f"?waived_from={today}&waived_to={today}") == ["future", "charged"]
    assert kinds("?waived_to=2025-01-01") == []
    page = text(support.get(reverse("plans:waivers") + "?waived_to=2025-01-01"))
    assert "No waivers match these filters." in page


def test_waiver_report_empty_state(support, books):
    assert "No penalty has been waived yet." in text(support.get(reverse("plans:waivers")))


def test_waiver_csv(support, waived):
    rows = csv_rows(support.get(reverse("plans:waivers_export") + "?customer=lovelace"))
    second, third = installments(waived.late)[1:3]
    penalty = penalty_of(waived.late, 2, 1)
    assert [{k: v for k, v in row.items() if k != "at"} for row in rows] == [
        {
            "customer": "Ada Lovelace",
            "provider": "Acme Cleaning",
            "plan": str(waived.late.pk),
            "installment": third.number,
            "installment_sequence": "3",
            "penalty_invoice": "",
            "currency": "EUR",
            "penalty_charged": "2.00",
            "waived": "",
            "kind": "future",
            "by": "system",
            "reason": "Hardship",
        },
        {
            "customer": "Ada Lovelace",
            "provider": "Acme Cleaning",
            "plan": str(waived.late.pk),
            "installment": second.number,
            "installment_sequence": "2",
            "penalty_invoice": penalty.number,
            "currency": "EUR",
            "penalty_charged": "2.40",
            "waived": "1.20",
            "kind": "charged",
            "by": "fiona.finance",
            "reason": "First time late",
        },
    ]
    assert all(row["at"] for row in rows)
    assert support.get(reverse("plans:waivers_export") + "?waived_from=nonsense").status_code == 400


# --- query counts: a page's queries do not grow with its rows ----------------------------------------


def test_the_list_reads_a_fixed_number_of_queries(support, books):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert support.get(reverse("plans:list")).status_code == 200
        return len(captured)

    queries()  # the session, the roles and the nav counts are read (and cached) once
    before = queries()
    for _ in range(5):
        make_plan(books.bob, books.late.provider, None, principal="30.00", installments=3, penalty=None)
    assert queries() == before


def test_the_plan_page_reads_a_fixed_number_of_queries(support, books, finance_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(plan: Plan) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert support.get(reverse("plans:detail", args=[plan.pk])).status_code == 200
        return len(captured)

    queries(books.late)
    before = queries(books.late)  # three penalties, two payments
    for sequence in (3, 4, 5):
        pay(books.late, installments(books.late)[sequence], "10.00", "2025-06-01")
    assess_penalties(as_of=day("2025-09-20"), by=finance_user)
    issue_installment_notice(installments(books.late)[6], by=finance_user)
    assert Invoice.objects.filter(plan=books.late, kind="penalty").count() > 10
    assert queries(books.late) == before


def test_actions_on_another_plans_invoices_are_404(finance, finance_user, books):
    late, other = books.late, books.future
    penalty = penalty_of(late, 2, 1)
    installment = installments(late)[1]
    for url in (
        reverse("plans:waive", args=[other.pk, penalty.pk]),
        reverse("plans:waive", args=[late.pk, installment.pk]),  # an installment is not a penalty
        reverse("plans:waive_future", args=[other.pk, installment.pk]),
        reverse("plans:waive_future", args=[late.pk, penalty.pk]),  # a penalty is not an installment
        reverse("plans:notice", args=[late.pk, penalty.pk]),
    ):
        assert post(finance, url, finance_user, reason="x", confirm="1").status_code == 404, url
    assert not CreditNote.objects.exists() and not PenaltyWaiver.objects.exists() and not Document.objects.exists()
