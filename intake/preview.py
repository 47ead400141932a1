"""The dry run: what an import would do, from reads only.

It writes nothing and takes no number from a sequence (no payment, chargeback or bank
entry row is inserted, not even in a transaction rolled back), so the real import that
follows gets the same payment numbers as if no dry run had happened.

Each entry is judged as the import judges it (intake.decisions, intake.matching), in
file order, remembering what the earlier entries of the file would have done: a credit
it would record can be the twin of a later one, or the payment a later reversal sends
back; the invoices it would pay are planned with allocations.services.plan_auto_allocation
as if the earlier credits' allocations were made (`already_planned`). A chargeback of a
credit of the same file frees what that credit's plan had taken (the newest_first rule);
a chargeback of a payment recorded before the file is not replayed on the plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from allocations.services import plan_auto_allocation
from billing.actors import Actor
from billing.errors import BillingError, DuplicateReference
from billing.money import format_money, minor_unit
from intake.decisions import (
    NOT_BOOKED_NOTE,
    already_imported,
    bank_entry_row,
    check_storable,
    decided_by_facts,
    load_twins,
    result_for,
    twin_key,
    twin_note,
)
from intake.matching import Directory, Identification, choose_reversed, identify_customer, reversal_candidates
from intake.models import BankEntry, BankEntryStatus
from intake.outcomes import EntryResult, ImportReport, Outcome, ProgressCallback
from intake.parsing.common import BOOKED
from intake.reading import Reader
from intake.services import AllocationLine
from intake.statements import StatementEntry, find_invoice_numbers
from payments.checks import chargeback_reversal
from payments.models import Payment, PaymentMethod, PaymentState


@dataclass
class _Planned:
    """A credit the dry run would record: its stand-in bank entry and the allocations planned for it."""

    row: BankEntry
    splits: dict[int, Decimal] = field(default_factory=dict)
    charged_back: bool = False


class Preview:
    def __init__(self, source_name: str):
        self.source_name = source_name[:255]
        self.stored: dict[str, BankEntry] = {}  # what the file's earlier entries would have stored
        self.twins: dict = {}
        self.credits: list[_Planned] = []
        self.planned: dict[int, Decimal] = {}  # invoice id -> amount the earlier credits would allocate
        self.charged_back: set[int] = set()  # payments (recorded before) the file would charge back

    def chunk(self, entries: Sequence[StatementEntry]) -> list[EntryResult]:
        booked = [entry for entry in entries if entry.status == BOOKED]
        references = {entry.bank_reference for entry in booked}
        self.existing = {
            row.bank_reference: row
            for row in BankEntry.objects.filter(bank_reference__in=references).select_related("payment")
        }
        new = [entry for entry in booked if entry.bank_reference not in self.existing]
        credits = [entry for entry in new if entry.credit and not entry.reversal]
        self.recorded = {
            payment.reference: payment
            for payment in Payment.objects.filter(reference__in=[e.bank_reference for e in credits]).select_related(
                "customer"
            )
        }
        self.twins.update({key: row for key, row in load_twins(credits).items() if key not in self.twins})
        self.directory = Directory([entry for entry in new if entry.credit != entry.reversal])
        results = []
        for entry in entries:
            try:
                results.append(self.judge(entry))
            except BillingError as exc:
                results.append(result_for(entry, Outcome.REJECTED, str(exc)))
        return results

    def judge(self, entry: StatementEntry) -> EntryResult:
        if entry.status != BOOKED:
            return result_for(entry, Outcome.NOT_BOOKED, f"{entry.status}: {NOT_BOOKED_NOTE}")
        existing = self.existing.get(entry.bank_reference) or self.stored.get(entry.bank_reference)
        if existing is not None:
            return already_imported(existing, entry)
        check_storable(entry)
        decided = decided_by_facts(entry)
        if decided is not None:
            return self.would(entry, *decided)
        if entry.reversal:
            return self.reverse_credit(entry)
        return self.record_credit(entry)

    def would(self, entry: StatementEntry, outcome: str, note: str, **kwargs) -> EntryResult:
        self.stand_in(entry, outcome)
        return result_for(entry, outcome, note, **kwargs)

    def stand_in(self, entry: StatementEntry, outcome: str, payment: Payment | None = None) -> BankEntry:
        status = BankEntryStatus.RECORDED if outcome == Outcome.RECORDED else outcome
        row = bank_entry_row(entry, source_name=self.source_name, status=status, payment=payment)
        self.stored[entry.bank_reference] = row
        if entry.credit and not entry.reversal and (key := twin_key(entry)) is not None:
            self.twins[key] = row
        return row

    def record_credit(self, entry: StatementEntry) -> EntryResult:
        key = twin_key(entry)
        twin = self.twins.get(key) if key is not None else None
        if twin is not None:
            return self.would(entry, Outcome.NEEDS_REVIEW, twin_note(twin))
        who = identify_customer(entry, self.directory)
        if who.customer is None:
            return self.would(entry, Outcome.UNIDENTIFIED, f"No customer recognised: {who.problem}.")
        minor_unit(entry.currency)
        money = format_money(entry.amount, entry.currency)
        earlier = self.recorded.get(entry.bank_reference)
        if earlier is not None:
            same = (earlier.customer_id, earlier.amount, earlier.currency, earlier.method) == (
                who.customer.pk,
                entry.amount,
                entry.currency,
                PaymentMethod.BANK_TRANSFER,
            )
            if not same:
                raise DuplicateReference(
                    f"Reference {entry.bank_reference!r} already belongs to payment {earlier} "
                    f"({format_money(earlier.amount, earlier.currency)} from {earlier.customer}, "
                    f"{earlier.get_method_display().lower()}); a different payment needs its own reference."
                )
            message = (
                f"{earlier} for {who.customer} (by {who.how}); already recorded before this import; left as it was"
            )
            self.stand_in(entry, Outcome.RECORDED, earlier)
            return result_for(entry, Outcome.RECORDED, message)
        payment = Payment(
            customer=who.customer,
            amount=entry.amount,
            currency=entry.currency,
            method=PaymentMethod.BANK_TRANSFER,
            reference=entry.bank_reference,
            unallocated=entry.amount,
            state=PaymentState.SETTLED,
        )
        plan = plan_auto_allocation(
            payment, preferred_numbers=find_invoice_numbers(entry.remittance_text), already_planned=self.planned
        )
        planned = _Planned(self.stand_in(entry, Outcome.RECORDED, payment))
        lines = []
        for split in plan:
            self.planned[split.invoice.pk] = self.planned.get(split.invoice.pk, Decimal("0.00")) + split.amount
            planned.splits[split.invoice.pk] = split.amount
            lines.append(AllocationLine(str(split.invoice.number), split.amount, entry.currency, split.reason))
        self.credits.append(planned)
        left = entry.amount - sum((split.amount for split in plan), Decimal("0.00"))
        message = f"would record a payment of {money} for {who.customer} (by {who.how})"
        if lines:
            message += ", allocated to " + ", ".join(f"{line.invoice_number} {line.amount_display}" for line in lines)
        if left > 0:
            message += f"; {format_money(left, entry.currency)} left unallocated"
        return result_for(entry, Outcome.RECORDED, message, allocations=lines)

    def reverse_credit(self, entry: StatementEntry) -> EntryResult:
        who = identify_customer(entry, self.directory)
        candidates = [row for row in reversal_candidates(entry, who) if row.payment_id not in self.charged_back]
        from_file = {id(planned.row): planned for planned in self.credits if self._may_reverse(planned, entry, who)}
        candidates += [planned.row for planned in from_file.values()]
        chosen, problem = choose_reversed(entry, who, candidates)
        if chosen is None:
            note = f"Reversal not applied: {problem}. Record the chargeback by hand, then dismiss this entry."
            return self.would(entry, Outcome.NEEDS_REVIEW, note)
        payment = chosen.payment
        assert payment is not None
        planned = from_file.get(id(chosen))
        if planned is not None:
            planned.charged_back = True
            if chargeback_reversal() == "newest_first":  # its allocations are reversed: the invoices owe again
                for invoice_id, amount in planned.splits.items():
                    self.planned[invoice_id] -= amount
            label = f"the payment recorded from {chosen.source_position}"
        else:
            self.charged_back.add(payment.pk)
            label = str(payment)
        self.stand_in(entry, Outcome.CHARGED_BACK)
        message = f"would record a chargeback of {format_money(entry.amount, entry.currency)} on {label}"
        return result_for(entry, Outcome.CHARGED_BACK, f"{message} ({payment.customer})")

    @staticmethod
    def _may_reverse(planned: _Planned, entry: StatementEntry, who: Identification) -> bool:
        row = planned.row
        return (
            not planned.charged_back
            and row.currency == entry.currency
            and row.amount == entry.amount
            and row.booking_date <= entry.booking_date
            and (who.customer is None or (row.payment is not None and row.payment.customer_id == who.customer.pk))
        )


def preview_entries(
    report: ImportReport,
    reader: Reader,
    *,
    source_name: str,
    by: Actor,
    progress: ProgressCallback | None,
    keep: bool,
) -> None:
    """The dry run of run_chunks: the same report and progress calls, nothing written."""
    preview = Preview(source_name)
    done = 0
    for batch in reader:
        report.file_errors += batch.file_errors
        report.total += batch.size
        results = batch.rejected + preview.chunk(batch.entries)
        done += len(results)
        report.add_all(results, keep=keep)
        if progress is not None:
            progress(done, reader.total or 0, results)
