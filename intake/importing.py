"""Bank statement intake: turn a statement's entries into payments, through the services.

`import_statement` parses a statement (intake.statements: the Settle CSV layout or
camt.053), then handles each entry once, keyed by its bank reference
(payments.models.BankEntry). Recognising the payer is intake.matching; recording a
credit and the clerks' decisions on work items are intake.services.

- an incoming credit: the customer is recognised by a customer reference (the
  statement's structured reference, or a ``C-...`` token in the text, equal to
  Customer.reference) or else by the invoice numbers in the remittance text (all of
  one customer). The money is recorded with record_payment (bank transfer, the bank
  reference as idempotency reference, received on the booking date), then
  auto_allocate puts it first on the invoices the text names, then by the rule of
  DESIGN.md §6. An unrecognised customer, or invoices of several customers, makes
  the entry `unidentified`: a work item for a clerk, never dropped. A credit that
  looks exactly like one already imported under another reference (same date,
  amount, currency, payer and text: the same statement exported twice in two
  formats) is held for review instead of being recorded twice;
- a reversal of an incoming credit (the payer's bank sent it back): record_chargeback
  on the payment recorded from that credit, if exactly one imported payment matches
  (same currency and amount, booked no later, nothing returned from it yet, narrowed by
  customer, payer and text); otherwise a work item (`needs_review`);
- a reversal of money we sent (a refund that bounced): a work item, by hand;
- any other debit (bank fees, refunds we sent): recorded as `ignored`, nothing booked.

Transactions: each entry is handled in its own transaction (its payment, allocations
or chargeback, and its bank entry row commit together or not at all). Malformed rows
and entries the services refuse are reported with their line or entry number and
skipped; the others are imported. Because every entry is keyed by its bank reference,
a file interrupted halfway (a database error stops the import) is finished by
importing the same file again, and clerks are never blocked for the length of a
whole file. A dry run handles every entry the same way inside one transaction that is
rolled back, so it shows exactly what an import would do and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import DatabaseError, connection, transaction

from billing.actors import Actor
from billing.errors import BillingError, InvalidInput
from billing.money import format_money, parse_positive_amount
from intake.matching import find_reversed_payment, identify_customer
from intake.models import BankEntry, BankEntryStatus
from intake.services import (
    AllocationLine,
    booked_at,
    describe_entry,
    record_and_allocate,
)
from intake.statements import StatementEntry, StatementError, StatementSource, iter_statement
from payments.models import Payment
from payments.services import record_chargeback

# pg_advisory_xact_lock(namespace, hashtext(reference)): two imports of overlapping files
# handle the same bank reference one after the other.
_LOCK_NAMESPACE = 0x5E77


class Outcome:
    RECORDED = "recorded"
    CHARGED_BACK = "charged_back"
    IGNORED = "ignored"
    UNIDENTIFIED = "unidentified"
    NEEDS_REVIEW = "needs_review"
    ALREADY_IMPORTED = "already_imported"
    REJECTED = "rejected"

    LABELS = {
        RECORDED: "recorded",
        CHARGED_BACK: "charged back",
        IGNORED: "ignored (money out)",
        UNIDENTIFIED: "unidentified",
        NEEDS_REVIEW: "needs review",
        ALREADY_IMPORTED: "already imported",
        REJECTED: "rejected",
    }
    NEEDS_A_PERSON = {UNIDENTIFIED, NEEDS_REVIEW, REJECTED}


@dataclass
class EntryResult:
    position: str
    outcome: str
    message: str
    bank_reference: str = ""
    amount: Decimal | None = None
    currency: str = ""
    credit: bool = True
    payment: Payment | None = None
    bank_entry: BankEntry | None = None
    allocations: list[AllocationLine] = field(default_factory=list)

    @property
    def amount_display(self) -> str:
        """Signed like the statement: money out shows as -45.00 EUR."""
        if self.amount is None:
            return ""
        return ("" if self.credit else "-") + format_money(self.amount, self.currency)

    @property
    def outcome_label(self) -> str:
        return Outcome.LABELS[self.outcome]

    @property
    def needs_a_person(self) -> bool:
        return self.outcome in Outcome.NEEDS_A_PERSON


#: Called after each chunk of entries is handled (and committed, unless a dry run):
#: progress(done, total, results of the chunk). `done` counts entries and entry errors.
ProgressCallback = Callable[[int, int, list[EntryResult]], None]

#: Entries handled between two progress calls.
CHUNK = 200


@dataclass
class ImportReport:
    source_name: str
    format: str
    dry_run: bool
    results: list[EntryResult] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    stopped: str = ""
    #: Outcome -> number of entries; kept even when the results themselves are not (keep_results=False).
    tally: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def add(self, result: EntryResult, *, keep: bool = True) -> None:
        self.tally[result.outcome] += 1
        if keep:
            self.results.append(result)

    def count(self, outcome: str) -> int:
        return self.tally[outcome]

    @property
    def counts(self) -> dict[str, int]:
        return {label: self.count(outcome) for outcome, label in Outcome.LABELS.items()}

    @property
    def exit_code(self) -> int:
        """0: all handled; 1: some entries need a person; 2: the file was unreadable or the import stopped."""
        if self.file_errors or self.stopped:
            return 2
        return 1 if any(self.tally[outcome] for outcome in Outcome.NEEDS_A_PERSON) else 0

    def summary(self) -> str:
        parts = [f"{count} {label}" for label, count in self.counts.items() if count]
        text = ", ".join(parts) or "no entries"
        if self.dry_run:
            text = "Dry run, nothing was saved: would be " + text
        if self.file_errors:
            text += "; the file could not be read: " + "; ".join(self.file_errors)
        if self.stopped:
            text += "; " + self.stopped
        return text + "."


def _position_key(position: str) -> tuple[int, int]:
    kind, _, number = position.partition(" ")
    return (0, 0) if kind == "file" else (1, int(number) if number.isdigit() else 0)


def _same_facts(existing: BankEntry, entry: StatementEntry) -> bool:
    return (
        existing.amount == entry.amount
        and existing.currency == entry.currency
        and existing.credit == entry.credit
        and existing.reversal == entry.reversal
        and existing.booking_date == entry.booking_date
    )


class _Entry:
    """Handles one statement entry inside its transaction."""

    def __init__(self, entry: StatementEntry, *, source_name: str, by):
        self.entry = entry
        self.source_name = source_name
        self.by = by

    def result(self, outcome: str, message: str, **kwargs) -> EntryResult:
        return EntryResult(
            position=self.entry.position,
            outcome=outcome,
            message=message,
            bank_reference=self.entry.bank_reference,
            amount=self.entry.amount,
            currency=self.entry.currency,
            credit=self.entry.credit,
            **kwargs,
        )

    def save(self, status: str, note: str, **links) -> BankEntry:
        entry = self.entry
        return BankEntry.objects.create(
            bank_reference=entry.bank_reference,
            booking_date=entry.booking_date,
            amount=entry.amount,
            currency=entry.currency,
            credit=entry.credit,
            reversal=entry.reversal,
            counterparty_name=entry.counterparty_name,
            customer_reference=entry.customer_reference,
            remittance_text=entry.remittance_text,
            source_name=self.source_name[:255],
            source_position=entry.position[:32],
            imported_by=self.by,
            status=status,
            note=note,
            **links,
        )

    def handle(self) -> EntryResult:
        entry = self.entry
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_NAMESPACE, entry.bank_reference])
        existing = BankEntry.objects.filter(bank_reference=entry.bank_reference).first()
        if existing is not None:
            if not _same_facts(existing, entry):
                raise InvalidInput(
                    f"Bank reference {entry.bank_reference} was imported before ({existing.source_position} of "
                    f"{existing.source_name or 'an earlier file'}) as a {describe_entry(existing)}; this entry is a "
                    f"{describe_entry(entry)}. Ask the bank which is right."
                )
            return self.result(
                Outcome.ALREADY_IMPORTED,
                f"already imported from {existing.source_name or 'an earlier file'} ({existing.source_position}): "
                f"{existing.get_status_display().lower()}",
                bank_entry=existing,
                payment=existing.payment,
            )
        if len(entry.bank_reference) > 100:
            raise InvalidInput(f"Bank reference {entry.bank_reference[:40]}... is longer than 100 characters.")
        if not entry.credit and not entry.reversal:
            note = "A bank fee or a refund we sent: nothing to record."
            return self.result(Outcome.IGNORED, note, bank_entry=self.save(BankEntryStatus.IGNORED, note))
        parse_positive_amount(entry.amount, entry.currency)  # a currency we keep, in its minor unit
        if entry.reversal and entry.credit:
            note = "Reversal of money we sent (e.g. a refund that bounced): handle it by hand."
            return self.result(Outcome.NEEDS_REVIEW, note, bank_entry=self.save(BankEntryStatus.NEEDS_REVIEW, note))
        if entry.reversal:
            return self.reverse_credit()
        return self.record_credit()

    def record_credit(self) -> EntryResult:
        entry = self.entry
        twin = (
            BankEntry.objects.filter(
                booking_date=entry.booking_date,
                amount=entry.amount,
                currency=entry.currency,
                credit=True,
                reversal=False,
                counterparty_name=entry.counterparty_name,
                remittance_text=entry.remittance_text,
            )
            .exclude(counterparty_name="", remittance_text="")
            .first()
        )
        if twin is not None:
            note = (
                f"Looks like {twin.bank_reference} ({twin.source_position} of {twin.source_name or 'an earlier file'}): "
                "same date, amount, payer and text under another bank reference. If it is a second payment, "
                "assign it to the customer; otherwise dismiss it."
            )
            return self.result(Outcome.NEEDS_REVIEW, note, bank_entry=self.save(BankEntryStatus.NEEDS_REVIEW, note))
        who = identify_customer(entry)
        if who.customer is None:
            note = f"No customer recognised: {who.problem}."
            return self.result(Outcome.UNIDENTIFIED, note, bank_entry=self.save(BankEntryStatus.UNIDENTIFIED, note))
        payment, allocations, note = record_and_allocate(
            entry.bank_reference,
            customer=who.customer,
            amount=entry.amount,
            currency=entry.currency,
            booked=booked_at(entry.booking_date),
            remittance_text=entry.remittance_text,
            by=self.by,
        )
        message = f"{payment} for {who.customer} (by {who.how})" + (f"; {note}" if note else "")
        bank_entry = self.save(BankEntryStatus.RECORDED, message, customer=who.customer, payment=payment)
        return self.result(Outcome.RECORDED, message, payment=payment, bank_entry=bank_entry, allocations=allocations)

    def reverse_credit(self) -> EntryResult:
        entry = self.entry
        payment, problem = find_reversed_payment(entry)
        if payment is None:
            note = f"Reversal not applied: {problem}. Record the chargeback by hand, then dismiss this entry."
            return self.result(Outcome.NEEDS_REVIEW, note, bank_entry=self.save(BankEntryStatus.NEEDS_REVIEW, note))
        reason = f"Bank reversal {entry.bank_reference} booked {entry.booking_date}"
        if entry.remittance_text:
            reason += f": {entry.remittance_text}"
        chargeback = record_chargeback(payment, amount=entry.amount, by=self.by, reason=reason)
        message = f"chargeback #{chargeback.pk} on {payment} ({payment.customer})"
        bank_entry = self.save(
            BankEntryStatus.CHARGED_BACK, message, customer=payment.customer, payment=payment, chargeback=chargeback
        )
        return self.result(Outcome.CHARGED_BACK, message, payment=payment, bank_entry=bank_entry)


def _handle_entry(entry: StatementEntry, *, source_name: str, by: Actor) -> EntryResult:
    try:
        with transaction.atomic():
            return _Entry(entry, source_name=source_name, by=by).handle()
    except BillingError as exc:
        return EntryResult(
            position=entry.position,
            outcome=Outcome.REJECTED,
            message=str(exc),
            bank_reference=entry.bank_reference,
            amount=entry.amount,
            currency=entry.currency,
            credit=entry.credit,
        )


def import_statement(
    source: StatementSource,
    *,
    source_name: str = "",
    format: str | None = None,
    profile: str | None = None,
    by: Actor,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    keep_results: bool = True,
) -> ImportReport:
    """Import a bank statement (see the module doc); returns what became of every entry.

    `source` is the statement's bytes or a binary file. `format` is "csv" or "camt053"
    (None: detected from the content and file name); an unknown format raises
    ValueError. `profile` names the CSV layout. `progress` is called after every chunk
    of entries (see ProgressCallback); with keep_results=False the report keeps only the
    counts (a background import stores each chunk's results as they come).
    """
    chosen, items = iter_statement(source, format=format, profile=profile, filename=source_name or None)
    report = ImportReport(source_name=source_name, format=chosen, dry_run=dry_run)
    entries: list[StatementEntry] = []
    rejected: list[EntryResult] = []  # entries the parser refused: reported with the first chunk
    for item in items:
        if isinstance(item, StatementError):
            if item.position == "file":
                report.file_errors.append(item.reason)
            else:
                rejected.append(EntryResult(position=item.position, outcome=Outcome.REJECTED, message=item.reason))
                report.add(rejected[-1], keep=keep_results)
        else:
            entries.append(item)
    report.total = len(entries) + len(rejected)

    def handle_all() -> None:
        _handle_all(
            report, entries, source_name=source_name, by=by, progress=progress, keep=keep_results, first_chunk=rejected
        )

    if dry_run:
        with transaction.atomic():
            handle_all()
            transaction.set_rollback(True)
    else:
        handle_all()
    report.results.sort(key=lambda result: _position_key(result.position))
    return report


def _handle_all(
    report: ImportReport,
    entries: Sequence[StatementEntry],
    *,
    source_name: str,
    by: Actor,
    progress: ProgressCallback | None,
    keep: bool,
    first_chunk: list[EntryResult],
) -> None:
    chunk = list(first_chunk)
    done = len(chunk)
    for index, entry in enumerate(entries):
        try:
            result = _handle_entry(entry, source_name=source_name, by=by)
        except DatabaseError as exc:
            report.stopped = (
                f"stopped at {entry.position} by a database error ({type(exc).__name__}: {exc}); "
                f"{index} entries before it were handled; import the same file again to finish"
            )
            break
        report.add(result, keep=keep)
        chunk.append(result)
        done += 1
        if progress is not None and len(chunk) >= CHUNK:
            progress(done, report.total, chunk)
            chunk = []
    if progress is not None and (chunk or done == 0):
        progress(done, report.total, chunk)
