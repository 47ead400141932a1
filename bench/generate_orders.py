"""The orders of the benchmark data (issue 12), planned and loaded like the invoices.

Shape at scale 1.0: about 200,000 orders with about 500,000 lines. About 85% of them are
billed by ~20% of the planned open invoices (those invoices gain lines that name the
order's lines, and Invoice.order); the other 15% have no invoice yet, a few of those
canceled. An order's invoices are one or two invoices of one account (so customer,
provider and currency agree): the first bills product lines, a second one bills a fee
that appeared later (an invoice of kind `fee`). Some billed orders are billed only in
part: a partial shipment (invoicing `delivered`, more ordered than delivered and
invoiced) or a fee line not invoiced yet. Every overpaid invoice is an order's, so every
payment status is present at any scale.

Consistency as for the invoices: an invoice's lines add up exactly to its planned total
(the last line takes the rest at quantity 1), and the line quantities, the orders'
figures and their statuses are computed here from the planned invoice lines and the
planned invoices' figures with the CASE expressions of tests/invariants.py, before the
rows are inserted once.
"""

from __future__ import annotations

# Share of orders not invoiced yet (generated apart from the invoices); of those, canceled.
UNBILLED_SHARE = 0.15
CANCELED_SHARE = 0.06
# Share of accounts whose billed invoices go two to an order (the second bills a later fee).
PAIRED_ACCOUNTS = 0.3
# Orders per picked invoice, measured (scale 0.05): an account with one picked invoice pairs none.
ORDERS_PER_PICKED = 0.925
# Orders per invoice at scale 1.0: 200,000 orders for 1,000,000 invoices.
ORDERS_PER_INVOICE = 0.2


def order_params(invoices: int, customers: int) -> dict[str, float]:
    orders = max(40, round(invoices * ORDERS_PER_INVOICE))
    billed = orders * (1 - UNBILLED_SHARE)
    # ~97% of invoices are open.
    share = billed / ORDERS_PER_PICKED / (invoices * 0.97)
    return {
        "orders": orders,
        "unbilled_orders": max(8, round(orders * UNBILLED_SHARE)),
        "order_invoice_share": round(min(1.0, share), 6),
        "paired_accounts": PAIRED_ACCOUNTS,
        "canceled_share": CANCELED_SHARE,
    }


# After "invoice figures" (inv_final): which invoices bill orders, the orders, their lines, their figures.
PLAN = [
    (
        "plan order invoices",
        # Overpaid invoices group apart, so an order of overpaid invoices is overpaid.
        """
        CREATE TEMP TABLE ord_inv AS
        WITH picked AS (
            SELECT f.id AS invoice_id, f.account_id, f.customer_id, f.provider_id, f.currency, f.issue_date,
                   f.total, f.credit, f.paid_total, f.fate = 'overpaid' AS over
            FROM inv_final f
            WHERE f.state = 'open' AND (f.fate = 'overpaid' OR pg_temp.rnd(f.id, %(s)s + 60) < %(order_invoice_share)s)
        ), ranked AS (
            SELECT picked.*, row_number() OVER (PARTITION BY account_id, over ORDER BY invoice_id) AS rn
            FROM picked
        ), grouped AS (
            SELECT ranked.*,
                   (rn - 1) / CASE WHEN pg_temp.rnd(account_id, %(s)s + 61) < %(paired_accounts)s THEN 2 ELSE 1 END
                       AS grp
            FROM ranked
        )
        SELECT grouped.*,
               row_number() OVER (PARTITION BY account_id, over, grp ORDER BY invoice_id) AS inv_no,
               1 + floor(3.6 * pg_temp.rnd(invoice_id, %(s)s + 62))::int AS n_lines
        FROM grouped
        """,
    ),
    (
        "plan orders",
        """
        CREATE TEMP TABLE ord AS
        WITH billed AS (
            SELECT account_id, over, grp, min(customer_id) AS customer_id, min(provider_id) AS provider_id,
                   min(currency) AS currency, min(issue_date) AS first_issue, min(invoice_id) AS k
            FROM ord_inv GROUP BY account_id, over, grp
        ), billed_fated AS (
            SELECT 'billed'::text AS src, account_id, over, grp, customer_id, provider_id, currency, k,
                   CASE WHEN pg_temp.rnd(k, %(s)s + 63) < 0.15 THEN 'part_qty'
                        WHEN pg_temp.rnd(k, %(s)s + 63) < 0.30 THEN 'part_fee'
                        ELSE 'full' END AS fate,
                   first_issue - (1 + floor(10 * pg_temp.rnd(k, %(s)s + 64)))::int + time '08:00'
                       + make_interval(mins => floor(600 * pg_temp.rnd(k, %(s)s + 65))::int) AS placed_at
            FROM billed
        ), unbilled AS (
            SELECT g, 1 + floor(%(customers)s * pg_temp.rnd(g, %(s)s + 66) ^ 1.5)::bigint AS c,
                   pg_temp.rnd(g, %(s)s + 67) AS r_acc
            FROM generate_series(1, %(unbilled_orders)s) g
        ), unbilled_fated AS (
            SELECT 'unbilled'::text AS src, (c - 1) * 3 + j + 1 AS account_id, NULL::boolean AS over,
                   NULL::bigint AS grp, c AS customer_id, 1 + ((c * 7 + j * 17) %% %(providers)s) AS provider_id,
                   pg_temp.cur(c) AS currency, g AS k,
                   CASE WHEN pg_temp.rnd(g, %(s)s + 68) < %(canceled_share)s THEN 'canceled' ELSE 'none' END AS fate,
                   now() - make_interval(mins => floor(60 * 24 * 60 * pg_temp.rnd(g, %(s)s + 69))::int + 60)
                       AS placed_at
            FROM unbilled CROSS JOIN LATERAL (SELECT floor(pg_temp.nacc(c) * r_acc)::int AS j) x
        ), everything AS (
            SELECT * FROM billed_fated UNION ALL SELECT * FROM unbilled_fated
        )
        SELECT row_number() OVER (ORDER BY placed_at, src, k) AS id, e.*,
               CASE WHEN fate = 'part_qty' THEN 'delivered' WHEN fate = 'part_fee' THEN 'ordered'
                    WHEN pg_temp.rnd(k, %(s)s + 70) < 0.4 THEN 'delivered' ELSE 'ordered' END AS invoicing,
               1 + floor(3.6 * pg_temp.rnd(k, %(s)s + 71))::int AS n_lines
        FROM everything e
        """,
    ),
    (
        "plan order credits",
        # An order's invoice with a credit note and two lines or more: the note credits line 1
        # (quantity 1, the credit's amount) by quantity: a return, or with reopen_quantity a re-shipment.
        """
        CREATE TEMP TABLE ord_credit AS
        SELECT invoice_id, pg_temp.rnd(invoice_id, %(s)s + 79) < 0.5 AS reopen
        FROM ord_inv WHERE inv_no = 1 AND n_lines >= 2 AND credit > 0 AND credit < total
        """,
    ),
    (
        "index order plan",
        """CREATE INDEX ON ord (account_id, over, grp); CREATE UNIQUE INDEX ON ord (id);
           CREATE INDEX ON ord_inv (account_id, over, grp); CREATE UNIQUE INDEX ON ord_credit (invoice_id);
           ANALYZE ord; ANALYZE ord_inv; ANALYZE ord_credit""",
    ),
    (
        "plan order lines",
        # src_pos orders an order's lines: the first invoice's, the second's (a fee), then
        # an uninvoiced fee (part_fee) or an unbilled order's own lines.
        """
        CREATE TEMP TABLE ord_ln_plan AS
        WITH first_inv AS (
            SELECT o.id AS order_id, o.fate, o.invoicing, i.invoice_id, i.total, i.n_lines, p AS inv_position,
                   pg_temp.rnd(i.invoice_id * 8 + p, %(s)s + 72) AS r_q,
                   c.invoice_id IS NOT NULL AND p = 1 AS credited, i.credit,
                   c.invoice_id IS NOT NULL AS by_quantity, coalesce(c.reopen, false) AS reopen
            FROM ord_inv i JOIN ord o ON (o.account_id, o.over, o.grp) = (i.account_id, i.over, i.grp)
            LEFT JOIN ord_credit c ON c.invoice_id = i.invoice_id
            CROSS JOIN LATERAL generate_series(1, i.n_lines) p
            WHERE i.inv_no = 1
        ), first_lines AS (
            -- A line credited by quantity is 1 at the credit's amount; the others share half the rest.
            SELECT f.*,
                   CASE WHEN credited THEN 1 ELSE 1 + floor(12 * r_q)::int END AS q,
                   CASE WHEN credited THEN credit
                        WHEN by_quantity
                            THEN trunc((total - credit) * 0.5 / greatest(n_lines - 2, 1) / (1 + floor(12 * r_q)::int), 2)
                        ELSE trunc(total * 0.5 / greatest(n_lines - 1, 1) / (1 + floor(12 * r_q)::int), 2) END AS price
            FROM first_inv f
        ), first_priced AS (
            -- Every line but the last at its quantity and price; the last takes the rest at quantity 1.
            SELECT order_id, fate, invoicing, invoice_id, inv_position, n_lines, credited, reopen,
                   CASE WHEN inv_position < n_lines THEN q ELSE 1 END AS inv_quantity,
                   CASE WHEN inv_position < n_lines THEN price
                        ELSE total - coalesce(sum(q * price) FILTER (WHERE inv_position < n_lines)
                                                  OVER (PARTITION BY invoice_id), 0) END AS unit_price
            FROM first_lines
        )
        SELECT order_id, 1 AS src, inv_position AS src_pos, invoice_id, inv_position, 'product'::text AS kind,
               'Article ' || (100 + (invoice_id * 7 + inv_position) %% 900) AS description,
               inv_quantity, unit_price, inv_quantity * unit_price AS inv_amount,
               -- A partial shipment: the last line ordered 2-5 more than was delivered and invoiced.
               CASE WHEN fate = 'part_qty' AND inv_position = n_lines
                    THEN inv_quantity + 1 + floor(4 * pg_temp.rnd(invoice_id, %(s)s + 73))::int
                    ELSE inv_quantity END AS quantity,
               CASE WHEN fate = 'part_qty' AND inv_position = n_lines
                    THEN inv_quantity + floor(2 * pg_temp.rnd(invoice_id, %(s)s + 74))::int
                    ELSE inv_quantity END AS delivered,
               0 AS canceled,
               CASE WHEN credited THEN 1 ELSE 0 END AS credited,
               CASE WHEN credited AND reopen THEN 1 ELSE 0 END AS reopened
        FROM first_priced
        UNION ALL
        SELECT o.id, 2, 1, i.invoice_id, 1, 'fee', 'Fee added after the order', 1, i.total, i.total, 1, 1, 0, 0, 0
        FROM ord_inv i JOIN ord o ON (o.account_id, o.over, o.grp) = (i.account_id, i.over, i.grp)
        WHERE i.inv_no = 2
        UNION ALL
        SELECT id, 3, 1, NULL, NULL, 'fee', 'Fee not invoiced yet', NULL,
               round((5 + 45 * pg_temp.rnd(id, %(s)s + 75))::numeric, 2), NULL, 1, 0, 0, 0, 0
        FROM ord WHERE fate = 'part_fee'
        UNION ALL
        SELECT o.id, 4, p, NULL, NULL, 'product', 'Article ' || (100 + (o.id * 7 + p) %% 900), NULL,
               round((5 + 200 * pg_temp.rnd(o.id * 8 + p, %(s)s + 76) ^ 2)::numeric, 2), NULL, x.q,
               CASE WHEN o.fate = 'none' AND o.invoicing = 'delivered'
                    THEN floor(x.q * pg_temp.rnd(o.id * 8 + p, %(s)s + 77))::int ELSE 0 END,
               CASE WHEN o.fate = 'canceled' THEN x.q ELSE 0 END, 0, 0
        FROM ord o CROSS JOIN LATERAL generate_series(1, o.n_lines) p
        CROSS JOIN LATERAL (SELECT 1 + floor(12 * pg_temp.rnd(o.id * 8 + p, %(s)s + 78))::int AS q) x
        WHERE o.src = 'unbilled'
        """,
    ),
    (
        "order line figures",
        # The refresh's arithmetic (ledger.orders): invoiced from the invoice lines less what
        # reopening credit notes gave back, invoiceable from the policy's limit (I9), as
        # tests/invariants.py recomputes them.
        """
        CREATE TEMP TABLE ord_ln AS
        SELECT row_number() OVER (ORDER BY l.order_id, l.src, l.src_pos) AS id,
               row_number() OVER (PARTITION BY l.order_id ORDER BY l.src, l.src_pos) AS position,
               l.*, coalesce(l.inv_quantity, 0) - l.reopened AS invoiced,
               (CASE WHEN o.invoicing = 'delivered' THEN least(l.delivered, l.quantity - l.canceled)
                     ELSE l.quantity - l.canceled END) - (coalesce(l.inv_quantity, 0) - l.reopened) AS invoiceable,
               o.placed_at
        FROM ord_ln_plan l JOIN ord o ON o.id = l.order_id;
        CREATE INDEX ON ord_ln (order_id); CREATE INDEX ON ord_ln (invoice_id); ANALYZE ord_ln
        """,
    ),
    (
        "order figures",
        """
        CREATE TEMP TABLE ord_final AS
        WITH money AS (
            SELECT o.id, sum(f.total - f.credit) AS net, sum(f.paid_total) AS paid
            FROM ord o JOIN ord_inv i ON (o.account_id, o.over, o.grp) = (i.account_id, i.over, i.grp)
            JOIN inv_final f ON f.id = i.invoice_id
            GROUP BY o.id
        ), lines AS (
            SELECT order_id, bool_or(invoiced > 0) AS any_invoiced, bool_and(invoiced >= quantity - canceled) AS all_invoiced
            FROM ord_ln GROUP BY order_id
        ), figured AS (
            SELECT o.*, coalesce(m.net, 0) AS invoiced_total, coalesce(m.paid, 0) AS paid_total,
                   CASE WHEN NOT coalesce(l.any_invoiced, false) THEN 'not_invoiced'
                        WHEN coalesce(l.all_invoiced, true) THEN 'invoiced'
                        ELSE 'partially_invoiced' END AS billing_status
            FROM ord o LEFT JOIN money m ON m.id = o.id LEFT JOIN lines l ON l.order_id = o.id
        ), paid AS (
            SELECT figured.*,
                   CASE WHEN billing_status = 'not_invoiced' AND invoiced_total = 0 AND paid_total = 0 THEN 'unpaid'
                        WHEN paid_total > invoiced_total THEN 'overpaid'
                        WHEN paid_total = invoiced_total THEN 'paid'
                        WHEN paid_total = 0 THEN 'unpaid'
                        ELSE 'partially_paid' END AS payment_status
            FROM figured
        )
        SELECT paid.*,
               CASE WHEN fate = 'canceled' THEN 'canceled'
                    WHEN billing_status = 'invoiced' AND payment_status = 'paid' THEN 'closed'
                    ELSE 'open' END AS state,
               row_number() OVER (PARTITION BY provider_id ORDER BY id) AS sequence
        FROM paid;
        CREATE UNIQUE INDEX ON ord_final (account_id, over, grp) WHERE src = 'billed'
        """,
    ),
]

LOAD = [
    (
        "orders",
        """
        INSERT INTO orders_order (id, customer_id, provider_id, account_id, currency, sequence, number, placed_at,
            invoicing, invoiced_total, paid_total, balance_due, state, billing_status, payment_status, created_at,
            created_by_id, canceled_at, cancel_reason)
        SELECT id, customer_id, provider_id, account_id, currency, sequence,
               'O-P' || lpad(provider_id::text, 3, '0') || '-' || lpad(sequence::text, 6, '0'), placed_at,
               invoicing, invoiced_total, paid_total, invoiced_total - paid_total, state, billing_status,
               payment_status, placed_at, NULL,
               CASE WHEN state = 'canceled' THEN least(now(), placed_at + interval '1 day') END,
               CASE WHEN state = 'canceled' THEN 'customer withdrew the order' ELSE '' END
        FROM ord_final ORDER BY id
        """,
    ),
    (
        "order lines",
        """
        INSERT INTO orders_orderline (id, order_id, position, kind, description, quantity, unit_price,
            delivered_quantity, canceled_quantity, invoiced_quantity, invoiceable_quantity, created_at, created_by_id)
        SELECT id, order_id, position, kind, description, quantity, unit_price, delivered, canceled, invoiced,
               invoiceable, placed_at, NULL
        FROM ord_ln ORDER BY id
        """,
    ),
]

# The invoice lines: one "Services" line for an invoice of no order, the planned lines for an order's.
INVOICE_LINES = """
    INSERT INTO invoices_invoiceline (invoice_id, position, description, quantity, unit_price, amount, order_line_id)
    SELECT invoice_id, position, description, quantity, unit_price, amount, order_line_id FROM (
        SELECT f.id AS invoice_id, 1 AS position, 'Services' AS description, 1 AS quantity, f.total AS unit_price,
               f.total AS amount, NULL::bigint AS order_line_id
        FROM inv_final f WHERE NOT EXISTS (SELECT 1 FROM ord_inv i WHERE i.invoice_id = f.id)
        UNION ALL
        SELECT invoice_id, inv_position, description, inv_quantity, unit_price, inv_amount, id
        FROM ord_ln WHERE invoice_id IS NOT NULL
    ) lines
    ORDER BY invoice_id, position
"""

# Joined into the invoices' INSERT: the order each invoice bills, and its kind.
INVOICE_ORDER_JOIN = """
    LEFT JOIN (SELECT i.invoice_id, o.id AS order_id, i.inv_no FROM ord_inv i
               JOIN ord_final o ON o.src = 'billed' AND (o.account_id, o.over, o.grp) = (i.account_id, i.over, i.grp)
              ) oi ON oi.invoice_id = i.id
"""

# The credit notes: by amount (a price correction, or goodwill after payment on an overpaid
# invoice), or by quantity on an order's invoice (ord_credit).
CREDIT_NOTES = """
    INSERT INTO invoices_creditnote (invoice_id, amount, created_at, created_by_id, reason, reason_code,
                                     reopen_quantity)
    SELECT f.id, f.credit,
           least(now(), f.issue_date + CASE WHEN f.fate = 'overpaid' THEN 90 ELSE 2 END + time '11:00'), NULL,
           CASE WHEN c.reopen THEN 'arrived broken, re-shipped' WHEN c.invoice_id IS NOT NULL THEN 'returned'
                WHEN f.fate = 'overpaid' THEN 'goodwill after payment' ELSE 'price correction' END,
           CASE WHEN c.invoice_id IS NOT NULL THEN 'return' ELSE 'correction' END, coalesce(c.reopen, false)
    FROM inv_final f LEFT JOIN ord_credit c ON c.invoice_id = f.id
    WHERE f.credit > 0 ORDER BY f.id
"""

CREDIT_LOAD = [
    (
        "credit note lines",
        """
        INSERT INTO invoices_creditnoteline (credit_note_id, invoice_line_id, quantity, amount)
        SELECT cn.id, il.id, 1, cn.amount
        FROM ord_ln l JOIN invoices_invoiceline il ON il.order_line_id = l.id
        JOIN invoices_creditnote cn ON cn.invoice_id = l.invoice_id
        WHERE l.credited = 1 ORDER BY cn.id
        """,
    ),
]

TABLES = ["orders_order", "orders_orderline"]
# Counted, sequences set and analyzed with the rest (not set aside: few rows).
OTHER_TABLES = ["invoices_creditnoteline"]

STATUS_QUERIES = {
    "order billing_status": "SELECT billing_status, count(*) FROM orders_order GROUP BY 1",
    "order payment_status": "SELECT payment_status, count(*) FROM orders_order GROUP BY 1",
    "order state": "SELECT state, count(*) FROM orders_order GROUP BY 1",
}
