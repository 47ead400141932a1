"""Parties (customers, providers), their accounts, and what every ledger table shares."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.functions import Upper

from billing.errors import InvalidInput
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
            # The bank import recognises a customer reference in any case (intake.matching.Directory):
            # without it, each chunk of a statement read every customer.
            models.Index(Upper("reference"), name="customer_reference_upper_idx"),
        ]
        # customer_search_idx, a GIN index on settle_customer_document(name, email, phone, reference),
        # serves billing.search; migration 0006_customer_search creates it in SQL, with its functions.

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

    def clean(self) -> None:
        super().clean()
        if self.code:
            self.code = self.code.strip().upper()
            problem = code_problem(self)
            if problem:
                raise ValidationError({"code": problem})

    def save(self, *args, **kwargs) -> None:
        """A blank code is derived from the name (DESIGN.md sections 5 and 7); a code that
        would make an invoice number collide is refused (see code_problem)."""
        if self.code:
            update_fields = kwargs.get("update_fields")
            # Issuing saves only the counter: nothing to check on the hot path.
            problem = code_problem(self) if update_fields is None or "code" in update_fields else ""
            if problem:
                raise InvalidInput(problem, code="provider_code")
            return super().save(*args, **kwargs)
        # Two providers named alike at once may pick the same code: the unique index
        # refuses the second, which then takes the next candidate.
        for code in candidate_codes(self.name):
            if Provider.objects.filter(code=code).exists() or _numbers_use(code):
                continue
            self.code = code
            try:
                with transaction.atomic():
                    return super().save(*args, **kwargs)
            except IntegrityError:
                if not Provider.objects.filter(code=code).exclude(pk=self.pk).exists():
                    raise  # not the code: another constraint
                self.code = ""
        raise InvalidInput(f"No free provider code could be derived from {self.name!r}; give one.")


# --- Provider codes ---------------------------------------------------------------------------
#
# Invoice numbers are the code and the provider's counter (ACME-000042), printed on what
# customers hold. So a code never changes once the provider has issued an invoice (else
# its series would restart under another prefix), and no code may be the prefix of
# invoice numbers that exist (else the next number could be one already issued).


def _numbers_use(code: str, *, other_than: int | None = None) -> bool:
    # Through the reverse relation of Invoice.provider: the kernel imports no app.
    providers = Provider.objects.filter(invoices__number__startswith=f"{code}-")
    if other_than is not None:
        providers = providers.exclude(pk=other_than)
    return providers.exists()


def code_problem(provider: Provider) -> str:
    """Why `provider.code` cannot be saved, or ''."""
    code = provider.code
    if provider.pk is not None:
        old = Provider.objects.filter(pk=provider.pk).values_list("code", "last_invoice_number").first()
        if old and old[0] != code and old[1] > 0:
            return (
                f"The code of {provider.name} cannot change from {old[0]} to {code}: it is the prefix of the "
                f"{old[1]} invoice numbers already issued ({old[0]}-{old[1]:06d} is the latest)."
            )
    if _numbers_use(code, other_than=provider.pk):
        return f"The code {code} cannot be used: invoices numbered {code}-… already exist for another provider."
    return ""


def candidate_codes(name: str, *, length: int = 5, tries: int = 99):
    """PLUMB, PLUMB2, PLUMB3…: the name's first letters and digits, ASCII upper case,
    starting with a letter (the provider_code_format constraint)."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().upper()
    words = re.findall(r"[A-Z0-9]+", ascii_name)
    base = "".join(words).lstrip("0123456789")[:length]
    if len(base) < 2:
        base = (base + "PROV")[:length] if base else "PROV"
    yield base
    for n in range(2, tries + 2):
        suffix = str(n)
        yield base[: 10 - len(suffix)] + suffix


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
