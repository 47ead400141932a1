"""The import's write path: statement entries handled in chunks, each entry's outcome its own.

A chunk (at most CHUNK entries; intake.runner cuts the file and commits) is one transaction:

1. read the bank entries already imported under its references (an entry, once
   committed, is never deleted: what is found needs no lock, so a re-import takes none);
   take the advisory locks of the others in one statement, in a fixed (hash) order, so
   two imports of overlapping files wait for each other instead of recording a reference
   twice, and never deadlock; and read those again under their locks;
2. read, under those locks, what the whole chunk needs in one query each: the payments a
   clerk recorded with them, the look-alike credits (twins), the customers its references
   name and the owners of the invoices its remittances name (intake.matching.Directory); then lock
   the accounts of the customers it pays, in id order (see Chunk.lock_accounts);
3. handle each entry in file order, remembering what the earlier ones stored: payments
   and chargebacks go through the services (record_and_allocate, record_chargeback), the
   one write path; the bank entry rows are inserted together at the end of the chunk.
   A new credit of an identified customer (the bulk of a statement) is decided at once
   but written at the end of the chunk with the others, by record_and_allocate_many: the
   same rows as record_and_allocate one after another, in a few set-based statements.
   Nothing else of a chunk writes money before them (a reversal of a credit is a chunk
   of its own, intake.runner.batches), so writing them last changes no outcome.

If the set-based write is refused (by the services or the database), the chunk is rolled
back and handled again carefully, where every credit goes through record_and_allocate.

An entry the services refuse before writing (an unknown currency, another payment under
its reference) is that entry's rejection. Anything refused after a write began, or
refused by the database outside a savepoint (e.g. a NUL byte in a payer's name), rolls
the whole chunk back and it is handled again carefully: each entry with its bank entry
row inside its own savepoint, so the refused entry is rejected alone. A new credit gets
no savepoint in the common path: that saves two round trips per entry, and refusals are
rare.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from billing.actors import Actor
from billing.errors import BillingError
from intake.decisions import (
    NOT_BOOKED_NOTE,
    already_imported,
    bank_entry_row,
    check_storable,
    decided_by_facts,
    load_twins,
    refused_message,
    result_for,
    twin_key,
    twin_note,
)
from intake.matching import Directory, Identification, choose_reversed, identify_customer, reversal_candidates
from intake.models import BankEntry, BankEntryStatus
from intake.outcomes import EntryResult, Outcome
from intake.parsing.common import BOOKED
from intake.services import NewCredit, booked_at, record_and_allocate, record_and_allocate_many
from intake.statements import StatementEntry
from ledger.bulk import insert_many
from ledger.core import lock_customer_accounts
from payments.models import Payment
from payments.services import record_chargeback

# pg_advisory_xact_lock(namespace, hashtext(reference)): two imports of overlapping files
# handle the same bank reference one after the other.
LOCK_NAMESPACE = 0x5E77
# One statement for a chunk, in hash order: every importer takes its locks in the same order.
_LOCK_CHUNK = """
    SELECT count(pg_advisory_xact_lock(%s, h))
    FROM (SELECT DISTINCT hashtext(r) AS h FROM unnest(%s::text[]) AS r ORDER BY h) AS locks
"""
FATAL = (OperationalError, InterfaceError)


class RedoCarefully(Exception):
    """The database refused something of the chunk outside an entry's savepoint: handle it again, carefully."""


class _Refused(Exception):
    """The database refused an entry's payment or chargeback (rolled back to the entry's savepoint)."""


# What an entry imported before is compared and reported with (intake.decisions.already_imported):
# a re-import reads one row per entry, and the rest of the row and of its payment is not needed
# (building whole rows was a quarter of a 100k re-import).
EXISTING_FIELDS = (
    "bank_reference",
    "status",
    "payment",
    "amount",
    "currency",
    "credit",
    "reversal",
    "booking_date",
    "source_name",
    "source_position",
)


class Chunk:
    """One transaction's worth of entries: what they need, read at once, and their new rows."""

    def __init__(self, entries: Sequence[StatementEntry], *, source_name: str, by: Actor, careful: bool):
        self.entries = entries
        self.source_name = source_name[:255]
        self.by = by
        self.careful = careful
        self.set_based = not careful and settings.SETTLE_INTAKE_SET_BASED
        self.pending: list[BankEntry] = []
        self.stored: dict[str, BankEntry] = {}
        # New credits of identified customers, written together by write_credits.
        self.new_credits: list[tuple[NewCredit, Identification, BankEntry, EntryResult]] = []

    def load(self) -> None:
        booked = [entry for entry in self.entries if entry.status == BOOKED]
        references = sorted({entry.bank_reference for entry in booked})
        # A bank entry, once committed, is never deleted and its facts never change, so what is
        # found imported needs no lock (a re-import then takes none). Only the references not
        # found are locked, and read again under their locks: another import may have been
        # writing them and has committed by the time the lock is ours.
        self.existing = self._imported(references)
        new_references = [reference for reference in references if reference not in self.existing]
        if new_references:
            with connection.cursor() as cursor:
                cursor.execute(_LOCK_CHUNK, [LOCK_NAMESPACE, new_references])
            self.existing.update(self._imported(new_references))
        new = [entry for entry in booked if entry.bank_reference not in self.existing]
        self.paid_references = set(
            Payment.objects.filter(reference__in=[e.bank_reference for e in new if e.credit and not e.reversal])
            .values_list("reference", flat=True)
            .order_by()
        )
        new_credits = [entry for entry in new if entry.credit and not entry.reversal]
        self.twins = load_twins(new_credits)
        # Credits and the reversals of credits are identified; other entries name no customer.
        self.directory = Directory([entry for entry in new if entry.credit != entry.reversal])
        self.lock_accounts(new_credits)

    @staticmethod
    def _imported(references: Sequence[str]) -> dict[str, BankEntry]:
        if not references:
            return {}
        rows = BankEntry.objects.filter(bank_reference__in=references).select_related("payment")
        return {row.bank_reference: row for row in rows.only(*EXISTING_FIELDS, "payment__id")}

    def lock_accounts(self, credits: Sequence[StatementEntry]) -> None:
        """Lock the accounts of every customer the chunk's credits pay, in id order, before any of them.

        The chunk's transaction keeps the locks its allocations take until it commits; taken
        one entry after another they would come in no global order, and a clerk allocating
        meanwhile could deadlock with the import. Every writer locks an invoice's account
        before the invoice (ledger.core.lock_rows), so holding the accounts from the start
        keeps the one lock order for the whole chunk.
        """
        customers = {who.customer.pk for entry in credits if (who := identify_customer(entry, self.directory)).customer}
        lock_customer_accounts(customers)

    def handle(self, entry: StatementEntry) -> EntryResult:
        """The entry's result; a refusal by the services or the database is the entry's rejection.

        Careful: the entry alone, its reads and writes in a savepoint. Otherwise a database
        refusal outside the services' savepoints may have spoilt the chunk's transaction, so
        the chunk is started again carefully (RedoCarefully).
        """
        try:
            return self._handle(entry)
        except BillingError as exc:
            return result_for(entry, Outcome.REJECTED, str(exc))
        except _Refused as refused:
            return result_for(entry, Outcome.REJECTED, str(refused))
        except FATAL:
            raise
        except DatabaseError as exc:
            if self.careful:
                raise
            raise RedoCarefully from exc

    def _handle(self, entry: StatementEntry) -> EntryResult:
        if entry.status != BOOKED:
            return result_for(entry, Outcome.NOT_BOOKED, f"{entry.status}: {NOT_BOOKED_NOTE}")
        existing = self.existing.get(entry.bank_reference) or self.stored.get(entry.bank_reference)
        if existing is not None:
            if existing.status == BankEntryStatus.RECORDED and existing.payment_id is None:
                self.write_credits()  # a repeated reference in the chunk: report the payment its first one made
            return already_imported(existing, entry)
        check_storable(entry)
        decided = decided_by_facts(entry)
        if decided is not None:
            outcome, note = decided
            row = self.store(entry, BankEntryStatus(outcome), note)
            return result_for(entry, outcome, note, bank_entry=row)
        if entry.reversal:
            return self.reverse_credit(entry)
        return self.record_credit(entry)

    def store(self, entry: StatementEntry, status: str, note: str, **links) -> BankEntry:
        row = bank_entry_row(
            entry, source_name=self.source_name, status=status, imported_by=self.by, note=note, **links
        )
        self.pending.append(row)
        self.stored[entry.bank_reference] = row
        if entry.credit and not entry.reversal and (key := twin_key(entry)) is not None:
            self.twins[key] = row
        return row

    def flush(self) -> None:
        """Write the chunk's new credits, then insert its new bank entry rows together; if
        the services or the database refuse, start the chunk again (carefully)."""
        self.write_credits()
        if not self.pending:
            return
        try:
            insert_many(BankEntry, self.pending)
        except FATAL:
            raise
        except DatabaseError as exc:
            raise RedoCarefully from exc
        self.pending = []

    def write_credits(self) -> None:
        """Record and auto-allocate the chunk's new credits in one set-based write, then
        complete their bank entry rows and results (decided when each entry was handled)."""
        if not self.new_credits:
            return
        try:
            written = record_and_allocate_many([credit for credit, _, _, _ in self.new_credits], by=self.by)
        except FATAL:
            raise
        except (DatabaseError, BillingError) as exc:
            raise RedoCarefully from exc
        for (_, who, row, result), (payment, allocations, note) in zip(self.new_credits, written, strict=True):
            message = _recorded_message(payment, who, note)
            row.note, row.payment = message, payment
            result.message, result.payment, result.allocations = message, payment, allocations
        self.new_credits = []

    def services(self, call, *, savepoint: bool = True):
        """Run a service call so that a refused payment or chargeback takes nothing else with it.

        Careful: the entry's own savepoint (run_carefully) covers it. With `savepoint`, one
        around the call. Without (a new credit, the common case: two round trips fewer per
        entry), anything the services refuse, before or after writing, sends the whole chunk
        to run_carefully, where the refusal is that entry's alone.
        """
        if self.careful:
            return call()
        try:
            if savepoint:
                with transaction.atomic():
                    return call()
            return call()
        except FATAL:
            raise
        except DatabaseError as exc:
            if not savepoint:
                raise RedoCarefully from exc
            raise _Refused(refused_message(exc)) from exc
        except BillingError as exc:
            if not savepoint:
                raise RedoCarefully from exc
            raise

    def record_credit(self, entry: StatementEntry) -> EntryResult:
        key = twin_key(entry)
        twin = self.twins.get(key) if key is not None else None
        if twin is not None:
            note = twin_note(twin)
            row = self.store(entry, BankEntryStatus.NEEDS_REVIEW, note)
            return result_for(entry, Outcome.NEEDS_REVIEW, note, bank_entry=row)
        who = identify_customer(entry, self.directory)
        if who.customer is None:
            note = f"No customer recognised: {who.problem}."
            row = self.store(entry, BankEntryStatus.UNIDENTIFIED, note)
            return result_for(entry, Outcome.UNIDENTIFIED, note, bank_entry=row)
        customer = who.customer
        if self.set_based and entry.bank_reference not in self.paid_references:
            # Recorded with the chunk's other new credits (write_credits); the row and the
            # result get their payment there, before the chunk's bank entries are inserted.
            row = self.store(entry, BankEntryStatus.RECORDED, "", customer=customer)
            result = result_for(entry, Outcome.RECORDED, "", bank_entry=row)
            credit = NewCredit(
                entry.bank_reference,
                customer,
                entry.amount,
                entry.currency,
                booked_at(entry.booking_date),
                entry.remittance_text,
            )
            self.new_credits.append((credit, who, row, result))
            return result
        payment, allocations, note = self.services(
            lambda: record_and_allocate(
                entry.bank_reference,
                customer=customer,
                amount=entry.amount,
                currency=entry.currency,
                booked=booked_at(entry.booking_date),
                remittance_text=entry.remittance_text,
                by=self.by,
                recorded_before=entry.bank_reference in self.paid_references,
            ),
            # A payment a clerk recorded with this reference may be refused (other data): keep it to this entry.
            savepoint=entry.bank_reference in self.paid_references,
        )
        message = _recorded_message(payment, who, note)
        row = self.store(entry, BankEntryStatus.RECORDED, message, customer=who.customer, payment=payment)
        return result_for(entry, Outcome.RECORDED, message, payment=payment, bank_entry=row, allocations=allocations)

    def reverse_credit(self, entry: StatementEntry) -> EntryResult:
        self.flush()  # the credit it sends back may be earlier in this chunk
        who = identify_customer(entry, self.directory)
        chosen, problem = choose_reversed(entry, who, reversal_candidates(entry, who))
        if chosen is None:
            note = f"Reversal not applied: {problem}. Record the chargeback by hand, then dismiss this entry."
            row = self.store(entry, BankEntryStatus.NEEDS_REVIEW, note)
            return result_for(entry, Outcome.NEEDS_REVIEW, note, bank_entry=row)
        payment = chosen.payment
        assert payment is not None  # a recorded credit has its payment
        reason = f"Bank reversal {entry.bank_reference} booked {entry.booking_date}"
        if entry.remittance_text:
            reason += f": {entry.remittance_text}"
        chargeback = self.services(lambda: record_chargeback(payment, amount=entry.amount, by=self.by, reason=reason))
        message = f"chargeback #{chargeback.pk} on {payment} ({payment.customer})"
        row = self.store(
            entry,
            BankEntryStatus.CHARGED_BACK,
            message,
            customer=payment.customer,
            payment=payment,
            chargeback=chargeback,
        )
        return result_for(entry, Outcome.CHARGED_BACK, message, payment=payment, bank_entry=row)


def _recorded_message(payment: Payment, who: Identification, note: str) -> str:
    return f"{payment} for {who.customer} (by {who.how})" + (f"; {note}" if note else "")
