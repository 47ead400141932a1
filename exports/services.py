"""Export writes: seal a night's batch, deliver it, resend it, record the agency's acknowledgement.

export_batch (DESIGN.md §13, I12), in one transaction under the profile's advisory lock:
1. every journal entry of the profile's kinds that is in none of its batches, chosen by
   absence (NOT EXISTS against the profile's items), never by a date or id range, so an
   entry committed late by a slow transaction, or back-dated, goes out the next night;
2. the balance of each account it touches: opening = the account's closing in the latest
   earlier batch of the profile that had it (0 before), delta = its entries, closing;
3. the payload streamed from PostgreSQL into a temporary file and its sha256 (payload.py);
4. the batch row, its items and balances written set-based (INSERT ... SELECT), and the
   payload stored in chunks: the batch is sealed, its bytes never change.
Nothing new: no batch (None). Then, after the commit, every batch of the profile not yet
delivered is delivered in number order (the new one last; a failure stops the rest, so the
agency never sees batch 3 before batch 2): a crash between sealing and delivery, or a
failed delivery, is made good by the next run with the same bytes and idempotency key.
"""

from __future__ import annotations

import logging
import tempfile
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction

from billing.actors import Actor
from billing.errors import InvalidInput, InvalidState
from exports import delivery as transport
from exports.models import CHUNK_BYTES, BatchState, Delivery, DeliveryResult, ExportBatch
from exports.payload import write_payload
from exports.profiles import Profile, get_profile

logger = logging.getLogger(__name__)

#: pg_advisory_xact_lock(SEAL_LOCK, hashtext(profile)): one sealing per profile at a time.
SEAL_LOCK = 0x45585054  # "EXPT"
#: pg_advisory_lock(DELIVERY_LOCK, hashtext(profile)): one deliverer of a profile's backlog at a time.
DELIVERY_LOCK = 0x44454C56  # "DELV"

_NEW_ENTRIES = """
    CREATE TEMPORARY TABLE export_new ON COMMIT DROP AS
    SELECT e.id, e.kind, e.customer_id, e.account_id, e.currency, e.amount, e.effective_date,
           e.invoice_id, e.credit_note_id, e.payment_id, e.refund_id, e.chargeback_id
    FROM ledger_entry e
    WHERE e.kind = ANY(%(kinds)s)
      AND NOT EXISTS (SELECT 1 FROM exports_exportitem i WHERE i.profile = %(profile)s AND i.entry_id = e.id)
"""

# The opening: the latest closing of the same (customer, currency, account) in the profile,
# one index probe per account (export_balance_prev_idx).
_BALANCES = """
    CREATE TEMPORARY TABLE export_bal ON COMMIT DROP AS
    SELECT g.customer_id, g.currency, g.account_id, g.delta,
           COALESCE(CASE WHEN g.account_id IS NULL THEN
               (SELECT b.closing FROM exports_exportbalance b
                WHERE b.profile = %(profile)s AND b.customer_id = g.customer_id AND b.currency = g.currency
                  AND b.account_id IS NULL ORDER BY b.batch_id DESC LIMIT 1)
           ELSE
               (SELECT b.closing FROM exports_exportbalance b
                WHERE b.profile = %(profile)s AND b.customer_id = g.customer_id AND b.currency = g.currency
                  AND b.account_id = g.account_id ORDER BY b.batch_id DESC LIMIT 1)
           END, 0)::numeric(14, 2) AS opening
    FROM (SELECT customer_id, currency, account_id, SUM(amount)::numeric(14, 2) AS delta
          FROM export_new GROUP BY customer_id, currency, account_id) g
"""


_FIRST_BALANCES = """
    CREATE TEMPORARY TABLE export_bal ON COMMIT DROP AS
    SELECT customer_id, currency, account_id, SUM(amount)::numeric(14, 2) AS delta, 0::numeric(14, 2) AS opening
    FROM export_new GROUP BY customer_id, currency, account_id
"""


def _lock(key: int, profile: str, *, session: bool = False) -> None:
    function = "pg_advisory_lock" if session else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, hashtext(%s))", [key, profile])


def nothing_new(profile: Profile) -> bool:
    """True when every entry of the profile's kinds is in one of its batches, by counting.

    Each item names a distinct entry (unique per profile) and carries its kind, so the
    profile's items of these kinds are a subset of the entries of these kinds: equal counts
    mean no entry is absent. Two index-only counts (export_entry_kind_idx,
    export_item_once_per_profile) instead of an anti-join over the whole journal: an empty
    night of a million exported entries stays well under a second.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM ledger_entry WHERE kind = ANY(%(kinds)s)) "
            "= (SELECT count(*) FROM exports_exportitem WHERE profile = %(profile)s AND kind = ANY(%(kinds)s))",
            {"kinds": list(profile.kinds), "profile": profile.name},
        )
        return bool(cursor.fetchone()[0])


def seal_batch(profile: Profile, *, by: Actor) -> ExportBatch | None:
    """Steps 1-4 of the module's docstring, in the caller's transaction under the seal lock."""
    if not connection.in_atomic_block:
        raise RuntimeError("seal_batch runs inside export_batch's transaction.")
    _lock(SEAL_LOCK, profile.name)
    if nothing_new(profile):
        return None
    params: dict[str, Any] = {"kinds": list(profile.kinds), "profile": profile.name}
    with connection.cursor() as cursor:
        # The payload's sort of a million rows fits in memory instead of spilling to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("DROP TABLE IF EXISTS export_new, export_bal")
        cursor.execute(_NEW_ENTRIES, params)
        count = cursor.rowcount
        if count <= 0:
            cursor.execute("DROP TABLE export_new")
            return None
        cursor.execute("SELECT EXISTS (SELECT 1 FROM exports_exportbalance WHERE profile = %s)", [profile.name])
        (has_history,) = cursor.fetchone()
        # The first batch of a profile opens every account at 0: no probe per account.
        cursor.execute(_BALANCES if has_history else _FIRST_BALANCES, params)
        cursor.execute(
            "SELECT currency, SUM(amount) FILTER (WHERE amount > 0), SUM(amount) FILTER (WHERE amount < 0), SUM(amount) "
            "FROM export_new GROUP BY currency ORDER BY currency"
        )
        totals = {
            currency: {
                "charges": str(charges or Decimal("0.00")),
                "credits": str(credits or Decimal("0.00")),
                "net": str(net),
            }
            for currency, charges, credits, net in cursor.fetchall()
        }
        cursor.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM exports_exportbatch WHERE profile = %s", [profile.name]
        )
        (number,) = cursor.fetchone()
        with tempfile.TemporaryFile() as spool:
            size, sha256 = write_payload(
                cursor.cursor,
                profile=profile.name,
                kinds=profile.kinds,
                number=number,
                fmt=profile.format,
                entry_count=count,
                out=spool,
            )
            batch = ExportBatch.objects.create(
                profile=profile.name,
                number=number,
                format=profile.format,
                deliver_to=profile.deliver_to,
                entry_count=count,
                totals=totals,
                payload_bytes=size,
                sha256=sha256,
                created_by=by,
            )
            spool.seek(0)
            seq = 0
            while chunk := spool.read(CHUNK_BYTES):
                cursor.execute(
                    "INSERT INTO exports_exportchunk (batch_id, seq, data) VALUES (%s, %s, %s)", [batch.pk, seq, chunk]
                )
                seq += 1
        cursor.execute(
            "INSERT INTO exports_exportitem (batch_id, profile, entry_id, kind) SELECT %s, %s, id, kind FROM export_new",
            [batch.pk, profile.name],
        )
        cursor.execute(
            """INSERT INTO exports_exportbalance
                   (batch_id, profile, customer_id, currency, account_id, opening, delta, closing)
               SELECT %s, %s, customer_id, currency, account_id, opening, delta, opening + delta FROM export_bal""",
            [batch.pk, profile.name],
        )
        cursor.execute("DROP TABLE export_new, export_bal")
    return batch


def export_batch(*, profile: str | Profile, by: Actor) -> ExportBatch | None:
    """Seal the profile's new entries into a batch (None: nothing new) and deliver what waits.

    Delivery runs after the sealing commits (transaction.on_commit), so no bytes leave before
    the batch they belong to is on record; two runs at once make one batch (the second finds
    nothing new once the first commits).
    """
    chosen = get_profile(profile)
    with transaction.atomic():
        batch = seal_batch(chosen, by=by)
        transaction.on_commit(lambda: deliver_pending(chosen, by=by))
    return batch


def undelivered(profile: str) -> list[ExportBatch]:
    """The profile's batches no attempt has delivered (and not acknowledged), oldest first."""
    done = Delivery.objects.filter(result__in=[DeliveryResult.OK, DeliveryResult.ACKNOWLEDGED]).values("batch_id")
    return list(ExportBatch.objects.filter(profile=profile).exclude(pk__in=done).order_by("number"))


def deliver_pending(profile: Profile, *, by: Actor) -> list[Delivery]:
    """Deliver every undelivered batch of the profile in number order; stop at the first failure.

    One deliverer per profile at a time (a session advisory lock): a second run waits, then
    finds the batches delivered and sends nothing twice.
    """
    attempts: list[Delivery] = []
    _lock(DELIVERY_LOCK, profile.name, session=True)
    try:
        for batch in undelivered(profile.name):
            attempt = _deliver(batch, by=by)
            attempts.append(attempt)
            if attempt.result != DeliveryResult.OK:
                break
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [DELIVERY_LOCK, profile.name])
    return attempts


def _deliver(batch: ExportBatch, *, by: Actor) -> Delivery:
    """One attempt with the stored bytes, recorded whatever happens (a failure keeps its error)."""
    # Where the batch was sealed to go (the setting may have changed since): a URL or a folder.
    where = Profile(batch.profile, (), batch.format, batch.deliver_to)
    if where.is_url:
        attempt = transport.to_url(batch, where.deliver_to, content_type=where.content_type)
    else:
        attempt = transport.to_folder(batch, where.folder)
    if not attempt.ok:
        logger.warning("Delivery of %s to %s failed: %s", batch, attempt.to, attempt.error)
    return Delivery.objects.create(
        batch=batch,
        result=DeliveryResult.OK if attempt.ok else DeliveryResult.FAILED,
        to=attempt.to,
        idempotency_key=batch.idempotency_key,
        sha256=batch.sha256,
        error=attempt.error,
        reference=attempt.reference,
        created_by=by,
    )


def resend_batch(batch: ExportBatch, *, by: Actor) -> Delivery:
    """Deliver exactly the stored bytes again, with the same idempotency key; the attempt is a row."""
    with transaction.atomic():
        return _deliver(batch, by=by)


def acknowledge_batch(batch: ExportBatch, *, reference: str = "", by: Actor) -> Delivery:
    """Record that the agency took the batch. Once: acknowledging again returns the first record."""
    reference = (reference or "").strip()
    if len(reference) > 200:
        raise InvalidInput("The acknowledgement reference is at most 200 characters.")
    if "\x00" in reference:
        raise InvalidInput("The acknowledgement reference must not contain a NUL character.")
    with transaction.atomic():
        locked = ExportBatch.objects.select_for_update().get(pk=batch.pk)
        existing = locked.deliveries.filter(result=DeliveryResult.ACKNOWLEDGED).first()
        if existing is not None:
            return existing
        if locked.state == BatchState.SEALED:
            raise InvalidState(
                f"{locked} was never sent, so the agency cannot have acknowledged it; deliver it first (Resend)."
            )
        try:
            with transaction.atomic():
                return Delivery.objects.create(
                    batch=locked,
                    result=DeliveryResult.ACKNOWLEDGED,
                    to=locked.deliver_to,
                    idempotency_key=locked.idempotency_key,
                    sha256=locked.sha256,
                    reference=reference,
                    created_by=by,
                )
        except IntegrityError:  # acknowledged meanwhile by another request
            return locked.deliveries.get(result=DeliveryResult.ACKNOWLEDGED)
