"""The journal as the source rows say it should be, in one set-based SELECT.

`expected_entries_sql` derives, from invoices, credit notes, payments, refunds and
chargebacks alone, the entry every event should have written (ledger.journal says the
same thing row by row). Two readers:

- `backfill`: the migration that created the journal (and the benchmark's fill, which
  loads rows with SQL and bypasses the services) inserts these entries once, ordered by
  effective date, then kind, then source id, so journal positions follow the dates;
- reconciliation.journal compares their sums with the journal's (I1).

Which canceled payments had counted (an entry, then a cancel entry) is the one thing the
final rows do not say: the status history does (a settled payment has a `state` change to
`settled`). A canceled payment without that history (never settled) has no entries. A
payment canceled by a correction (corrected_by set) is taken back on its own value date
(ledger.journal.payment_canceled says why).
"""

from __future__ import annotations

from django.conf import settings
from django.db.backends.utils import CursorWrapper

from invoices.models import InvoiceState
from ledger.models import EntryKind
from payments.models import PaymentState

COLUMNS = (
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


def _day(column: str, tz: str) -> str:
    """A timestamp's date where the business is (timezone.localdate in SQL)."""
    return f"({column} AT TIME ZONE '{tz}')::date"


def expected_entries_sql(tz: str | None = None, *, corrections: bool = True) -> str:
    """SELECT kind, customer_id, ..., chargeback_id (COLUMNS), plus rank and source_id to order by.

    corrections=False: for the journal's own migration, which runs before payments could be
    corrected (payments.0009 adds corrected_by), so it must not name that column.
    """
    tz = (tz or settings.TIME_ZONE).replace("'", "''")
    corrected = "p.corrected_by_id IS NOT NULL" if corrections else "false"
    issued = f"i.state IN ('{InvoiceState.OPEN.value}', '{InvoiceState.VOID.value}') AND i.number IS NOT NULL"
    counted = f"p.state IN ('{PaymentState.SETTLED.value}', '{PaymentState.CHARGED_BACK.value}')"
    canceled_after_settling = f"""p.state = '{PaymentState.CANCELED.value}' AND EXISTS (
            SELECT 1 FROM payments_paymentstatuschange h
            WHERE h.payment_id = p.id AND h.field = 'state' AND h.new = '{PaymentState.SETTLED.value}')"""
    k = EntryKind
    return f"""
        SELECT '{k.INVOICE.value}' AS kind, i.customer_id, i.account_id, i.currency, i.total AS amount,
               i.issue_date AS effective_date, i.id AS invoice_id, NULL::bigint AS credit_note_id,
               NULL::bigint AS payment_id, NULL::bigint AS refund_id, NULL::bigint AS chargeback_id,
               1 AS rank, i.id AS source_id
        FROM invoices_invoice i WHERE {issued}
        UNION ALL
        SELECT '{k.CREDIT_NOTE.value}', i.customer_id, i.account_id, i.currency, -c.amount,
               {_day("c.created_at", tz)}, NULL, c.id, NULL, NULL, NULL, 2, c.id
        FROM invoices_creditnote c JOIN invoices_invoice i ON i.id = c.invoice_id
        UNION ALL
        SELECT '{k.PAYMENT.value}', p.customer_id, NULL, p.currency, -p.amount,
               {_day("p.received_at", tz)}, NULL, NULL, p.id, NULL, NULL, 3, p.id
        FROM payments_payment p WHERE {counted} OR ({canceled_after_settling})
        UNION ALL
        SELECT '{k.REFUND.value}', p.customer_id, NULL, p.currency, r.amount,
               {_day("r.created_at", tz)}, NULL, NULL, NULL, r.id, NULL, 4, r.id
        FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
        UNION ALL
        SELECT '{k.CHARGEBACK.value}', p.customer_id, NULL, p.currency, c.amount,
               {_day("c.created_at", tz)}, NULL, NULL, NULL, NULL, c.id, 5, c.id
        FROM payments_chargeback c JOIN payments_payment p ON p.id = c.payment_id
        UNION ALL
        SELECT '{k.PAYMENT_CANCELED.value}', p.customer_id, NULL, p.currency,
               p.amount - COALESCE((SELECT SUM(amount) FROM payments_refund WHERE payment_id = p.id), 0)
                        - COALESCE((SELECT SUM(amount) FROM payments_chargeback WHERE payment_id = p.id), 0),
               CASE WHEN {corrected} THEN {_day("p.received_at", tz)}
                    ELSE COALESCE({_day("p.canceled_at", tz)}, {_day("p.received_at", tz)}) END,
               NULL, NULL, p.id, NULL, NULL, 6, p.id
        FROM payments_payment p WHERE {canceled_after_settling}
        UNION ALL
        SELECT '{k.VOID.value}', i.customer_id, i.account_id, i.currency,
               -(i.total - COALESCE((SELECT SUM(amount) FROM invoices_creditnote WHERE invoice_id = i.id), 0)),
               COALESCE({_day("i.voided_at", tz)}, i.issue_date), i.id, NULL, NULL, NULL, NULL, 7, i.id
        FROM invoices_invoice i WHERE {issued} AND i.state = '{InvoiceState.VOID.value}'
    """


def backfill_sql(tz: str | None = None, *, corrections: bool = True) -> str:
    """INSERT every expected entry after the journal's last one, ordered by effective date,
    kind and source id (explicit ids: the order of a sequence's nextval over a sorted
    INSERT ... SELECT is not promised)."""
    columns = ", ".join(COLUMNS)
    return f"""
        INSERT INTO ledger_entry (id, {columns}, created_at)
        SELECT (SELECT COALESCE(MAX(id), 0) FROM ledger_entry)
                   + row_number() OVER (ORDER BY effective_date, rank, source_id), {columns}, now()
        FROM ({expected_entries_sql(tz, corrections=corrections)}) e
        ORDER BY effective_date, rank, source_id
    """


SET_SEQUENCE_SQL = (
    "SELECT setval(pg_get_serial_sequence('ledger_entry', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL)"
    " FROM ledger_entry"
)


def backfill(cursor: CursorWrapper, tz: str | None = None, *, corrections: bool = True) -> int:
    """Write the entries of every existing row (the journal must not have them yet); returns how many.

    The journal's foreign keys and indexes are set aside for the INSERT and put back after:
    one validating join per key and one sorted build per index, instead of a key check
    and an index insertion per entry (at 1M invoices, several times faster).
    """
    cursor.execute("SELECT EXISTS (SELECT 1 FROM ledger_entry)")
    if cursor.fetchone()[0]:
        raise RuntimeError("The journal already has entries; backfill is for the rows written before it existed.")
    # The journal-ordered sort of every entry: in memory rather than spilled to disk in 4 MB runs.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'ledger_entry'::regclass AND contype = 'f'"
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = 'ledger_entry'::regclass AND NOT indisprimary"
    )
    indexes = cursor.fetchall()
    for name, _definition in foreign_keys:
        cursor.execute(f'ALTER TABLE ledger_entry DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    cursor.execute(backfill_sql(tz, corrections=corrections))
    written = cursor.rowcount
    cursor.execute(SET_SEQUENCE_SQL)
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE ledger_entry ADD CONSTRAINT "{name}" {definition}')
    return written
