"""The sealed payload: what the agency receives, built by streaming, never held whole.

Format (README, "Exports"). CSV: a header, then one `balance` row per account of the batch
(ordered by customer, currency, account), then one `entry` row per journal entry (by entry
id, its journal position), all with the same columns:

    record, profile, batch, entry, kind, effective_date, customer, customer_reference,
    provider, account, currency, amount, opening, closing, document

A balance row has amount = the batch's delta for the account and its opening and closing;
an entry row has the entry's signed amount (+ raises what the customer owes) and the
document it mirrors (invoice number; for a credit note "<invoice number>/CN<id>"; for the
payment side the payment's reference or "P<id>"). JSON: one object
{"profile", "batch", "entry_count", "balances": [...], "entries": [...]} whose rows carry the
same fields, amounts as decimal strings.

PostgreSQL writes the rows (COPY ... TO STDOUT, its own CSV quoting; JSON through
json_build_object), and Python only hashes and spools the blocks to a temporary file, so a
batch of a million entries costs a few MB of memory whatever its size.
"""

from __future__ import annotations

import hashlib
from typing import IO

from psycopg import sql

COLUMNS = (
    "record",
    "profile",
    "batch",
    "entry",
    "kind",
    "effective_date",
    "customer",
    "customer_reference",
    "provider",
    "account",
    "currency",
    "amount",
    "opening",
    "closing",
    "document",
)

# Rows of the temporary tables export_bal and export_new (exports.services fills them).
_BALANCE_ROWS = """
    SELECT 'balance' AS record, {profile} AS profile, {batch} AS batch, NULL::bigint AS entry, NULL::text AS kind,
           NULL::date AS effective_date, b.customer_id AS customer, c.reference AS customer_reference,
           p.code AS provider, b.account_id AS account, b.currency, b.delta AS amount, b.opening, b.opening + b.delta
           AS closing, NULL::text AS document
    FROM export_bal b
    JOIN billing_customer c ON c.id = b.customer_id
    LEFT JOIN billing_account a ON a.id = b.account_id
    LEFT JOIN billing_provider p ON p.id = a.provider_id
    ORDER BY b.customer_id, b.currency, b.account_id NULLS FIRST
"""

# The invoice side names its invoice (a credit note: the invoice it credits), the payment side its
# payment (a refund or chargeback: the payment it takes from). A profile that carries only one
# side joins only that side's tables (the payments' million rows cost a hash each otherwise).
INVOICE_KINDS = {"invoice", "credit_note", "void"}
_INVOICE_JOINS = """
    LEFT JOIN invoices_invoice inv ON inv.id = n.invoice_id
    LEFT JOIN invoices_creditnote cn ON cn.id = n.credit_note_id
    LEFT JOIN invoices_invoice cni ON cni.id = cn.invoice_id
"""
_PAYMENT_JOINS = """
    LEFT JOIN payments_refund r ON r.id = n.refund_id
    LEFT JOIN payments_chargeback cb ON cb.id = n.chargeback_id
    LEFT JOIN payments_payment pay ON pay.id = COALESCE(n.payment_id, r.payment_id, cb.payment_id)
"""
_INVOICE_DOCUMENT = "COALESCE(inv.number, cni.number || '/CN' || cn.id)"
_PAYMENT_DOCUMENT = "COALESCE(pay.reference, 'P' || pay.id::text)"


def _entry_rows(kinds: tuple[str, ...]) -> str:
    invoice_side = bool(INVOICE_KINDS & set(kinds))
    payment_side = bool(set(kinds) - INVOICE_KINDS)
    documents = [d for d, used in ((_INVOICE_DOCUMENT, invoice_side), (_PAYMENT_DOCUMENT, payment_side)) if used]
    joins = (_INVOICE_JOINS if invoice_side else "") + (_PAYMENT_JOINS if payment_side else "")
    return f"""
    SELECT 'entry' AS record, {{profile}} AS profile, {{batch}} AS batch, n.id AS entry, n.kind,
           n.effective_date, n.customer_id AS customer, c.reference AS customer_reference,
           p.code AS provider, n.account_id AS account, n.currency, n.amount, NULL::numeric AS opening,
           NULL::numeric AS closing, COALESCE({", ".join(documents)}) AS document
    FROM export_new n
    JOIN billing_customer c ON c.id = n.customer_id
    LEFT JOIN billing_account a ON a.id = n.account_id
    LEFT JOIN billing_provider p ON p.id = a.provider_id
    {joins}
    ORDER BY n.id
"""


def _rows(template: str, profile: str, number: int) -> sql.Composed:
    return sql.SQL(template).format(profile=sql.Literal(profile), batch=sql.Literal(number))


def _json_rows(template: str, profile: str, number: int) -> sql.Composed:
    """Each row as one JSON object on its own line, a comma before every one but the first."""
    names = sql.SQL(", ").join(
        sql.SQL("{}, {}").format(
            sql.Literal(name),
            sql.SQL("r.{}::text").format(sql.Identifier(name))
            if name in ("amount", "opening", "closing")
            else sql.SQL("r.{}").format(sql.Identifier(name)),
        )
        for name in COLUMNS
    )
    return sql.SQL(
        "SELECT CASE WHEN row_number() OVER () = 1 THEN '' ELSE ',' END || json_build_object({names})::text "
        "FROM ({rows}) r"
    ).format(names=names, rows=_rows(template, profile, number))


def _copy(cursor, query: sql.Composable, options: str, out: IO[bytes], digest) -> int:
    size = 0
    with cursor.copy(sql.SQL("COPY ({}) TO STDOUT WITH ({})").format(query, sql.SQL(options))) as copy:
        for block in copy:
            data = bytes(block)
            digest.update(data)
            out.write(data)
            size += len(data)
    return size


def _write(out: IO[bytes], digest, data: bytes) -> int:
    digest.update(data)
    out.write(data)
    return len(data)


def write_payload(
    cursor, *, profile: str, kinds: tuple[str, ...], number: int, fmt: str, entry_count: int, out: IO[bytes]
) -> tuple[int, str]:
    """Stream the batch's payload into `out`; returns (bytes written, sha256 hex).

    `cursor` is a raw psycopg cursor on the connection that holds export_bal and export_new.
    """
    digest = hashlib.sha256()
    entries = _entry_rows(kinds)
    if fmt == "csv":
        size = _copy(cursor, _rows(_BALANCE_ROWS, profile, number), "FORMAT csv, HEADER", out, digest)
        size += _copy(cursor, _rows(entries, profile, number), "FORMAT csv", out, digest)
        return size, digest.hexdigest()
    # JSON lines never hold a raw control character (JSON escapes them), so COPY's CSV mode with
    # control characters as delimiter and quote passes each line through untouched.
    verbatim = r"FORMAT csv, DELIMITER E'\x1f', QUOTE E'\x1e'"
    head = f'{{"profile": "{profile}", "batch": {number}, "entry_count": {entry_count},\n"balances": [\n'
    size = _write(out, digest, head.encode())
    size += _copy(cursor, _json_rows(_BALANCE_ROWS, profile, number), verbatim, out, digest)
    size += _write(out, digest, b'],\n"entries": [\n')
    size += _copy(cursor, _json_rows(entries, profile, number), verbatim, out, digest)
    size += _write(out, digest, b"]}\n")
    return size, digest.hexdigest()
