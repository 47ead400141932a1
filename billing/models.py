"""Parties (customers, providers), their accounts, and what every ledger table shares."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.money import CURRENCY_CHOICES

CURRENCY_CHECK = r"^[A-Z]{3}$"


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def currency_field() -> models.CharField:
    return models.CharField(max_length=3, choices=CURRENCY_CHOICES)


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # What the customer writes on a bank transfer so we recognise the money.
    reference = models.CharField(max_length=40, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["email"], name="customer_email_idx"),
        ]
        # customer_search_idx, a GIN index on settle_customer_document(name, email, phone, reference),
        # serves billing.search; migration 0005_customer_search creates it in SQL, with its functions.

    def __str__(self) -> str:
        return self.name


class Provider(models.Model):
    name = models.CharField(max_length=200)
    # Prefix of the provider's invoice numbers: ACME-000042.
    code = models.CharField(max_length=10, unique=True)
    # The last number issued; the next issue takes this row's lock, so numbers have no gaps.
    last_invoice_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z][A-Z0-9]{1,9}$"), name="provider_code_format"),
        ]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """What one customer owes one provider in one currency: the unit of collections.

    The figures are a cache of the account's open invoices, refreshed by the same
    routine and in the same transaction as the invoices themselves (DESIGN.md §5).
    """

    # No index of its own: account_unique_party (customer, provider, currency) serves it.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts", db_index=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="accounts")
    currency = currency_field()
    balance_due = money_field(default=0)
    open_invoice_count = models.PositiveIntegerField(default=0)
    oldest_due_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "provider", "currency"], name="account_unique_party"),
            models.CheckConstraint(condition=Q(balance_due__gte=0), name="account_balance_non_negative"),
        ]
        indexes = [
            models.Index(
                fields=["-balance_due", "id"], condition=Q(balance_due__gt=0), name="account_owing_balance_idx"
            ),
            models.Index(
                fields=["oldest_due_date", "id"], condition=Q(balance_due__gt=0), name="account_owing_age_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} / {self.provider} ({self.currency})"


class LedgerRow(models.Model):
    """Who made a ledger row, when and why. Ledger rows are never updated or deleted."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        abstract = True


class StatusChangeBase(LedgerRow):
    """One change of a lifecycle state or a cached status, with its cause."""

    field = models.CharField(max_length=32)
    old = models.CharField(max_length=32, blank=True)
    new = models.CharField(max_length=32)

    class Meta:
        abstract = True
