"""The collections queue: owing accounts by balance or age, with aging for one page."""

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.errors import InvalidInput
from dunning.selectors import ZERO_AGING, aging_by_account, attach_aging, collections_queue, collections_totals
from tests.factories import TODAY, CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db

D = Decimal
DAY = datetime.timedelta(days=1)


def test_accounts_by_balance_and_by_age_with_aging_buckets(provider, other_provider, clerk):
    ada, bob = CustomerFactory(name="Ada"), CustomerFactory(name="Bob")
    issued = TODAY - 200 * DAY

    def invoice(customer, total, due, issuer=provider):
        return make_invoice(customer=customer, provider=issuer, total=total, issue_date=issued, due_date=due)

    invoice(ada, "100.00", TODAY + 5 * DAY)  # current
    invoice(ada, "50.00", TODAY - 10 * DAY)  # 1-30
    invoice(ada, "40.00", TODAY - 45 * DAY)  # 31-60
    invoice(ada, "30.00", TODAY - 75 * DAY)  # 61-90
    partly = invoice(ada, "20.00", TODAY - 120 * DAY)  # 90+
    allocate(make_payment(customer=ada, amount="5.00"), partly, D("5.00"), by=clerk)
    invoice(bob, "500.00", TODAY - 3 * DAY)
    paid_off = invoice(bob, "10.00", TODAY - 150 * DAY, issuer=other_provider)
    allocate(make_payment(customer=bob, amount="10.00"), paid_off, D("10.00"), by=clerk)

    by_balance = list(collections_queue())
    assert [a.customer.name for a in by_balance] == ["Bob", "Ada"]
    assert [a.balance_due for a in by_balance] == [D("500.00"), D("235.00")]
    by_age = list(collections_queue(order="age"))
    assert [a.customer.name for a in by_age] == ["Ada", "Bob"]

    totals = collections_totals(collections_queue())
    assert (totals.count, totals.by_currency) == (2, {"EUR": {"balance_due": D("735.00")}})

    ada_account = by_balance[1]
    aging = aging_by_account([ada_account.pk], today=TODAY)[ada_account.pk]
    assert (aging.current, aging.days_1_30, aging.days_31_60, aging.days_61_90, aging.days_over_90) == (
        D("100.00"), D("50.00"), D("40.00"), D("30.00"), D("15.00")
    )
    assert sum(vars(aging).values()) == ada_account.balance_due
    page = attach_aging(by_balance, today=TODAY)
    assert page[0].aging.days_1_30 == D("500.00")


def test_an_account_without_open_invoices_gets_zero_aging(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="80.00")
    allocate(make_payment(customer=customer, amount="80.00"), invoice, D("80.00"), by=clerk)
    account = invoice.account
    account.refresh_from_db()
    assert aging_by_account([]) == {}
    assert attach_aging([account], today=TODAY)[0].aging == ZERO_AGING
    assert not collections_queue().exists()


def test_unknown_order_is_refused():
    with pytest.raises(InvalidInput):
        collections_queue(order="name")
