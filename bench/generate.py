"""Fill the benchmark database with set-based SQL (INSERT ... SELECT over generate_series).

Shape at scale 1.0: 1,000,000 invoices of 50 providers to 100,000 customers,
~1,000,000 payments and ~1,500,000 allocation rows: installments, payments split over
several invoices, deallocations, voids, credit notes, refunds, chargebacks (reversed
newest-first and left overallocated), cancellations, pending and unallocated payments.

How it stays consistent: the whole history is first planned in temporary tables
(every allocation row, which of them were later reversed and why, every credit note,
refund and chargeback). The cached figures of invoices, payments and accounts are
then computed in SQL from exactly those planned rows (SUM ... GROUP BY), and the
statuses derived with the same CASE as tests/invariants.py, before the real rows are
inserted once. Nothing is disabled: foreign keys, check constraints and the
append-only triggers stay on, and the caller re-checks every invariant afterwards.
The entry journal is written last, by the same set-based backfill as its migration
(ledger.journal_sql): the fill bypasses the services that would append it.

Randomness is a hash of (row key, salt) instead of random(): random() after
setseed() is only reproducible while every scan returns rows in the same order,
which joins and window functions do not promise; a hash is reproducible by design.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from bench import generate_orders, generate_plans

N_PROVIDERS = 50


@dataclass(frozen=True)
class Shape:
    invoices: int
    customers: int
    providers: int
    payments: int

    @classmethod
    def at(cls, scale: float) -> Shape:
        return cls(
            invoices=max(200, round(1_000_000 * scale)),
            customers=max(20, round(100_000 * scale)),
            providers=N_PROVIDERS,
            payments=max(200, round(1_000_000 * scale)),
        )


SESSION = [
    # Planning tables are temporary; give them memory instead of 8 MB of local buffers.
    "SET temp_buffers = '1GB'",
    "SET work_mem = '256MB'",
    "SET maintenance_work_mem = '512MB'",
    "SET synchronous_commit = off",
    # A uniform number in [0, 1) from a key and a salt: reproducible whatever the plan.
    """CREATE FUNCTION pg_temp.rnd(k bigint, salt int) RETURNS float8
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT (hashint8extended(k, salt) & 281474976710655)::float8 / 281474976710656.0 $$""",
    # A customer's currency, and how many providers (accounts) they buy from.
    """CREATE FUNCTION pg_temp.cur(c bigint) RETURNS text LANGUAGE sql IMMUTABLE
       AS $$ SELECT CASE WHEN c % 20 = 0 THEN 'USD' WHEN c % 20 = 7 THEN 'GBP' ELSE 'EUR' END $$""",
    """CREATE FUNCTION pg_temp.nacc(c bigint) RETURNS int LANGUAGE sql IMMUTABLE
       AS $$ SELECT 1 + ((c + 1) % 3)::int $$""",
]

# Each step is (label, SQL); %(name)s parameters come from Shape and the seed salt `s`.
PLAN = [
    (
        "plan invoices",
        # Issue dates first, so ids can follow issue order as they do in production.
        """
        CREATE TEMP TABLE inv AS
        WITH raw AS (
            SELECT g,
                   1 + floor(%(customers)s * pg_temp.rnd(g, %(s)s + 1) ^ 1.5)::bigint AS customer_id,
                   pg_temp.rnd(g, %(s)s + 2) AS r_acc,
                   pg_temp.rnd(g, %(s)s + 3) AS u,
                   pg_temp.rnd(g, %(s)s + 4) AS r_void,
                   round((20 + 1980 * pg_temp.rnd(g, %(s)s + 5) ^ 2)::numeric, 2) AS total,
                   pg_temp.rnd(g, %(s)s + 6) AS r_date,
                   (ARRAY[14, 30, 30, 60])[1 + floor(4 * pg_temp.rnd(g, %(s)s + 7))::int] AS terms,
                   pg_temp.rnd(g, %(s)s + 8) AS r_credit,
                   pg_temp.rnd(g, %(s)s + 9) AS r_credit_size,
                   pg_temp.rnd(g, %(s)s + 10) AS r_paid,
                   pg_temp.rnd(g, %(s)s + 11) AS r_parts
            FROM generate_series(1, %(invoices)s) g
        ), fated AS (
            SELECT raw.*,
                   CASE WHEN u < %(cut_draft)s THEN 'draft'
                        WHEN u < %(cut_void)s THEN 'void'
                        WHEN u < %(cut_unpaid)s THEN 'unpaid'
                        WHEN u < %(cut_partial)s THEN 'partial'
                        WHEN u < %(cut_overpaid)s THEN 'overpaid'
                        ELSE 'paid' END AS fate
            FROM raw
        ), dated AS (
            SELECT fated.*,
                   CASE WHEN fate = 'draft' THEN NULL
                        WHEN fate IN ('unpaid', 'partial') THEN current_date - floor(400 * r_date ^ 2)::int
                        ELSE current_date - (30 + floor(700 * r_date))::int END AS issue_date,
                   CASE WHEN fate = 'overpaid' THEN round(total * (0.05 + 0.3 * r_credit_size)::numeric, 2)
                        WHEN fate = 'paid' AND r_credit < 0.002 THEN total
                        WHEN fate IN ('paid', 'unpaid', 'partial') AND r_credit < 0.04
                             THEN round(total * (0.1 + 0.3 * r_credit_size)::numeric, 2)
                        ELSE 0 END AS credit
            FROM fated
        ), planned AS (
            SELECT dated.*,
                   floor(pg_temp.nacc(customer_id) * r_acc)::int AS j,
                   CASE fate WHEN 'paid' THEN total - credit
                             WHEN 'overpaid' THEN total
                             WHEN 'partial' THEN round((total - credit) * (0.1 + 0.8 * r_paid)::numeric, 2)
                             WHEN 'void' THEN CASE WHEN r_void < 0.5
                                                   THEN round(total * (0.2 + 0.8 * r_paid)::numeric, 2) ELSE 0 END
                             ELSE 0 END AS paid_target
            FROM dated
        )
        SELECT row_number() OVER (ORDER BY issue_date NULLS LAST, g) AS id,
               g, customer_id, j,
               (customer_id - 1) * 3 + j + 1 AS account_id,
               1 + ((customer_id * 7 + j * 17) %% %(providers)s) AS provider_id,
               pg_temp.cur(customer_id) AS currency,
               fate, total, credit, paid_target,
               CASE WHEN paid_target = 0 THEN 0
                    WHEN fate = 'paid' THEN CASE WHEN r_parts < 0.45 THEN 1 WHEN r_parts < 0.80 THEN 2 ELSE 3 END
                    WHEN fate = 'partial' THEN CASE WHEN r_parts < 0.6 THEN 1 ELSE 2 END
                    ELSE 1 END AS n_parts,
               issue_date,
               coalesce(issue_date, current_date + 5) + terms AS due_date
        FROM planned
        """,
    ),
    ("index invoice plan", "CREATE UNIQUE INDEX ON inv (id); ANALYZE inv"),
    (
        "plan allocation parts",
        # Split what each invoice is paid into installments that add up exactly.
        """
        CREATE TEMP TABLE part AS
        SELECT row_number() OVER (ORDER BY i.id, n) AS part_id,
               i.id AS invoice_id, n AS part_no, i.customer_id, i.currency, i.issue_date,
               CASE WHEN n = 1 THEN i.paid_target - trunc(i.paid_target / i.n_parts, 2) * (i.n_parts - 1)
                    ELSE trunc(i.paid_target / i.n_parts, 2) END AS amount
        FROM inv i CROSS JOIN LATERAL generate_series(1, i.n_parts) AS n
        """,
    ),
    (
        "group parts into payments",
        # One payment pays 1, 2 or 4 parts of the same customer, depending on the customer.
        """
        CREATE TEMP TABLE part_grp AS
        SELECT p.*,
               (row_number() OVER (PARTITION BY customer_id ORDER BY pg_temp.rnd(part_id, %(s)s + 20), part_id) - 1)
               / CASE WHEN pg_temp.rnd(customer_id, %(s)s + 21) < 0.45 THEN 1
                      WHEN pg_temp.rnd(customer_id, %(s)s + 21) < 0.70 THEN 2 ELSE 4 END AS grp
        FROM part p
        """,
    ),
    (
        "plan payments",
        # Payments that pay parts, plus payments nobody allocated yet (pending, refunded, unmatched).
        """
        CREATE TEMP TABLE pay AS
        WITH grouped AS (
            SELECT customer_id, grp, sum(amount) AS alloc_sum, max(issue_date) AS last_issue,
                   min(part_id) AS first_part
            FROM part_grp GROUP BY customer_id, grp
        ), paying AS (
            SELECT 'alloc'::text AS kind, customer_id, grp, alloc_sum,
                   least(now() - interval '1 hour',
                         last_issue + (floor(25 * pg_temp.rnd(first_part, %(s)s + 22))::int) + time '10:00'
                         + make_interval(mins => floor(480 * pg_temp.rnd(first_part, %(s)s + 23))::int)
                   ) AS received_at
            FROM grouped
        ), solo AS (
            SELECT 'solo'::text AS kind,
                   1 + floor(%(customers)s * pg_temp.rnd(g, %(s)s + 24) ^ 1.5)::bigint AS customer_id,
                   g AS grp, 0::numeric AS alloc_sum,
                   now() - make_interval(mins => floor(60 * 24 * 200 * pg_temp.rnd(g, %(s)s + 25) ^ 2)::int + 60)
                     AS received_at
            FROM generate_series(1, greatest(%(payments)s / 20, %(payments)s - (SELECT count(*) FROM grouped))) g
        ), everything AS (
            SELECT * FROM paying UNION ALL SELECT * FROM solo
        )
        SELECT row_number() OVER (ORDER BY received_at, kind, customer_id, grp) AS id, e.*
        FROM everything e
        """,
    ),
    (
        "payment fates",
        """
        CREATE TEMP TABLE pay_fate AS
        WITH r AS (
            SELECT pay.*,
                   pg_temp.rnd(id, %(s)s + 30) AS v,
                   pg_temp.rnd(id, %(s)s + 31) AS r_extra,
                   round((5 + 200 * pg_temp.rnd(id, %(s)s + 32))::numeric, 2) AS extra_size,
                   pg_temp.rnd(id, %(s)s + 33) AS r_refund,
                   pg_temp.rnd(id, %(s)s + 34) AS r_refund_size,
                   pg_temp.rnd(id, %(s)s + 35) AS r_cb,
                   round((10 + 990 * pg_temp.rnd(id, %(s)s + 36))::numeric, 2) AS solo_amount
            FROM pay
        ), f AS (
            SELECT r.*,
                   CASE WHEN kind = 'solo' THEN
                            CASE WHEN v < 0.60 THEN 'unmatched' WHEN v < 0.75 THEN 'pending'
                                 WHEN v < 0.90 THEN 'refunded' ELSE 'part_refunded' END
                        WHEN v < %(cut_canceled)s THEN 'canceled'
                        WHEN v < %(cut_cb_full)s THEN 'cb_full'
                        WHEN v < %(cut_cb_manual)s THEN 'cb_manual'
                        WHEN v < %(cut_dealloc)s THEN 'dealloc'
                        ELSE 'normal' END AS fate
            FROM r
        ), amounts AS (
            SELECT f.*,
                   CASE WHEN kind = 'solo' THEN solo_amount
                        ELSE alloc_sum + CASE WHEN r_extra < 0.12 THEN extra_size ELSE 0 END END AS amount,
                   CASE WHEN kind = 'solo' THEN solo_amount
                        WHEN r_extra < 0.12 THEN extra_size ELSE 0 END AS extra
            FROM f
        )
        SELECT id, kind, customer_id, grp, received_at, fate, amount,
               pg_temp.cur(customer_id) AS currency,
               CASE WHEN fate = 'refunded' THEN amount
                    WHEN fate = 'part_refunded' THEN round(amount / 2, 2)
                    WHEN fate IN ('normal', 'dealloc') AND extra > 0 AND r_refund < 0.3
                         THEN CASE WHEN r_refund_size < 0.5 THEN extra ELSE round(extra / 2, 2) END
                    ELSE 0 END AS refund,
               CASE WHEN fate = 'cb_full' THEN amount
                    WHEN fate = 'cb_manual' THEN extra + round(alloc_sum * (0.1 + 0.4 * r_cb)::numeric, 2)
                    ELSE 0 END AS chargeback,
               CASE WHEN fate = 'pending' THEN 'pending' WHEN fate = 'canceled' THEN 'canceled'
                    WHEN fate IN ('cb_full', 'cb_manual') THEN 'charged_back' ELSE 'settled' END AS state,
               (ARRAY['bank_transfer', 'bank_transfer', 'bank_transfer', 'bank_transfer', 'bank_transfer',
                      'bank_transfer', 'card', 'card', 'card', 'direct_debit', 'cash', 'check'])
                   [1 + floor(12 * r_refund_size)::int] AS method
        FROM amounts
        """,
    ),
    ("index payment plan", "CREATE UNIQUE INDEX ON pay_fate (customer_id, grp, kind); ANALYZE pay_fate"),
    (
        "plan allocation rows",
        # Each part is one allocation row; a part is reversed once at most: by the void of
        # its invoice, the cancel or chargeback of its payment, or a clerk's deallocation.
        """
        CREATE TEMP TABLE alloc AS
        WITH joined AS (
            SELECT pg.part_id, pg.invoice_id, pg.amount, pf.id AS payment_id, pf.fate AS pay_fate,
                   pf.received_at, i.fate AS inv_fate,
                   pg.part_id = max(pg.part_id) OVER (PARTITION BY pf.id) AS is_last
            FROM part_grp pg
            JOIN pay_fate pf ON pf.customer_id = pg.customer_id AND pf.grp = pg.grp AND pf.kind = 'alloc'
            JOIN inv i ON i.id = pg.invoice_id
        )
        SELECT row_number() OVER (ORDER BY received_at, payment_id, part_id) AS id,
               part_id, invoice_id, payment_id, amount,
               received_at + interval '5 minutes' AS created_at,
               CASE WHEN inv_fate = 'void' THEN 'void'
                    WHEN pay_fate = 'canceled' THEN 'cancel'
                    WHEN pay_fate = 'cb_full' THEN 'chargeback'
                    WHEN pay_fate = 'dealloc' AND is_last THEN 'dealloc'
                    END AS reversed_by
        FROM joined
        """,
    ),
    ("index allocation plan", "CREATE INDEX ON alloc (invoice_id); CREATE INDEX ON alloc (payment_id); ANALYZE alloc"),
    (
        "invoice figures",
        """
        CREATE TEMP TABLE inv_final AS
        SELECT i.*, coalesce(a.paid, 0) AS paid_total,
               CASE WHEN i.fate = 'void' THEN 'void' WHEN i.fate = 'draft' THEN 'draft' ELSE 'open' END AS state,
               CASE WHEN coalesce(a.paid, 0) > i.total - i.credit THEN 'overpaid'
                    WHEN coalesce(a.paid, 0) = i.total - i.credit THEN 'paid'
                    WHEN coalesce(a.paid, 0) = 0 THEN 'unpaid'
                    ELSE 'partially_paid' END AS payment_status,
               CASE WHEN i.fate = 'draft' THEN NULL
                    ELSE row_number() OVER (PARTITION BY i.provider_id, i.fate = 'draft' ORDER BY i.id) END AS sequence
        FROM inv i
        LEFT JOIN (SELECT invoice_id, sum(amount) FILTER (WHERE reversed_by IS NULL) AS paid
                   FROM alloc GROUP BY invoice_id) a ON a.invoice_id = i.id
        """,
    ),
    (
        "payment figures",
        """
        CREATE TEMP TABLE pay_final AS
        SELECT p.*, coalesce(a.allocated, 0) AS allocated_total,
               (CASE WHEN p.state = 'canceled' THEN 0 ELSE p.amount - p.refund - p.chargeback END)
                   - coalesce(a.allocated, 0) AS unallocated,
               CASE WHEN coalesce(a.allocated, 0) > x.available THEN 'overallocated'
                    WHEN coalesce(a.allocated, 0) = x.available THEN 'fully_allocated'
                    WHEN coalesce(a.allocated, 0) = 0 THEN 'unallocated'
                    ELSE 'partially_allocated' END AS allocation_status
        FROM pay_fate p
        CROSS JOIN LATERAL (SELECT CASE WHEN p.state = 'canceled' THEN 0
                                        ELSE p.amount - p.refund - p.chargeback END AS available) x
        LEFT JOIN (SELECT payment_id, sum(amount) FILTER (WHERE reversed_by IS NULL) AS allocated
                   FROM alloc GROUP BY payment_id) a ON a.payment_id = p.id
        """,
    ),
    *generate_orders.PLAN,
    *generate_plans.PLAN,
]

LOAD = [
    (
        "customers",
        """
        INSERT INTO billing_customer (id, name, email, phone, reference, created_at)
        SELECT g, 'Customer ' || g, 'customer' || g || '@example.com', '', 'C' || lpad(g::text, 7, '0'),
               now() - interval '3 years'
        FROM generate_series(1, %(customers)s) g
        """,
    ),
    (
        "providers",
        """
        INSERT INTO billing_provider (id, name, code, last_invoice_number)
        SELECT p.g, 'Provider ' || p.g, 'P' || lpad(p.g::text, 3, '0'),
               coalesce("""
        + generate_plans.PROVIDER_LAST
        + """,
                        (SELECT max(f.sequence) FROM inv_final f WHERE f.provider_id = p.g), 0)
        FROM generate_series(1, %(providers)s) AS p(g)
        """,
    ),
    (
        "accounts",
        # Cached like refresh_account: open unpaid or partially paid invoices only.
        """
        INSERT INTO billing_account (id, customer_id, provider_id, currency, balance_due, open_invoice_count,
                                     oldest_due_date)
        SELECT (c - 1) * 3 + j + 1, c, 1 + ((c * 7 + j * 17) %% %(providers)s), pg_temp.cur(c),
               coalesce(o.balance, 0), coalesce(o.n, 0), o.oldest
        FROM generate_series(1, %(customers)s) c
        CROSS JOIN LATERAL generate_series(0, pg_temp.nacc(c) - 1) j
        LEFT JOIN (SELECT account_id, sum(owed) AS balance, count(*) AS n, min(due_date) AS oldest
                   FROM ("""
        + generate_plans.ACCOUNT_INVOICES
        + """) x WHERE state = 'open' AND payment_status IN ('unpaid', 'partially_paid')
                   GROUP BY account_id) o ON o.account_id = (c - 1) * 3 + j + 1
        """,
    ),
    *generate_orders.LOAD,
    *generate_plans.LOAD_PLANS,
    (
        "invoice lines",
        # Before the invoices: an issued invoice's lines can no longer be added (billing/guards.py);
        # the foreign key to the invoice is set aside during the load and checked when restored.
        # An order's invoice gets the planned lines that bill its order lines (bench/generate_orders.py).
        generate_orders.INVOICE_LINES,
    ),
    (
        "invoices",
        """
        INSERT INTO invoices_invoice (id, provider_id, customer_id, account_id, sequence, number, currency,
            issue_date, due_date, total, credited_total, paid_total, balance_due, state, payment_status,
            created_at, created_by_id, voided_at, void_reason, order_id, kind)
        SELECT i.id, i.provider_id, i.customer_id, i.account_id, i.sequence,
               CASE WHEN i.sequence IS NOT NULL THEN 'P' || lpad(i.provider_id::text, 3, '0') || '-'
                                                     || lpad(i.sequence::text, 6, '0') END,
               i.currency, i.issue_date, i.due_date, i.total, i.credit, i.paid_total,
               CASE WHEN i.state = 'void' THEN 0 ELSE i.total - i.credit - i.paid_total END, i.state, i.payment_status,
               coalesce(i.issue_date, current_date) + time '09:00', NULL,
               CASE WHEN i.state = 'void' THEN least(now(), i.issue_date + 40 + time '12:00') END,
               CASE WHEN i.state = 'void' THEN 'issued in error' ELSE '' END,
               oi.order_id, CASE WHEN oi.inv_no = 2 THEN 'fee' ELSE 'standard' END
        FROM inv_final i"""
        + generate_orders.INVOICE_ORDER_JOIN
        + """ORDER BY i.id
        """,
    ),
    *generate_plans.LOAD_INVOICES,
    (
        "credit notes",
        # Before any payment, except on overpaid invoices where the credit came after. Some of an
        # order's are by quantity (a return, some re-shipped): bench/generate_orders.py.
        generate_orders.CREDIT_NOTES,
    ),
    *generate_orders.CREDIT_LOAD,
    *generate_plans.LOAD_CREDIT_NOTES,
    (
        "payments",
        """
        INSERT INTO payments_payment (id, customer_id, currency, amount, method, reference, received_at,
            refunded_total, charged_back_total, allocated_total, unallocated, state, allocation_status,
            created_at, created_by_id, canceled_at, cancel_reason)
        SELECT id, customer_id, currency, amount, method, 'BNK-' || lpad(id::text, 9, '0'), received_at,
               refund, chargeback, allocated_total, unallocated, state, allocation_status,
               received_at, NULL,
               CASE WHEN state = 'canceled' THEN least(now(), received_at + interval '3 days') END,
               CASE WHEN state = 'canceled' THEN 'recorded twice' ELSE '' END
        FROM pay_final ORDER BY id
        """,
    ),
    *generate_plans.LOAD_PAYMENTS,
    (
        "allocations",
        """
        INSERT INTO allocations_allocation (id, payment_id, invoice_id, amount, reverses_id, created_at,
                                            created_by_id, reason)
        SELECT id, payment_id, invoice_id, amount, NULL, created_at, NULL, '' FROM alloc ORDER BY id
        """,
    ),
    (
        "reversals",
        """
        INSERT INTO allocations_allocation (id, payment_id, invoice_id, amount, reverses_id, created_at,
                                            created_by_id, reason)
        SELECT (SELECT max(id) FROM alloc) + row_number() OVER (ORDER BY created_at, id),
               payment_id, invoice_id, -amount, id, least(now(), created_at + interval '7 days'), NULL,
               CASE reversed_by WHEN 'void' THEN 'void of invoice: issued in error'
                                WHEN 'cancel' THEN 'cancel of payment: recorded twice'
                                WHEN 'chargeback' THEN 'chargeback: disputed by payer'
                                ELSE 'allocated to the wrong invoice' END
        FROM alloc WHERE reversed_by IS NOT NULL
        """,
    ),
    *generate_plans.LOAD_ALLOCATIONS,
    (
        "refunds",
        """
        INSERT INTO payments_refund (payment_id, amount, created_at, created_by_id, reason)
        SELECT id, refund, least(now(), received_at + interval '10 days'), NULL, 'returned to payer'
        FROM pay_final WHERE refund > 0 ORDER BY id
        """,
    ),
    (
        "chargebacks",
        """
        INSERT INTO payments_chargeback (payment_id, amount, created_at, created_by_id, reason)
        SELECT id, chargeback, least(now(), received_at + interval '20 days'), NULL, 'disputed by payer'
        FROM pay_final WHERE chargeback > 0 ORDER BY id
        """,
    ),
]

# Loaded in bulk: their plain indexes and foreign keys are built after the load (a sorted
# build and one validating join each, instead of a million single-row updates and checks).
BULK_TABLES = [
    "invoices_invoice",
    "invoices_invoiceline",
    "payments_payment",
    "allocations_allocation",
    *generate_orders.TABLES,
]
# The queue-total triggers would append a million one-row deltas: during the load they are
# off and the totals are computed with one GROUP BY each (checked with every invariant after).
QUEUE_TOTALS = {
    "invoices_invoice": """
        INSERT INTO invoices_invoicequeuetotal (state, payment_status, currency, due_date, invoices, balance_due, total)
        SELECT state, payment_status, currency, due_date, count(*), sum(balance_due), sum(total)
        FROM invoices_invoice GROUP BY 1, 2, 3, 4
    """,
    "payments_payment": """
        INSERT INTO payments_paymentqueuetotal (state, allocation_status, currency, payments, amount, unallocated)
        SELECT state, allocation_status, currency, count(*), sum(amount), sum(unallocated)
        FROM payments_payment GROUP BY 1, 2, 3
    """,
}

TABLES = [
    "invoices_invoicequeuetotal",
    "payments_paymentqueuetotal",
    "billing_customer",
    "billing_provider",
    "billing_account",
    "invoices_invoice",
    "invoices_invoiceline",
    "invoices_creditnote",
    "payments_payment",
    "payments_refund",
    "payments_chargeback",
    "allocations_allocation",
    "ledger_entry",
    *generate_orders.TABLES,
    *generate_orders.OTHER_TABLES,
    *generate_plans.TABLES,
]


def fill(scale: float, *, seed: int = 0, plans_scale: float | None = None, log=print) -> dict:
    """Plan and insert the data set; returns timings (seconds) and row counts.

    `plans_scale` sizes the installment plans apart (default: `scale`; 0: none).
    """
    shape = Shape.at(scale)
    params: dict[str, float] = {
        "invoices": shape.invoices,
        "customers": shape.customers,
        "providers": shape.providers,
        "payments": shape.payments,
        "s": seed * 1000,
    }
    params.update(_fate_cuts(shape))
    params.update(generate_orders.order_params(shape.invoices, shape.customers))
    params.update(generate_plans.plan_params(scale if plans_scale is None else plans_scale))
    timings: dict[str, float] = {}
    connection.close()  # a fresh session, so temp_buffers can still be raised
    with connection.cursor() as cursor:
        for sql in SESSION:
            cursor.execute(sql)
        # A step is SQL (with %(name)s parameters or none) or a function of the cursor and what it saved.
        steps: list[tuple[str, str | Callable[[Any, dict], None]]] = [
            *PLAN,
            ("set bulk load aside", _set_aside),
            *LOAD,
            ("rebuild indexes, keys", _restore),
            ("entry journal", _journal),
        ]
        saved: dict = {}
        for label, step in steps:
            started = time.perf_counter()
            if callable(step):
                step(cursor, saved)
            elif "%(" in step:
                cursor.execute(step, params)
            else:
                cursor.execute(step)
            timings[label] = time.perf_counter() - started
            log(f"  {label:<28} {timings[label]:7.2f} s")
        started = time.perf_counter()
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 1))"
            )
        timings["sequences"] = time.perf_counter() - started
    connection.close()  # drop the planning tables
    # Kept totals whose triggers stayed on during the load (one delta row per order inserted,
    # once the orders list keeps its totals) are folded to one row per key, as the periodic
    # job would, so the lists read them as production does; the others are one row per key already.
    from ledger.queue_totals import QUEUE_FIGURES, fold_queue_totals

    started = time.perf_counter()
    fold_queue_totals()
    timings["fold queue totals"] = time.perf_counter() - started
    log(f"  {'fold queue totals':<28} {timings['fold queue totals']:7.2f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # The visibility map makes the queue indexes index-only; statistics make plans right.
        kept = [figures.table for figures in QUEUE_FIGURES if figures.table not in TABLES]
        cursor.execute("VACUUM (ANALYZE) " + ", ".join([*TABLES, *kept]))
    timings["vacuum analyze"] = time.perf_counter() - started
    log(f"  {'vacuum analyze':<28} {timings['vacuum analyze']:7.2f} s")
    return {"shape": shape.__dict__, "timings": timings, "rows": row_counts()}


def _fate_cuts(shape: Shape) -> dict[str, float]:
    """Cumulative thresholds of the invoices' and payments' fates.

    Rare fates keep their share at scale (overpaid and overallocated ~0.1%) but are
    given at least a handful of rows at tiny scales, so every status is present.
    """

    def share(rate: float, rows: int) -> float:
        return max(rate, 8 / rows)

    invoice_fates = [
        ("draft", 0.01),
        ("void", 0.02),
        ("unpaid", 0.14),
        ("partial", 0.08),
        ("overpaid", share(0.001, shape.invoices)),
    ]
    payment_fates = [
        ("canceled", share(0.003, shape.payments)),
        ("cb_full", share(0.005, shape.payments)),
        ("cb_manual", share(0.001, shape.payments)),
        ("dealloc", 0.02),
    ]
    cuts: dict[str, float] = {}
    for fates in (invoice_fates, payment_fates):
        cumulative = 0.0
        for name, rate in fates:
            cumulative += rate
            cuts[f"cut_{name}"] = round(cumulative, 6)
    return cuts


def _set_aside(cursor, saved: dict) -> None:
    """Drop the bulk tables' plain indexes and foreign keys, and pause the queue-total triggers."""
    for table in BULK_TABLES:
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [table],
        )
        saved.setdefault("indexes", []).extend(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype = 'f'",
            [table],
        )
        saved.setdefault("foreign_keys", []).extend((table, name, definition) for name, definition in cursor.fetchall())
    for name, _definition in saved["indexes"]:
        cursor.execute(f"DROP INDEX {name}")
    for table, name, _definition in saved["foreign_keys"]:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for table in QUEUE_TOTALS:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE 'pgtrigger_queue_totals_%%'",
            [table],
        )
        for (trigger,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')
            saved.setdefault("triggers", []).append((table, trigger))


def _restore(cursor, saved: dict) -> None:
    for _name, definition in saved["indexes"]:
        cursor.execute(definition)
    for table, name, definition in saved["foreign_keys"]:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for sql in QUEUE_TOTALS.values():
        cursor.execute(sql)
    for table, trigger in saved.get("triggers", []):
        cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{trigger}"')


def _journal(cursor, saved: dict) -> None:
    """The journal's entries for everything loaded, by its migration's backfill."""
    from ledger.journal_sql import backfill

    # The sources were just loaded: without statistics the planner guesses their joins badly.
    cursor.execute(
        "ANALYZE invoices_invoice, invoices_creditnote, payments_payment, payments_refund, payments_chargeback"
    )
    backfill(cursor)


def kept_fill(scale: float) -> dict:
    """What fill returns, for a database an earlier `--fill-only --keep` run filled: its row counts
    (the fill's time is that run's, not measured again). Refuses a database of another scale."""
    rows = row_counts()
    expected = Shape.at(scale).invoices
    if rows.get("invoices_invoice", 0) < expected:
        raise SystemExit(
            f"The kept database has {rows.get('invoices_invoice', 0):,} invoices, fewer than the "
            f"{expected:,} of scale {scale}: fill it with --fill-only --keep first."
        )
    return {"shape": Shape.at(scale).__dict__, "timings": {}, "rows": rows, "seconds": 0.0, "reused": True}


def row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM allocations_allocation WHERE amount < 0")
        counts["allocations_allocation (reversals)"] = cursor.fetchone()[0]
    return counts


def status_counts() -> dict[str, dict[str, int]]:
    """How many invoices and payments carry each state and status: every one must be present."""
    queries = {
        "invoice state": "SELECT state, count(*) FROM invoices_invoice GROUP BY 1",
        "invoice payment_status (open)": (
            "SELECT payment_status, count(*) FROM invoices_invoice WHERE state = 'open' GROUP BY 1"
        ),
        "payment state": "SELECT state, count(*) FROM payments_payment GROUP BY 1",
        "payment allocation_status": "SELECT allocation_status, count(*) FROM payments_payment GROUP BY 1",
        **generate_orders.STATUS_QUERIES,
        **generate_plans.STATUS_QUERIES,
    }
    result = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            result[name] = dict(sorted(cursor.fetchall()))
    return result
