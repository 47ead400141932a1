"""The entry journal's one writer: services call these inside their transaction (DESIGN.md §8).

Each function appends the entry of one event, in the transaction of the service that
wrote the event's row (the function refuses to run outside one), so the row and its
entry commit together or not at all. The sign of every kind is decided here and
nowhere else (ledger.models explains them).

Not every service appends: allocate, allocate_many, deallocate and auto_allocate move
money between one customer's own payment and invoice (the invoice's balance due falls,
the payment's unallocated money falls by the same amount), so what the customer owes or
holds does not change and they write no entry. Drafts (create, discard) are not money
either: an invoice counts from its issue. A pending payment counts once it settles.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from billing.sql_arrays import array_param
from invoices.models import CreditNote, Invoice
from ledger.models import EntryKind
from payments.models import Chargeback, Payment, PaymentState, Refund

_INSERT = """
    INSERT INTO ledger_entry (kind, customer_id, account_id, currency, amount, effective_date,
                              invoice_id, credit_note_id, payment_id, refund_id, chargeback_id, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_COLUMNS = (
    "kind",
    "customer_id",
    "account_id",
    "currency",
    "amount",
    "effective_date",
    "invoice_id",
    "credit_note_id",
    "payment_id",
    "refund_id",
    "chargeback_id",
)
_COLUMN_TYPES = (
    "text",
    "bigint",
    "bigint",
    "text",
    "numeric",
    "date",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
)


def _append(
    kind: str,
    *,
    customer_id: int,
    currency: str,
    amount: Decimal,
    effective_date: datetime.date,
    account_id: int | None = None,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    payment_id: int | None = None,
    refund_id: int | None = None,
    chargeback_id: int | None = None,
) -> None:
    # One INSERT without a queryset, like the other ledger rows in ledger.core: it runs in
    # every payment recorded. The database checks the kind, sign and source (Entry.Meta).
    if not connection.in_atomic_block:
        raise RuntimeError("A journal entry is written in the transaction of the row it mirrors.")
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                kind,
                customer_id,
                account_id,
                currency,
                amount,
                effective_date,
                invoice_id,
                credit_note_id,
                payment_id,
                refund_id,
                chargeback_id,
                timezone.now(),
            ],
        )


def _day(moment: datetime.datetime | None) -> datetime.date:
    return timezone.localdate(moment or timezone.now())


def invoice_issued(invoice: Invoice) -> None:
    """+total on the issue date: from then on the customer owes it."""
    _append(EntryKind.INVOICE, **_issued(invoice))


def _issued(invoice: Invoice) -> dict:
    assert invoice.issue_date is not None, "an issued invoice has an issue date"
    return dict(
        customer_id=invoice.customer_id,
        account_id=invoice.account_id,
        currency=invoice.currency,
        amount=invoice.total,
        effective_date=invoice.issue_date,
        invoice_id=invoice.pk,
    )


def invoices_issued(invoices: Sequence[Invoice]) -> None:
    """invoice_issued for many invoices in one multi-row INSERT (the bench's hard cases)."""
    _append_many(EntryKind.INVOICE, [_issued(invoice) for invoice in invoices])


def invoice_voided(invoice: Invoice) -> None:
    """−(total − credited) on the void date: what the issued invoice still counted.

    Only for an invoice that was issued (a discarded draft never counted). The caller
    has refreshed the invoice, so credited_total is the ledger's.
    """
    _append(
        EntryKind.VOID,
        customer_id=invoice.customer_id,
        account_id=invoice.account_id,
        currency=invoice.currency,
        amount=-(invoice.total - invoice.credited_total),
        effective_date=_day(invoice.voided_at),
        invoice_id=invoice.pk,
    )


def credit_note_issued(note: CreditNote, invoice: Invoice) -> None:
    """−amount on the credit note's date."""
    _append(
        EntryKind.CREDIT_NOTE,
        customer_id=invoice.customer_id,
        account_id=invoice.account_id,
        currency=invoice.currency,
        amount=-note.amount,
        effective_date=_day(note.created_at),
        credit_note_id=note.pk,
    )


def credit_notes_issued(notes: Sequence[tuple[CreditNote, Invoice]]) -> None:
    """credit_note_issued for several credit notes (ledger.bulk), in one multi-row INSERT, in order."""
    _append_many(
        EntryKind.CREDIT_NOTE,
        [
            dict(
                customer_id=invoice.customer_id,
                account_id=invoice.account_id,
                currency=invoice.currency,
                amount=-note.amount,
                effective_date=_day(note.created_at),
                credit_note_id=note.pk,
            )
            for note, invoice in notes
        ],
    )


def payment_received(payment: Payment) -> None:
    """−amount on the day the money was received (received_at, its value date)."""
    _append(EntryKind.PAYMENT, **_received(payment))


def payments_received(payments: Sequence[Payment]) -> None:
    """payment_received for a chunk of payments (ledger.bulk), in one multi-row INSERT, in order.

    The same entry as payment_received writes for each, from the same _received.
    """
    _append_many(EntryKind.PAYMENT, [_received(p) for p in payments])


def _append_many(kind: EntryKind, entries: Sequence[dict]) -> None:
    """Entries of one kind in one multi-row INSERT, in the given order."""
    if not entries:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("A journal entry is written in the transaction of the row it mirrors.")
    rows = [dict.fromkeys(_COLUMNS) | {"kind": kind.value, **entry} for entry in entries]
    # One array per column (unnest), not a parameter per value: binding those costs more than the insert.
    casts = ", ".join(f"%s::{column_type}[]" for column_type in _COLUMN_TYPES)
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO ledger_entry ({columns}, created_at) SELECT {columns}, %s"
            f" FROM unnest({casts}) WITH ORDINALITY AS v({columns}, n) ORDER BY n",
            [timezone.now(), *(array_param([row[column] for row in rows]) for column in _COLUMNS)],
        )


def _received(payment: Payment) -> dict:
    return dict(
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount=-payment.amount,
        effective_date=_day(payment.received_at),
        payment_id=payment.pk,
    )


def payment_refunded(refund: Refund, payment: Payment) -> None:
    """+amount on the refund's date: the money went back, so the customer holds less."""
    _append(
        EntryKind.REFUND,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount=refund.amount,
        effective_date=_day(refund.created_at),
        refund_id=refund.pk,
    )


def payment_charged_back(chargeback: Chargeback, payment: Payment) -> None:
    """+amount on the chargeback's date."""
    _append(
        EntryKind.CHARGEBACK,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount=chargeback.amount,
        effective_date=_day(chargeback.created_at),
        chargeback_id=chargeback.pk,
    )


def payment_canceled(payment: Payment, *, was: str) -> None:
    """+(what the payment still counted) on the cancel date; nothing if it never counted.

    `was` is the state before the cancel: a pending payment never had an entry, so its
    cancel has none either. A settled one counted amount − refunded (a charged-back
    payment cannot be canceled, but its chargebacks are taken off all the same).

    A payment canceled by a correction (it names its replacement, corrected_by) is taken
    back on its own value date, not on the day of the correction: the correction says it
    never counted as recorded, so a balance as of any date counts the replacement alone
    (from the replacement's value date) and never both.
    """
    if was != PaymentState.SETTLED:
        return
    _append(
        EntryKind.PAYMENT_CANCELED,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount=payment.amount - payment.refunded_total - payment.charged_back_total,
        effective_date=_day(payment.received_at if payment.corrected_by_id else payment.canceled_at),
        payment_id=payment.pk,
    )
