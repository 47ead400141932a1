"""The installment plans of the benchmark data (issue 13), planned and loaded like the invoices.

Shape at scale 1.0: 100,000 plans of 10 monthly installments (1,000,000 installment
invoices), issued over the last ~18 months on existing accounts, each with one penalty
rule version (percent of the overdue balance or fixed; monthly or once; grace 0-14 days;
half of them capped per installment). An installment still to fall due is mostly unpaid
(some prepaid); one past due is paid on time (70%), paid late (13%), paid in part on time
(8%) or not at all (9%). One payment pays one installment (or one penalty).

The penalties are what last night's assessment (as of yesterday, logged as a
PenaltyAssessment so that tonight's run builds on it) charged: each period of
plans.penalties up to yesterday with a charge, priced in SQL from the same planned
payments (percent rounded half up, caps by running sums, monthly periods by PostgreSQL's
month arithmetic, which clamps to the month's end as plans.penalties.add_months does).
Some of them were recalculated (a credit note `recalculation` for an excess charged), some
waived (a credit note `waiver`), most of the late payers' paid; some installments have a
PenaltyWaiver (nothing charged after it). A tenth of the late payments with a value date
in the last 35 days were recorded only today, after last night's run, back-dated to their
value date (a bank's delay): the penalties charged without them are now too high, so
tonight's run credits them. Tonight's run (as of today)
also charges the periods falling due today, and nothing else: a second run writes nothing.

Consistency as for the rest: invoice, payment, account and plan figures are computed here
from exactly the planned rows (the plan state by the CASE of tests/invariants.py), the
invoice and payment queue totals and the entry journal come from the loaded rows
(bench.generate), and every invariant is checked after the fill.
"""

from __future__ import annotations

INSTALLMENTS = 10
# Plans are issued on a day within this many days before yesterday.
PLAN_DAYS = 540
PLANS_PER_SCALE = 100_000


def plan_params(scale: float) -> dict[str, float]:
    """The plans' share of the fill; scale 0 makes none (the data of the rounds before issue 13)."""
    return {
        "plans": max(20, round(PLANS_PER_SCALE * scale)) if scale > 0 else 0,
        "plan_installments": INSTALLMENTS,
        "plan_days": PLAN_DAYS,
    }


# After "payment figures" (inv_final, pay_final: the plans' ids follow theirs).
PLAN = [
    (
        "plan the plans",
        """
        CREATE TEMP TABLE pl AS
        WITH raw AS (
            SELECT g AS id,
                   1 + floor(%(customers)s * pg_temp.rnd(g, %(s)s + 101))::bigint AS customer_id,
                   pg_temp.rnd(g, %(s)s + 102) AS r_acc,
                   pg_temp.rnd(g, %(s)s + 103) AS r_issue,
                   round((600 + 11400 * pg_temp.rnd(g, %(s)s + 104))::numeric, 2) AS principal,
                   pg_temp.rnd(g, %(s)s + 105) AS r_kind,
                   pg_temp.rnd(g, %(s)s + 106) AS r_size,
                   pg_temp.rnd(g, %(s)s + 107) AS r_grace,
                   pg_temp.rnd(g, %(s)s + 108) AS r_freq,
                   pg_temp.rnd(g, %(s)s + 109) AS r_cap
            FROM generate_series(1, %(plans)s) g
        ), placed AS (
            SELECT raw.*, floor(pg_temp.nacc(customer_id) * r_acc)::int AS j,
                   current_date - 1 - floor(%(plan_days)s * r_issue)::int AS issue_date,
                   trunc(principal / %(plan_installments)s, 2) AS base,
                   CASE WHEN r_kind < 0.7 THEN 'percent' ELSE 'fixed' END AS kind,
                   CASE WHEN r_kind < 0.7
                        THEN (ARRAY[1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 5.0])[1 + floor(7 * r_size)::int] END AS rate,
                   CASE WHEN r_kind >= 0.7
                        THEN (ARRAY[5.00, 10.00, 10.00, 15.00, 25.00])[1 + floor(5 * r_size)::int] END AS amount
            FROM raw
        )
        SELECT id, customer_id, (customer_id - 1) * 3 + j + 1 AS account_id,
               1 + ((customer_id * 7 + j * 17) %% %(providers)s) AS provider_id,
               pg_temp.cur(customer_id) AS currency, principal, base, issue_date, issue_date + 30 AS first_due_date,
               kind, rate::numeric(7, 4) AS rate, amount::numeric(14, 2) AS amount,
               (ARRAY[0, 3, 5, 5, 7, 10, 14])[1 + floor(7 * r_grace)::int] AS grace_days,
               CASE WHEN r_freq < 0.65 THEN 'monthly' ELSE 'once' END AS frequency,
               CASE WHEN r_cap < 0.5 THEN NULL
                    WHEN kind = 'percent' THEN round(base * (0.04 + 0.08 * r_cap)::numeric, 2)
                    ELSE amount * (2 + floor(6 * (r_cap - 0.5))::int) END AS cap
        FROM placed;
        CREATE UNIQUE INDEX ON pl (id); ANALYZE pl
        """,
    ),
    (
        "plan installments",
        # What each installment was paid, when, and whether the payment was recorded only today.
        """
        CREATE TEMP TABLE pl_inst AS
        WITH raw AS (
            SELECT p.id AS plan_id, k AS plan_sequence, p.customer_id, p.account_id, p.provider_id, p.currency,
                   p.issue_date, p.kind, p.rate, p.amount AS rule_amount, p.grace_days, p.frequency, p.cap,
                   CASE WHEN k = %(plan_installments)s THEN p.principal - p.base * (k - 1) ELSE p.base END AS total,
                   (p.first_due_date + make_interval(months => k - 1))::date AS due_date,
                   (p.id - 1) * %(plan_installments)s + k AS n
            FROM pl p CROSS JOIN LATERAL generate_series(1, %(plan_installments)s) k
        ), fated AS (
            SELECT raw.*, pg_temp.rnd(n, %(s)s + 111) AS r_day, pg_temp.rnd(n, %(s)s + 113) AS r_late,
                   CASE WHEN due_date >= current_date
                        THEN CASE WHEN pg_temp.rnd(n, %(s)s + 110) < 0.08 THEN 'prepaid' ELSE 'future' END
                        WHEN pg_temp.rnd(n, %(s)s + 110) < 0.70 THEN 'ontime'
                        WHEN pg_temp.rnd(n, %(s)s + 110) < 0.83 THEN 'late'
                        WHEN pg_temp.rnd(n, %(s)s + 110) < 0.91 THEN 'partial'
                        ELSE 'unpaid' END AS planned
            FROM raw
        ), dated AS (
            SELECT fated.*,
                   CASE planned
                        WHEN 'prepaid' THEN greatest(issue_date, least(current_date - 1, due_date - floor(20 * r_day)::int))
                        WHEN 'late' THEN due_date + grace_days + 1 + floor(100 * r_day ^ 2)::int
                        WHEN 'ontime' THEN greatest(issue_date, due_date - floor(12 * r_day)::int)
                        WHEN 'partial' THEN greatest(issue_date, due_date - floor(12 * r_day)::int)
                   END AS planned_date
            FROM fated
        ), settled AS (
            -- A late payment whose value date is still to come is no payment yet.
            SELECT dated.*,
                   CASE WHEN planned = 'late' AND planned_date >= current_date THEN 'unpaid' ELSE planned END AS fate
            FROM dated
        )
        SELECT (SELECT coalesce(max(id), 0) FROM inv_final) + row_number() OVER (ORDER BY plan_id, plan_sequence) AS id,
               n, plan_id, plan_sequence, customer_id, account_id, provider_id, currency, issue_date, due_date, total,
               kind, rate, rule_amount, grace_days, frequency, cap, fate,
               CASE WHEN fate IN ('prepaid', 'ontime', 'late', 'partial') THEN planned_date END AS value_date,
               CASE WHEN fate IN ('prepaid', 'ontime', 'late') THEN total
                    WHEN fate = 'partial' THEN round(total * (0.2 + 0.6 * r_late)::numeric, 2)
                    ELSE 0 END AS paid,
               -- Recorded today after last night's assessment, back-dated to its value date (within 35 days).
               fate = 'late' AND planned_date >= current_date - 35 AND r_late < 0.10 AS backdated
        FROM settled;
        CREATE UNIQUE INDEX ON pl_inst (id); ANALYZE pl_inst
        """,
    ),
    (
        "plan penalty periods",
        # plans.penalties over the periods up to yesterday: B(t) from the payments last night's run
        # knew (not the back-dated ones), the charge by the one rule version, caps by running sums:
        # min(cap, U_k) - min(cap, U_k-1) is the capped charge of period k (U: the uncapped sums).
        """
        CREATE TEMP TABLE pl_period AS
        WITH owing AS (
            SELECT i.*, i.due_date + i.grace_days AS end_of_grace FROM pl_inst i
            WHERE fate IN ('late', 'partial', 'unpaid')
        ), periods AS (
            SELECT o.id AS installment_id, k AS number, o.total, o.paid, o.value_date, o.backdated, o.kind, o.rate,
                   o.rule_amount, o.cap, o.fate,
                   CASE WHEN o.frequency = 'once' THEN o.end_of_grace + 1
                        ELSE (o.end_of_grace + make_interval(months => k))::date END AS day
            FROM owing o
            CROSS JOIN LATERAL generate_series(1, CASE WHEN o.frequency = 'once' THEN 1 ELSE 40 END) k
        ), priced AS (
            SELECT periods.*, b.balance,
                   CASE WHEN b.balance <= 0 THEN 0
                        WHEN kind = 'percent' THEN round(b.balance * rate / 100, 2)
                        ELSE rule_amount END AS uncapped
            FROM periods
            CROSS JOIN LATERAL (
                SELECT CASE WHEN paid > 0 AND NOT backdated AND value_date < day THEN greatest(0, total - paid)
                            ELSE total END AS balance) b
            WHERE day <= current_date - 1
        ), summed AS (
            SELECT priced.*, sum(uncapped) OVER (PARTITION BY installment_id ORDER BY number) AS running
            FROM priced
        )
        SELECT installment_id, number, day, balance, fate, backdated,
               CASE WHEN cap IS NULL THEN uncapped
                    ELSE least(cap, running) - least(cap, running - uncapped) END AS charge
        FROM summed
        """,
    ),
    (
        "plan waivers",
        # Future penalties waived ten days after the first period of ~3% of the owing installments
        # penalized by then: nothing charged on them after that day.
        """
        CREATE TEMP TABLE pl_waiver AS
        SELECT installment_id, min(day) + 10 AS waived_on
        FROM pl_period
        WHERE fate IN ('partial', 'unpaid') AND pg_temp.rnd(installment_id, %(s)s + 120) < 0.03
        GROUP BY installment_id HAVING min(day) + 10 <= current_date - 1
        """,
    ),
    (
        "plan penalties",
        # The penalty invoices last night's run left: ids after the installments', in the order
        # the nightly runs wrote them; some recalculated (charged more, a recalculation credit
        # note for the excess), some waived (a waiver credit note for all of it), most of
        # the late payers' paid some days after.
        """
        CREATE TEMP TABLE pl_pen AS
        WITH charged AS (
            SELECT p.*, pg_temp.rnd(p.installment_id * 64 + p.number, %(s)s + 121) AS u,
                   pg_temp.rnd(p.installment_id * 64 + p.number, %(s)s + 122) AS r_pay
            FROM pl_period p LEFT JOIN pl_waiver w ON w.installment_id = p.installment_id
            WHERE p.charge > 0 AND (w.installment_id IS NULL OR p.day <= w.waived_on)
        ), fated AS (
            SELECT charged.*,
                   CASE WHEN backdated THEN 'open'
                        WHEN u < 0.02 THEN 'recalculated'
                        WHEN u < 0.06 AND fate IN ('partial', 'unpaid') THEN 'waived'
                        WHEN fate = 'late' AND r_pay < 0.85 THEN 'paid'
                        ELSE 'open' END AS pen_fate
            FROM charged
        )
        SELECT (SELECT max(id) FROM pl_inst) + row_number() OVER (ORDER BY day, installment_id, number) AS id,
               installment_id, number, day, charge, pen_fate,
               charge + CASE WHEN pen_fate = 'recalculated' THEN round(charge / 2, 2) + 1 ELSE 0 END AS total,
               CASE WHEN pen_fate = 'recalculated' THEN round(charge / 2, 2) + 1 ELSE 0 END AS recalculated,
               CASE WHEN pen_fate = 'waived' THEN charge ELSE 0 END AS waived,
               CASE WHEN pen_fate = 'paid' THEN charge ELSE 0 END AS paid,
               CASE WHEN pen_fate = 'paid' THEN least(current_date - 1, day + 3 + floor(25 * r_pay)::int) END
                   AS value_date
        FROM fated;
        CREATE INDEX ON pl_pen (installment_id); ANALYZE pl_pen
        """,
    ),
    (
        "plan invoice figures",
        """
        CREATE TEMP TABLE pl_inv_final AS
        WITH both_kinds AS (
            SELECT id, plan_id, plan_sequence, NULL::bigint AS installment_id, NULL::int AS penalty_period,
                   NULL::int AS penalty_revision,
                   'installment' AS kind, customer_id, account_id, provider_id, currency, issue_date, due_date,
                   total, 0::numeric AS recalculated, 0::numeric AS waived, paid AS paid_total,
                   'Installment ' || plan_sequence || ' of ' || %(plan_installments)s AS description
            FROM pl_inst
            UNION ALL
            SELECT pen.id, i.plan_id, NULL, pen.installment_id, pen.number, 0, 'penalty', i.customer_id, i.account_id,
                   i.provider_id, i.currency, pen.day, pen.day, pen.total, pen.recalculated, pen.waived, pen.paid,
                   'Late payment penalty on installment ' || i.plan_sequence || ', period ' || pen.number
                       || ' from ' || pen.day
            FROM pl_pen pen JOIN pl_inst i ON i.id = pen.installment_id
        )
        SELECT b.*, b.recalculated + b.waived AS credit,
               b.total - b.recalculated - b.waived - b.paid_total AS balance_due,
               CASE WHEN b.paid_total > b.total - b.recalculated - b.waived THEN 'overpaid'
                    WHEN b.paid_total = b.total - b.recalculated - b.waived THEN 'paid'
                    WHEN b.paid_total = 0 THEN 'unpaid'
                    ELSE 'partially_paid' END AS payment_status,
               coalesce(last.sequence, 0) + row_number() OVER (PARTITION BY b.provider_id ORDER BY b.id) AS sequence
        FROM both_kinds b
        LEFT JOIN (SELECT provider_id, max(sequence) AS sequence FROM inv_final GROUP BY 1) last
               ON last.provider_id = b.provider_id;
        CREATE UNIQUE INDEX ON pl_inv_final (id);
        CREATE TEMP TABLE pl_seq AS SELECT provider_id, max(sequence) AS last FROM pl_inv_final GROUP BY 1;
        ANALYZE pl_inv_final
        """,
    ),
    (
        "plan the plans' payments",
        # One payment per paid installment or penalty, of exactly what it pays.
        """
        CREATE TEMP TABLE pl_pay AS
        WITH paying AS (
            SELECT i.id AS invoice_id, i.customer_id, i.currency, i.paid AS amount, i.value_date, i.backdated
            FROM pl_inst i WHERE i.paid > 0
            UNION ALL
            SELECT pen.id, i.customer_id, i.currency, pen.paid, pen.value_date, false
            FROM pl_pen pen JOIN pl_inst i ON i.id = pen.installment_id WHERE pen.paid > 0
        )
        SELECT (SELECT coalesce(max(id), 0) FROM pay_final) + row_number() OVER (ORDER BY value_date, invoice_id) AS id,
               paying.*, value_date + time '12:00' AS received_at,
               CASE WHEN backdated THEN now() - interval '1 hour' ELSE value_date + time '12:05' END AS allocated_at
        FROM paying
        """,
    ),
]

# The providers' counters and the accounts' caches take the plans' invoices in (bench.generate).
PROVIDER_LAST = "(SELECT s.last FROM pl_seq s WHERE s.provider_id = p.g)"
ACCOUNT_INVOICES = """
    SELECT account_id, total - credit - paid_total AS owed, due_date, state, payment_status FROM inv_final
    UNION ALL
    SELECT account_id, balance_due, due_date, 'open', payment_status FROM pl_inv_final
"""

# Before the invoice lines and invoices: the plans (their accounts exist), their rules.
LOAD_PLANS = [
    (
        "plans",
        # State and figures as tests/invariants.py derives them: paid off when every open invoice
        # of it owes nothing; balance due and oldest due date over the ones still owing.
        """
        INSERT INTO plans_plan (id, customer_id, provider_id, currency, account_id, principal, description,
            installment_count, every_months, first_due_date, issue_date, state, balance_due, oldest_due_date,
            created_at, created_by_id)
        SELECT p.id, p.customer_id, p.provider_id, p.currency, p.account_id, p.principal,
               'Bench plan ' || p.id || ', ' || %(plan_installments)s || ' months', %(plan_installments)s, 1,
               p.first_due_date, p.issue_date,
               CASE WHEN s.all_paid THEN 'paid_off' ELSE 'active' END, s.owed, s.oldest,
               p.issue_date + time '09:00', NULL
        FROM pl p
        JOIN (SELECT plan_id, bool_and(balance_due <= 0) AS all_paid,
                     COALESCE(SUM(balance_due) FILTER (WHERE payment_status IN ('unpaid', 'partially_paid')), 0)
                         AS owed,
                     MIN(due_date) FILTER (WHERE payment_status IN ('unpaid', 'partially_paid')) AS oldest
              FROM pl_inv_final GROUP BY 1) s
          ON s.plan_id = p.id
        ORDER BY p.id
        """,
    ),
    (
        "penalty rules",
        """
        INSERT INTO plans_penaltyrule (plan_id, effective_from, kind, rate, amount, grace_days, frequency, cap,
                                       created_at, created_by_id, reason)
        SELECT id, issue_date, kind, rate, amount, grace_days, frequency, cap, issue_date + time '09:00', NULL,
               'plan created'
        FROM pl ORDER BY id
        """,
    ),
    (
        "plan invoice lines",
        """
        INSERT INTO invoices_invoiceline (invoice_id, position, description, quantity, unit_price, amount,
                                          order_line_id)
        SELECT id, 1, description, 1, total, total, NULL FROM pl_inv_final ORDER BY id
        """,
    ),
]

# After the invoices.
LOAD_INVOICES = [
    (
        "plan invoices",
        """
        INSERT INTO invoices_invoice (id, provider_id, customer_id, account_id, sequence, number, currency,
            issue_date, due_date, total, credited_total, paid_total, balance_due, state, payment_status,
            created_at, created_by_id, voided_at, void_reason, order_id, kind, plan_id, plan_sequence,
            installment_id, penalty_period, penalty_revision)
        SELECT id, provider_id, customer_id, account_id, sequence,
               'P' || lpad(provider_id::text, 3, '0') || '-' || lpad(sequence::text, 6, '0'), currency,
               issue_date, due_date, total, credit, paid_total, balance_due, 'open', payment_status,
               CASE WHEN kind = 'penalty' THEN least(now() - interval '1 hour', issue_date + 1 + time '02:00')
                    ELSE issue_date + time '09:00' END,
               NULL, NULL, '', NULL, kind, plan_id, plan_sequence, installment_id, penalty_period, penalty_revision
        FROM pl_inv_final ORDER BY id
        """,
    ),
]

# After the credit notes.
LOAD_CREDIT_NOTES = [
    (
        "plan credit notes",
        """
        INSERT INTO invoices_creditnote (invoice_id, amount, created_at, created_by_id, reason, reason_code,
                                         reopen_quantity)
        SELECT id, recalculated, least(now() - interval '1 hour', day + 12 + time '02:00'), NULL::int,
               'Penalty recalculated: a payment was back-dated to before the period', 'recalculation', false
        FROM pl_pen WHERE recalculated > 0
        UNION ALL
        SELECT id, waived, least(now() - interval '1 hour', day + 5 + time '15:00'), NULL, 'hardship: penalty forgiven', 'waiver', false
        FROM pl_pen WHERE waived > 0
        ORDER BY 3, 1
        """,
    ),
]

# After the payments.
LOAD_PAYMENTS = [
    (
        "plans' payments",
        """
        INSERT INTO payments_payment (id, customer_id, currency, amount, method, reference, received_at,
            refunded_total, charged_back_total, allocated_total, unallocated, state, allocation_status,
            created_at, created_by_id, canceled_at, cancel_reason)
        SELECT id, customer_id, currency, amount, 'bank_transfer', 'BNK-' || lpad(id::text, 9, '0'), received_at,
               0, 0, amount, 0, 'settled', 'fully_allocated', allocated_at - interval '5 minutes', NULL, NULL, ''
        FROM pl_pay ORDER BY id
        """,
    ),
]

# After the allocations and their reversals (their ids follow).
LOAD_ALLOCATIONS = [
    (
        "plan allocations",
        """
        INSERT INTO allocations_allocation (id, payment_id, invoice_id, amount, reverses_id, created_at,
                                            created_by_id, reason)
        SELECT (SELECT coalesce(max(id), 0) FROM allocations_allocation) + row_number() OVER (ORDER BY allocated_at, id),
               id, invoice_id, amount, NULL, allocated_at, NULL, ''
        FROM pl_pay
        """,
    ),
    (
        "penalty waivers",
        """
        INSERT INTO plans_penaltywaiver (installment_id, created_at, created_by_id, reason)
        SELECT installment_id, waived_on + time '15:00', NULL, 'customer in hardship: no further penalties'
        FROM pl_waiver ORDER BY waived_on, installment_id
        """,
    ),
    (
        "last night's assessment",
        # The log of the run that charged the periods dated yesterday (plans.models.PenaltyAssessment):
        # tonight's run over every plan builds on it, looking only at what moved since it started.
        """
        INSERT INTO plans_penaltyassessment (created_at, created_by_id, reason, as_of, plan_id, started_at,
                                             incremental, candidates, penalties, credit_notes)
        SELECT started_at + interval '10 minutes', NULL, '', current_date - 1, NULL, started_at, true,
               (SELECT count(DISTINCT installment_id) FROM pl_period WHERE day = current_date - 1),
               (SELECT count(*) FROM pl_pen WHERE day = current_date - 1), 0
        FROM (SELECT least(now() - interval '2 hours', current_date + time '02:00') AS started_at) s
        WHERE %(plans)s > 0
        """,
    ),
]

TABLES = ["plans_plan", "plans_penaltyrule", "plans_penaltywaiver", "plans_penaltyassessment"]

STATUS_QUERIES = {
    "plan state": "SELECT state, count(*) FROM plans_plan GROUP BY 1",
    "plan invoice payment_status": (
        "SELECT kind || ' ' || payment_status, count(*) FROM invoices_invoice WHERE plan_id IS NOT NULL GROUP BY 1"
    ),
}
