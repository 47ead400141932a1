"""The collections queue's selectors: owing accounts by balance or age, aging for one page.

These cases came from the deleted second collections_queue. Where it differed, the page's
behaviour is kept: the order is ?sort=balance (default) or ?sort=age, and an unknown sort
falls back to the default (the page never refuses a sort); the aging keys are the page's.
"""

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate
from dunning.selectors import AGING_BUCKETS, account_list, account_totals, aging
from tests.factories import TODAY, CustomerFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db

D = Decimal
DAY = datetime.timedelta(days=1)
ZERO_AGING = {b.key: D("0.00") for b in AGING_BUCKETS}


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

    by_balance = list(account_list(filters={}))
    assert [a.customer.name for a in by_balance] == ["Bob", "Ada"]
    assert [a.balance_due for a in by_balance] == [D("500.00"), D("235.00")]
    by_age = list(account_list(filters={"sort": "age"}))
    assert [a.customer.name for a in by_age] == ["Ada", "Bob"]

    totals = account_totals(filters={})
    assert (totals.count, totals.by_currency) == (2, [{"currency": "EUR", "count": 2, "balance_due": D("735.00")}])

    ada_account = by_balance[1]
    buckets = aging([ada_account.pk], TODAY)[ada_account.pk]
    assert buckets == {
        "current": D("100.00"),
        "d1_30": D("50.00"),
        "d31_60": D("40.00"),
        "d61_90": D("30.00"),
        "d90_plus": D("15.00"),
    }
    assert sum(buckets.values()) == ada_account.balance_due
    assert aging([a.pk for a in by_balance], TODAY)[by_balance[0].pk]["d1_30"] == D("500.00")


def test_an_account_without_open_invoices_gets_zero_aging(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="80.00")
    allocate(make_payment(customer=customer, amount="80.00"), invoice, D("80.00"), by=clerk)
    account = invoice.account
    account.refresh_from_db()
    assert aging([], TODAY) == {}
    assert aging([account.pk], TODAY)[account.pk] == ZERO_AGING
    assert not account_list(filters={}).exists()


def test_an_unknown_sort_is_the_default_order(customer, provider):
    make_invoice(customer=customer, provider=provider, total="10.00")
    make_invoice(customer=CustomerFactory(), provider=provider, total="90.00")
    assert list(account_list(filters={"sort": "name"})) == list(account_list(filters={"sort": "balance"}))
