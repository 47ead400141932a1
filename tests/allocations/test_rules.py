"""The automatic allocation rule (DESIGN.md §6): exact match of 1-3 invoices, else oldest first."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from allocations.models import Allocation
from allocations.rules import plan_allocation
from allocations.services import allocate, auto_allocate, plan_auto_allocation
from invoices.services import void_invoice
from tests.dbstate import unchanged_database
from tests.factories import TODAY, CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

D = Decimal


def day(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


@pytest.fixture
def invoices_due(customer, provider):
    """make(total, days_overdue): an open invoice of the customer due `days_overdue` days ago."""

    def make(total: str, days_overdue: int, **kwargs):
        return make_invoice(
            customer=customer,
            provider=provider,
            total=total,
            issue_date=day(days_overdue + 30),
            due_date=day(days_overdue),
            **kwargs,
        )

    return make


def allocated(payment) -> dict[str, Decimal]:
    rows = Allocation.objects.filter(payment=payment).select_related("invoice").order_by("id")
    return {row.invoice.number: row.amount for row in rows}


pytestmark = pytest.mark.django_db


def test_exact_match_of_one_invoice_beats_oldest_first(customer, invoices_due):
    oldest = invoices_due("30.00", 60)
    match = invoices_due("50.00", 10)
    invoices_due("20.00", 40)
    payment = make_payment(customer=customer, amount="50.00")
    rows = auto_allocate(payment, by=None)
    assert allocated(payment) == {match.number: D("50.00")}
    assert rows[0].reason == "auto: exact match of 1 invoice"
    oldest.refresh_from_db()
    assert oldest.payment_status == "unpaid"
    assert payment.allocation_status == "fully_allocated"
    assert_invariants()


def test_exact_match_of_two_invoices(customer, invoices_due):
    a = invoices_due("30.00", 50)
    invoices_due("45.00", 40)
    c = invoices_due("40.00", 30)
    payment = make_payment(customer=customer, amount="70.00")
    rows = auto_allocate(payment, by=None)
    assert allocated(payment) == {a.number: D("30.00"), c.number: D("40.00")}
    assert {row.reason for row in rows} == {"auto: exact match of 2 invoices"}


def test_exact_match_of_three_invoices(customer, invoices_due):
    a = invoices_due("11.00", 50)
    b = invoices_due("22.00", 40)
    invoices_due("50.00", 35)
    d = invoices_due("33.33", 30)
    payment = make_payment(customer=customer, amount="66.33")
    rows = auto_allocate(payment, by=None)
    assert allocated(payment) == {a.number: D("11.00"), b.number: D("22.00"), d.number: D("33.33")}
    assert {row.reason for row in rows} == {"auto: exact match of 3 invoices"}
    for invoice in (a, b, d):
        invoice.refresh_from_db()
        assert invoice.payment_status == "paid"


def test_fewest_invoices_win_over_older_combinations(customer, invoices_due):
    invoices_due("20.00", 90)
    invoices_due("30.00", 80)
    newest = invoices_due("50.00", 5)
    payment = make_payment(customer=customer, amount="50.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {newest.number: D("50.00")}


def test_equal_single_invoices_resolve_to_the_oldest(customer, invoices_due):
    newer = invoices_due("50.00", 10)
    older = invoices_due("50.00", 20)
    payment = make_payment(customer=customer, amount="50.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {older.number: D("50.00")}
    newer.refresh_from_db()
    assert newer.payment_status == "unpaid"


def test_equal_pairs_resolve_to_the_oldest_invoices(customer, invoices_due):
    # Four pairs sum to 30.00: (a, b), (a, d), (c, b), (c, d). The oldest is (a, b).
    d = invoices_due("20.00", 10)
    c = invoices_due("10.00", 20)
    b = invoices_due("20.00", 30)
    a = invoices_due("10.00", 40)
    payment = make_payment(customer=customer, amount="30.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {a.number: D("10.00"), b.number: D("20.00")}
    for untouched in (c, d):
        untouched.refresh_from_db()
        assert untouched.payment_status == "unpaid"


def test_equal_triples_resolve_to_the_oldest_invoices(customer, invoices_due):
    newest = [invoices_due("10.00", n) for n in (1, 2, 3)]
    oldest = [invoices_due("10.00", n) for n in (70, 60, 50)]
    payment = make_payment(customer=customer, amount="30.00")
    auto_allocate(payment, by=None)
    assert set(allocated(payment)) == {invoice.number for invoice in oldest}
    assert not Allocation.objects.filter(invoice__in=newest).exists()


def test_same_due_date_ties_break_on_issue_date_then_id(customer, provider):
    due = day(10)
    later_issue = make_invoice(customer=customer, provider=provider, total="25.00", issue_date=day(30), due_date=due)
    earlier_issue = make_invoice(customer=customer, provider=provider, total="25.00", issue_date=day(40), due_date=due)
    first_id = make_invoice(customer=customer, provider=provider, total="40.00", issue_date=day(30), due_date=day(5))
    second_id = make_invoice(customer=customer, provider=provider, total="40.00", issue_date=day(30), due_date=day(5))
    payment = make_payment(customer=customer, amount="25.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {earlier_issue.number: D("25.00")}
    payment = make_payment(customer=customer, amount="40.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {first_id.number: D("40.00")}
    assert later_issue.number and second_id.number


def test_oldest_first_on_equal_due_dates_takes_the_earlier_issue_then_the_lower_id(customer, provider):
    """No exact match (30.00 each, 50.00 paid): oldest first, the tie on the due date broken by the issue
    date, then by id, both ways round from the order they were made in."""
    due = day(10)
    a = make_invoice(customer=customer, provider=provider, total="30.00", issue_date=day(40), due_date=due)
    b = make_invoice(customer=customer, provider=provider, total="30.00", issue_date=day(50), due_date=due)
    c = make_invoice(customer=customer, provider=provider, total="30.00", issue_date=day(50), due_date=due)
    payment = make_payment(customer=customer, amount="50.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {b.number: D("30.00"), c.number: D("20.00")}
    assert not Allocation.objects.filter(invoice=a).exists()


def test_oldest_first_spill_over(customer, invoices_due):
    oldest = invoices_due("60.00", 90)
    middle = invoices_due("70.00", 60)
    newest = invoices_due("80.00", 30)
    payment = make_payment(customer=customer, amount="100.00")
    rows = auto_allocate(payment, by=None)
    assert allocated(payment) == {oldest.number: D("60.00"), middle.number: D("40.00")}
    assert {row.reason for row in rows} == {"auto: oldest first"}
    for invoice, status in ((oldest, "paid"), (middle, "partially_paid"), (newest, "unpaid")):
        invoice.refresh_from_db()
        assert invoice.payment_status == status
    assert (payment.allocation_status, payment.unallocated) == ("fully_allocated", D("0.00"))
    assert_invariants()


def test_more_money_than_invoices_pays_them_all_and_keeps_the_rest(customer, invoices_due):
    a = invoices_due("10.00", 20)
    b = invoices_due("15.00", 10)
    payment = make_payment(customer=customer, amount="100.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {a.number: D("10.00"), b.number: D("15.00")}
    assert (payment.allocation_status, payment.unallocated) == ("partially_allocated", D("75.00"))


def test_partly_paid_invoices_count_with_what_is_left(customer, invoices_due):
    a = invoices_due("100.00", 40)
    invoices_due("35.00", 20)
    allocate(make_payment(customer=customer, amount="65.00"), a, "65.00", by=None)
    payment = make_payment(customer=customer, amount="35.00")
    auto_allocate(payment, by=None)
    # a has 35.00 left, as has the newer one; the oldest wins.
    assert allocated(payment) == {a.number: D("35.00")}


def test_other_currencies_customers_and_states_are_untouched(customer, provider, invoices_due):
    in_usd = make_invoice(
        customer=customer, provider=provider, total="50.00", currency="USD", due_date=day(100), issue_date=day(130)
    )
    theirs = make_invoice(
        customer=CustomerFactory(), provider=provider, total="50.00", due_date=day(100), issue_date=day(130)
    )
    draft = make_invoice(
        customer=customer, provider=provider, total="50.00", issue=False, due_date=day(100), issue_date=day(130)
    )
    voided = void_invoice(invoices_due("50.00", 100), by=None, reason="Duplicate")
    mine = invoices_due("80.00", 10)
    payment = make_payment(customer=customer, amount="50.00")
    auto_allocate(payment, by=None)
    assert allocated(payment) == {mine.number: D("50.00")}
    assert not Allocation.objects.filter(invoice__in=[in_usd, theirs, draft, voided]).exists()
    assert_invariants()


def test_second_run_is_idempotent(customer, invoices_due):
    invoices_due("60.00", 30)
    invoices_due("70.00", 20)
    payment = make_payment(customer=customer, amount="100.00")
    assert len(auto_allocate(payment, by=None)) == 2
    with unchanged_database():
        assert auto_allocate(payment, by=None) == []


def test_nothing_to_do_changes_nothing(customer, invoices_due):
    pending = make_payment(customer=customer, amount="50.00", pending=True)
    invoices_due("50.00", 10)
    lonely = make_payment(customer=CustomerFactory(), amount="50.00")
    with unchanged_database():
        assert auto_allocate(pending, by=None) == []
        assert auto_allocate(lonely, by=None) == []


def test_preferred_numbers_come_first(customer, invoices_due):
    a = invoices_due("60.00", 60)
    b = invoices_due("40.00", 30)
    c = invoices_due("100.00", 90)
    payment = make_payment(customer=customer, amount="100.00")
    # Without a preference c is an exact match; the remittance names b, and the rest (60.00) matches a exactly.
    assert [split.invoice.pk for split in plan_auto_allocation(payment)] == [c.pk]
    rows = auto_allocate(payment, preferred_numbers=[b.number, "UNKNOWN-1"], by=None)
    assert allocated(payment) == {b.number: D("40.00"), a.number: D("60.00")}
    assert rows[0].reason == "auto: exact match of 1 invoice, named in remittance"


def test_preferred_invoice_larger_than_the_payment_takes_it_all(customer, invoices_due):
    invoices_due("30.00", 60)
    named = invoices_due("500.00", 10)
    payment = make_payment(customer=customer, amount="30.00")
    auto_allocate(payment, preferred_numbers=[named.number], by=None)
    assert allocated(payment) == {named.number: D("30.00")}


# The pure plan, without a database.


def invoice(number: str, balance: str):
    return SimpleNamespace(number=number, balance_due=D(balance))


def test_plan_of_nothing_is_empty():
    assert plan_allocation(D("0.00"), [invoice("A", "1.00")]) == []
    assert plan_allocation(D("10.00"), []) == []


def test_plan_prefers_pairs_over_triples_and_is_lexicographically_oldest():
    invoices = [invoice("A", "5.00"), invoice("B", "5.00"), invoice("C", "5.00"), invoice("D", "10.00")]
    plan = plan_allocation(D("15.00"), invoices)
    assert [(split.invoice.number, split.amount) for split in plan] == [("A", D("5.00")), ("D", D("10.00"))]


# Each rule of the plan at its limit (issue 18): an exact match of one, two or three invoices,
# a cent either side of it, the order among equal matches, and the money running out.


def planned(plan) -> list[tuple[str, Decimal, str]]:
    return [(split.invoice.number, split.amount, split.reason) for split in plan]


def test_plan_exact_match_of_three_when_no_one_or_two_match():
    invoices = [invoice("A", "10.00"), invoice("B", "20.00"), invoice("C", "35.00"), invoice("D", "40.00")]
    assert planned(plan_allocation(D("65.00"), invoices)) == [
        ("A", D("10.00"), "exact match of 3 invoices"),
        ("B", D("20.00"), "exact match of 3 invoices"),
        ("C", D("35.00"), "exact match of 3 invoices"),
    ]


@pytest.mark.parametrize("money", ["64.99", "65.01"])
def test_plan_a_cent_off_an_exact_match_of_three_pays_oldest_first(money):
    invoices = [invoice("A", "10.00"), invoice("B", "20.00"), invoice("C", "35.00"), invoice("D", "40.00")]
    plan = plan_allocation(D(money), invoices)
    assert {reason for _, _, reason in planned(plan)} == {"oldest first"}
    assert sum(split.amount for split in plan) == D(money)
    assert [split.invoice.number for split in plan] == ["A", "B", "C"] + (["D"] if money == "65.01" else [])
    assert plan[-1].amount == (D("34.99") if money == "64.99" else D("0.01"))


def test_plan_exact_match_of_two_and_of_one_name_their_count():
    invoices = [invoice("A", "10.00"), invoice("B", "20.00"), invoice("C", "35.00")]
    assert planned(plan_allocation(D("55.00"), invoices)) == [
        ("B", D("20.00"), "exact match of 2 invoices"),
        ("C", D("35.00"), "exact match of 2 invoices"),
    ]
    assert planned(plan_allocation(D("20.00"), invoices)) == [("B", D("20.00"), "exact match of 1 invoice")]


def test_plan_equal_triples_take_the_oldest_positions():
    invoices = [invoice(n, "5.00") for n in "ABCDE"] + [invoice("F", "100.00")]
    plan = plan_allocation(D("15.00"), invoices)
    assert [split.invoice.number for split in plan] == ["A", "B", "C"]
    # A pair is still fewer invoices than a triple, even if newer.
    assert [s.invoice.number for s in plan_allocation(D("105.00"), invoices)] == ["A", "F"]


def test_plan_triple_searches_past_the_first_candidates():
    invoices = [
        invoice("A", "1.00"),
        invoice("B", "2.00"),
        invoice("C", "50.00"),
        invoice("D", "60.00"),
        invoice("E", "70.00"),
    ]
    # 50 + 60 + 70 = 180: no single, no pair (120, 130, 110 ...).
    assert [s.invoice.number for s in plan_allocation(D("180.00"), invoices)] == ["C", "D", "E"]
    # 1 + 50 + 70 = 121.
    assert [s.invoice.number for s in plan_allocation(D("121.00"), invoices)] == ["A", "C", "E"]


@pytest.mark.parametrize(
    ("money", "expected"),
    [
        ("34.99", [("A", "20.00"), ("B", "14.99")]),
        ("35.01", [("A", "20.00"), ("B", "15.00"), ("C", "0.01")]),
        ("50.01", [("A", "20.00"), ("B", "15.00"), ("C", "15.00")]),
    ],
)
def test_plan_oldest_first_stops_when_the_money_runs_out(money, expected):
    """A cent either side of an exact match (35.00 = A + B) pays oldest first, up to what is due."""
    invoices = [invoice("A", "20.00"), invoice("B", "15.00"), invoice("C", "15.00")]
    plan = plan_allocation(D(money), invoices)
    assert [(split.invoice.number, split.amount) for split in plan] == [(n, D(a)) for n, a in expected]
    assert {split.reason for split in plan} == {"oldest first"}


def test_plan_named_invoices_first_then_the_rule_on_the_rest():
    invoices = [invoice("A", "20.00"), invoice("B", "15.00"), invoice("C", "15.00")]
    plan = plan_allocation(D("35.00"), invoices, preferred_numbers=["C", "X", "C"])
    assert planned(plan) == [("C", D("15.00"), "named in remittance"), ("A", D("20.00"), "exact match of 1 invoice")]
    plan = plan_allocation(D("10.00"), invoices, preferred_numbers=["C"])
    assert planned(plan) == [("C", D("10.00"), "named in remittance")]
    plan = plan_allocation(D("15.00"), invoices, preferred_numbers=["B"])
    assert planned(plan) == [("B", D("15.00"), "named in remittance")]


def test_plan_of_negative_money_is_empty():
    assert plan_allocation(D("-1.00"), [invoice("A", "1.00")]) == []


def installment(number: str, balance: str, plan_id: int | None):
    return SimpleNamespace(number=number, balance_due=D(balance), plan_id=plan_id)


def test_plan_an_exact_match_never_takes_a_later_installment_of_a_plan():
    """Installments are paid in their plan's order: 30.00 is the second installment's figure, but
    the first is still open, so the money goes oldest first (DESIGN.md section 10)."""
    invoices = [installment("P-1", "100.00", 7), installment("P-2", "30.00", 7)]
    assert planned(plan_allocation(D("30.00"), invoices)) == [("P-1", D("30.00"), "oldest first")]


def test_plan_the_first_open_installment_of_a_plan_may_be_part_of_an_exact_match():
    invoices = [installment("A", "20.00", None), installment("P-1", "40.00", 7), installment("P-2", "40.00", 7)]
    assert planned(plan_allocation(D("60.00"), invoices)) == [
        ("A", D("20.00"), "exact match of 2 invoices"),
        ("P-1", D("40.00"), "exact match of 2 invoices"),
    ]
    # The first installment of each plan: two plans side by side.
    invoices = [installment("P-1", "40.00", 7), installment("Q-1", "25.00", 8), installment("P-2", "25.00", 7)]
    assert planned(plan_allocation(D("25.00"), invoices)) == [("Q-1", D("25.00"), "exact match of 1 invoice")]
    # Invoices after a plan's later installments still count.
    invoices = [installment("P-1", "40.00", 7), installment("P-2", "30.00", 7), installment("A", "25.00", None)]
    assert planned(plan_allocation(D("25.00"), invoices)) == [("A", D("25.00"), "exact match of 1 invoice")]


@pytest.mark.parametrize("money", ["0.01", "1.00"])
def test_plan_of_a_cent_or_a_unit_is_still_planned(money):
    assert planned(plan_allocation(D(money), [invoice("A", money)])) == [("A", D(money), "exact match of 1 invoice")]
    assert planned(plan_allocation(D(money), [invoice("A", "5.00")])) == [("A", D(money), "oldest first")]


def test_plan_named_invoices_stop_taking_when_the_money_is_spent():
    invoices = [invoice("A", "10.00"), invoice("B", "5.00"), invoice("C", "7.00")]
    # Exactly A's balance: B, also named, gets no split of nothing.
    assert planned(plan_allocation(D("10.00"), invoices, preferred_numbers=["A", "B"])) == [
        ("A", D("10.00"), "named in remittance")
    ]
    # Half a unit left after A: B, named next, takes it.
    assert planned(plan_allocation(D("10.50"), invoices, preferred_numbers=["A", "B"])) == [
        ("A", D("10.00"), "named in remittance"),
        ("B", D("0.50"), "named in remittance"),
    ]
    # Half a unit left after the only named invoice: the rule goes on to the others with it.
    assert planned(plan_allocation(D("10.50"), invoices, preferred_numbers=["A"])) == [
        ("A", D("10.00"), "named in remittance"),
        ("B", D("0.50"), "oldest first"),
    ]
    # A number that is not open is passed over, and the next named one still comes first.
    assert planned(plan_allocation(D("7.00"), invoices, preferred_numbers=["X-000001", "B"])) == [
        ("B", D("5.00"), "named in remittance"),
        ("A", D("2.00"), "oldest first"),
    ]


def test_auto_allocate_records_the_clerk_who_asked(customer, invoices_due, clerk):
    invoices_due("30.00", 20)
    invoices_due("40.00", 10)
    payment = make_payment(customer=customer, amount="50.00")
    rows = auto_allocate(payment, by=clerk)
    assert [(row.amount, row.created_by) for row in rows] == [(D("30.00"), clerk), (D("20.00"), clerk)]
    assert all(row.created_by_id == clerk.pk for row in Allocation.objects.filter(payment=payment))
