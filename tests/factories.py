"""Factories for tests. Money rows are made through the services, never by hand."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import Customer, Provider
from invoices.services import create_invoice, issue_invoice
from payments.services import record_payment

TODAY = datetime.date(2026, 11, 22)


def due_in(days: int) -> datetime.date:
    """A due date `days` after the real today: for invoices the services issue today (issue_invoice
    dates an invoice without an issue date today and refuses a due date before it, so a due date
    counted from the fixed TODAY expires with the calendar)."""
    return timezone.localdate() + datetime.timedelta(days=days)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"clerk{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@settle.test")
    password = factory.django.Password("pw")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda c: f"{c.name.lower().replace(' ', '.')}@example.com")
    phone = factory.Sequence(lambda n: f"+31 20 555 {n:04d}")


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")
    code = factory.Sequence(lambda n: f"PR{n}")


def make_invoice(
    *,
    customer=None,
    provider=None,
    total: str | Decimal = "100.00",
    currency: str = "EUR",
    due_date: datetime.date | None = None,
    issue_date: datetime.date | None = None,
    issue: bool = True,
    by=None,
):
    """An open invoice of one line for `total` (a draft with issue=False)."""
    customer = customer or CustomerFactory()
    provider = provider or ProviderFactory()
    issue_date = issue_date or TODAY - datetime.timedelta(days=10)
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency=currency,
        lines=[("Services", "1", Decimal(total))],
        due_date=due_date or issue_date + datetime.timedelta(days=30),
        issue_date=issue_date,
        by=by,
    )
    if issue:
        invoice = issue_invoice(invoice, by=by)
    return invoice


def make_payment(*, customer=None, amount: str | Decimal = "100.00", currency: str = "EUR", **kwargs):
    return record_payment(
        customer=customer or CustomerFactory(),
        amount=Decimal(amount),
        currency=currency,
        method=kwargs.pop("method", "bank_transfer"),
        by=kwargs.pop("by", None),
        **kwargs,
    )
