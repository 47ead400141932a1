"""A small ledger for the staff pages: every invoice and payment status, overdue and not,
two providers, three currencies. Built through the services, like real data."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group
from django.test import override_settings
from django.utils import timezone

from allocations.services import allocate
from invoices.services import issue_credit_note, void_invoice
from payments.services import cancel_payment, record_chargeback
from tests.factories import CustomerFactory, ProviderFactory, UserFactory, make_invoice, make_payment

PASSWORD = "pw"


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def make_staff():
    """support, finance, admin (superuser) and nobody (signed in, no role); password 'pw'."""
    # get_or_create: a transactional test (live_server) flushes the groups the migration made.
    support = UserFactory(username="sam")
    support.groups.add(Group.objects.get_or_create(name="support")[0])
    finance = UserFactory(username="fay")
    finance.groups.add(Group.objects.get_or_create(name="finance")[0])
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    nobody = UserFactory(username="nora")
    return support, finance, admin, nobody


@dataclass
class Ledger:
    acme: object
    bolt: object
    ada: object
    bob: object
    cy: object
    invoices: dict
    payments: dict


def build_ledger() -> Ledger:
    acme = ProviderFactory(name="Acme Cleaning", code="ACME")
    bolt = ProviderFactory(name="Bolt Repairs", code="BOLT")
    ada = CustomerFactory(name="Ada Lovelace", email="ada@analytical.test", phone="+44 20 7946 0001")
    bob = CustomerFactory(name="Bob Builder", email="bob@builder.test", phone="+31 20 555 0002")
    cy = CustomerFactory(name="Cy Twombly", email="cy@paint.test", phone="")

    def invoice(customer, provider, total, due, issued=None, currency="EUR", issue=True):
        return make_invoice(
            customer=customer,
            provider=provider,
            total=total,
            currency=currency,
            due_date=days(due),
            issue_date=days(issued if issued is not None else min(due, 0) - 30),
            issue=issue,
        )

    inv = {
        # name: invoice                                     status, overdue
        "ada_overdue_30": invoice(ada, acme, "100.00", -30),  # unpaid, 30 days past due
        "ada_partial_75": invoice(ada, bolt, "200.00", -75),  # partially paid, 75 days
        "ada_current": invoice(ada, acme, "300.00", 10),  # unpaid, not due yet
        "ada_paid": invoice(ada, acme, "50.00", -5),  # paid
        "bob_overpaid": invoice(bob, acme, "80.00", 20),  # overpaid
        "bob_usd_100": invoice(bob, bolt, "120.00", -100, currency="USD"),  # unpaid, 100 days
        "bob_void": invoice(bob, acme, "60.00", -40),  # void
        "cy_draft": invoice(cy, acme, "5000", 30, currency="JPY", issue=False),  # draft
        "cy_jpy_45": invoice(cy, bolt, "10000", -45, currency="JPY"),  # unpaid, 45 days
        "bob_due_today": invoice(bob, acme, "40.00", 0),  # unpaid, due today: not overdue
        "bob_charged": invoice(bob, acme, "40.00", 5),  # paid by a payment later charged back
    }
    pay = {
        "ada_full": make_payment(customer=ada, amount="50.00", reference="BANK-ADA-1", received_at=_at(-5)),
        "ada_partial": make_payment(customer=ada, amount="80.00", reference="BANK-ADA-2", received_at=_at(-4)),
        "bob_usd": make_payment(customer=bob, amount="40.00", currency="USD", method="card", received_at=_at(-3)),
        "bob_eur": make_payment(customer=bob, amount="80.00", reference="bank-bob-1", received_at=_at(-2)),
        "bob_over": make_payment(customer=bob, amount="40.00", reference="CHG-1", received_at=_at(-1)),
        "cy_canceled": make_payment(customer=cy, amount="1000", currency="JPY", method="cash", received_at=_at(-6)),
    }
    allocate(pay["ada_full"], inv["ada_paid"], Decimal("50.00"), by=None)
    allocate(pay["ada_partial"], inv["ada_partial_75"], Decimal("50.00"), by=None)
    allocate(pay["bob_eur"], inv["bob_overpaid"], Decimal("80.00"), by=None)
    issue_credit_note(inv["bob_overpaid"], amount=Decimal("20.00"), reason="Broken window", by=None)
    allocate(pay["bob_over"], inv["bob_charged"], Decimal("40.00"), by=None)
    with override_settings(SETTLE_CHARGEBACK_REVERSAL="manual"):  # the payment stays overallocated
        record_chargeback(pay["bob_over"], amount=Decimal("15.00"), reason="Card dispute", by=None)
    void_invoice(inv["bob_void"], reason="Sent twice", by=None)
    cancel_payment(pay["cy_canceled"], reason="Recorded twice", by=None)
    for obj in (*inv.values(), *pay.values()):
        obj.refresh_from_db()
    return Ledger(acme, bolt, ada, bob, cy, inv, pay)


def _at(day_offset: int) -> datetime.datetime:
    return timezone.now().replace(hour=10, minute=0, second=0, microsecond=0) + datetime.timedelta(days=day_offset)
