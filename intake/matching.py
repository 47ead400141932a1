"""Who sent a bank entry, and which payment a reversal sends back.

A customer is recognised by a customer reference (the statement's structured
reference, or a ``C-...`` token in the remittance text, equal to Customer.reference in
any case), else by the invoice numbers in the remittance text when they all belong to
one customer. Nothing here writes; a Directory reads what a batch of entries names at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models.functions import Upper

from billing.errors import InvalidInput
from billing.models import Customer
from billing.money import format_money
from billing.validation import parse_id
from intake.models import BankEntry, BankEntryStatus
from intake.statements import StatementEntry, find_invoice_numbers
from invoices.models import Invoice
from payments.models import Payment, PaymentState

#: A customer reference written in free text: ``C-`` and 3 to 20 letters or digits, a token of its own.
CUSTOMER_REFERENCE_RE = re.compile(r"(?<![A-Za-z0-9_-])([Cc]-[A-Za-z0-9]{3,20})(?![A-Za-z0-9_-])")


@dataclass(frozen=True)
class Identification:
    customer: Customer | None
    how: str = ""
    problem: str = ""


def _references(entry: StatementEntry) -> list[str]:
    references = [entry.customer_reference] if entry.customer_reference else []
    return references + CUSTOMER_REFERENCE_RE.findall(entry.remittance_text)


class Directory:
    """The customers and invoice owners a batch of entries can name, read in three queries.

    The import loads one per chunk of entries (instead of three queries per entry);
    identify_customer without one loads a directory for its one entry, so both read the
    same way. Customer references compare in any case, as reference__iexact does; when
    two customers' references differ only in case, the first in Customer order wins, as
    .first() did.
    """

    def __init__(self, entries: Iterable[StatementEntry]):
        references: set[str] = set()
        numbers: set[str] = set()
        for entry in entries:
            references.update(reference.upper() for reference in _references(entry))
            numbers.update(find_invoice_numbers(entry.remittance_text))
        self.by_reference: dict[str, Customer] = {}
        if references:
            for customer in Customer.objects.annotate(key=Upper("reference")).filter(key__in=references):
                self.by_reference.setdefault(customer.key, customer)  # type: ignore[attr-defined]
        # Found by number, so every number is set (the column allows None for drafts).
        self.owner_of: dict[str, int] = {}
        if numbers:
            rows = Invoice.objects.filter(number__in=numbers).values_list("number", "customer_id")
            self.owner_of = {number: customer_id for number, customer_id in rows if number is not None}
        missing = set(self.owner_of.values()) - {c.pk for c in self.by_reference.values()}
        self.by_id: dict[int, Customer] = {c.pk: c for c in self.by_reference.values()}
        if missing:
            self.by_id.update(Customer.objects.in_bulk(missing))


def identify_customer(entry: StatementEntry, directory: Directory | None = None) -> Identification:
    """Who paid: by customer reference first, else by the invoice numbers in the remittance text."""
    if directory is None:
        directory = Directory([entry])
    references = _references(entry)
    for reference in references:
        customer = directory.by_reference.get(reference.upper())
        if customer is not None:
            return Identification(customer, f"customer reference {reference}")
    problems = [f"customer reference {reference} is unknown" for reference in references]
    numbers = find_invoice_numbers(entry.remittance_text)
    if numbers:
        owners = {number: directory.owner_of[number] for number in numbers if number in directory.owner_of}
        customer_ids = set(owners.values())
        if len(customer_ids) == 1:
            customer = directory.by_id[customer_ids.pop()]
            return Identification(customer, f"invoice {', '.join(sorted(owners))}")
        if customer_ids:
            problems.append(f"invoices {', '.join(sorted(owners))} belong to {len(customer_ids)} different customers")
        else:
            problems.append(f"no invoice numbered {', '.join(numbers)}")
    if not references and not numbers:
        problems.append("no customer reference and no invoice number in the remittance text")
    return Identification(None, problem="; ".join(problems))


def reversal_candidates(entry: StatementEntry, who: Identification) -> list[BankEntry]:
    """Imported credits (with their payments) this reversal could send back, before narrowing."""
    imported = BankEntry.objects.filter(
        status__in=[BankEntryStatus.RECORDED, BankEntryStatus.RESOLVED],
        credit=True,
        reversal=False,
        currency=entry.currency,
        amount=entry.amount,
        booking_date__lte=entry.booking_date,
        payment__state__in=[PaymentState.SETTLED, PaymentState.CHARGED_BACK],
        payment__refunded_total=0,
        payment__charged_back_total=0,
    ).select_related("payment", "payment__customer")
    if who.customer is not None:
        imported = imported.filter(payment__customer=who.customer)
    return list(imported)


def choose_reversed(
    entry: StatementEntry, who: Identification, candidates: list[BankEntry]
) -> tuple[BankEntry | None, str]:
    """The one candidate a reversal sends back, narrowed by payer then text, or None and why."""
    if len(candidates) > 1 and entry.counterparty_name:
        same_payer = [c for c in candidates if c.counterparty_name.casefold() == entry.counterparty_name.casefold()]
        candidates = same_payer or candidates
    if len(candidates) > 1 and entry.remittance_text:
        same_text = [c for c in candidates if c.remittance_text and c.remittance_text in entry.remittance_text]
        candidates = same_text or candidates
    if len(candidates) == 1:
        return candidates[0], ""
    what = f"{format_money(entry.amount, entry.currency)}" + (f" from {who.customer}" if who.customer else "")
    if not candidates:
        return None, f"no imported payment of {what} that could be sent back"
    listed = ", ".join(str(c.payment) for c in candidates[:5])
    return None, f"{len(candidates)} imported payments of {what} could be the one sent back ({listed})"


def find_reversed_payment(entry: StatementEntry, directory: Directory | None = None) -> tuple[Payment | None, str]:
    """The one imported payment this reversal sends back, or None and why."""
    who = identify_customer(entry, directory)
    chosen, problem = choose_reversed(entry, who, reversal_candidates(entry, who))
    return (chosen.payment if chosen is not None else None), problem


def customer_by_reference_or_id(value: str) -> Customer:
    """The customer a clerk typed: a Customer.reference (any case) or a customer id."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput("Give the customer's reference or id.")
    customer = Customer.objects.filter(reference__iexact=value).first()
    if customer is None and (pk := parse_id(value)) is not None:
        customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise InvalidInput(f"No customer has the reference or id {value!r}.")
    return customer
