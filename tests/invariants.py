"""Check DESIGN.md invariants I1-I7 (and I9, I11, I12) by recomputing everything from the ledger with plain SQL.

I1 covers every cache: invoice, payment and account figures, the queue totals
(count and sums per status) that the list pages read, and the entry journal: a
customer's entries in a currency sum to what its open invoices ask (net of credit
notes) less what its live payments hold (net of refunds and chargebacks), all from the
ledger rows, not the caches, an account's to what its open invoices ask,
and every entry names its source's customer, currency and account. These are written
from DESIGN.md §8, independently of ledger.journal_sql (which reconciliation uses).

Orders (DESIGN.md section 9): every order line's invoiced and invoiceable quantities and
every order's figures and statuses equal what its invoices, invoice lines and credit note
lines say (I1, I2), and no line is invoiced beyond what may be invoiced (I9).

Plans (DESIGN.md section 10): every plan's state equals what its open invoices' ledger sums
say (I2), its kept balance due and oldest due date and the plan list's kept totals equal what
its invoices and the plans say (I1), and every penalty invoice names an installment of its plan, once per period (I11).

Registrations (DESIGN.md section 12): no workshop has more confirmed registrations than seats,
its cached counts equal its rows and its wait list is numbered without gaps (I10), and every
confirmed seat's order line is delivered and was charged, every wait-listed one neither.

Exports (DESIGN.md section 13): every exported entry is in one batch per profile, and each
batch's balances are its entries on top of the previous closing (I12).

Used after every step of the property test, by scenario tests and the benchmark's
sanity check. Returns a list of human-readable violations (empty when all hold).
"""

from __future__ import annotations

import re

from django.db import connection

from billing.guards import APPEND_ONLY_TRIGGER, LEDGER_TABLES, NO_TRUNCATE_TRIGGER
from billing.money import MINOR_UNITS

CHECKS = {
    "I1 invoice totals": """
        SELECT i.id, i.paid_total, COALESCE(a.s, 0), i.credited_total, COALESCE(c.s, 0)
        FROM invoices_invoice i
        LEFT JOIN (SELECT invoice_id, SUM(amount) s FROM allocations_allocation GROUP BY 1) a ON a.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, SUM(amount) s FROM invoices_creditnote GROUP BY 1) c ON c.invoice_id = i.id
        WHERE i.paid_total <> COALESCE(a.s, 0) OR i.credited_total <> COALESCE(c.s, 0)
           OR i.balance_due <> CASE WHEN i.state = 'void' THEN 0 ELSE i.total - i.credited_total - i.paid_total END
    """,
    "I1 payment totals": """
        SELECT p.id, p.allocated_total, COALESCE(a.s, 0), p.refunded_total, COALESCE(r.s, 0),
               p.charged_back_total, COALESCE(c.s, 0)
        FROM payments_payment p
        LEFT JOIN (SELECT payment_id, SUM(amount) s FROM allocations_allocation GROUP BY 1) a ON a.payment_id = p.id
        LEFT JOIN (SELECT payment_id, SUM(amount) s FROM payments_refund GROUP BY 1) r ON r.payment_id = p.id
        LEFT JOIN (SELECT payment_id, SUM(amount) s FROM payments_chargeback GROUP BY 1) c ON c.payment_id = p.id
        WHERE p.allocated_total <> COALESCE(a.s, 0) OR p.refunded_total <> COALESCE(r.s, 0)
           OR p.charged_back_total <> COALESCE(c.s, 0)
           OR p.unallocated <> (CASE WHEN p.state = 'canceled' THEN 0
                                ELSE p.amount - p.refunded_total - p.charged_back_total END) - p.allocated_total
    """,
    "I2 invoice status": """
        SELECT id, payment_status FROM invoices_invoice
        WHERE payment_status <> CASE
            WHEN paid_total > total - credited_total THEN 'overpaid'
            WHEN paid_total = total - credited_total THEN 'paid'
            WHEN paid_total = 0 THEN 'unpaid'
            ELSE 'partially_paid' END
    """,
    "I2 payment status": """
        SELECT id, allocation_status FROM (
            SELECT id, allocation_status, allocated_total,
                   CASE WHEN state = 'canceled' THEN 0
                        ELSE amount - refunded_total - charged_back_total END AS available
            FROM payments_payment) p
        WHERE allocation_status <> CASE
            WHEN allocated_total > available THEN 'overallocated'
            WHEN allocated_total = available THEN 'fully_allocated'
            WHEN allocated_total = 0 THEN 'unallocated'
            ELSE 'partially_allocated' END
    """,
    "I1 account cache": """
        SELECT a.id, a.balance_due, COALESCE(o.s, 0), a.open_invoice_count, COALESCE(o.n, 0)
        FROM billing_account a
        LEFT JOIN (SELECT account_id, SUM(balance_due) s, COUNT(*) n, MIN(due_date) d FROM invoices_invoice
                   WHERE state = 'open' AND payment_status IN ('unpaid', 'partially_paid') GROUP BY 1) o
               ON o.account_id = a.id
        WHERE a.balance_due <> COALESCE(o.s, 0) OR a.open_invoice_count <> COALESCE(o.n, 0)
           OR a.oldest_due_date IS DISTINCT FROM o.d
    """,
    "I1 invoice queue totals": """
        SELECT state, payment_status, currency, due_date, t.n, r.n
        FROM (SELECT state, payment_status, currency, due_date, SUM(invoices) n, SUM(balance_due) b, SUM(total) s
              FROM invoices_invoicequeuetotal GROUP BY 1, 2, 3, 4) t
        FULL JOIN (SELECT state, payment_status, currency, due_date, COUNT(*) n, SUM(balance_due) b, SUM(total) s
                   FROM invoices_invoice GROUP BY 1, 2, 3, 4) r
               USING (state, payment_status, currency, due_date)
        WHERE COALESCE(t.n, 0) <> COALESCE(r.n, 0) OR COALESCE(t.b, 0) <> COALESCE(r.b, 0)
           OR COALESCE(t.s, 0) <> COALESCE(r.s, 0)
    """,
    "I1 payment queue totals": """
        SELECT state, allocation_status, currency, t.n, r.n
        FROM (SELECT state, allocation_status, currency, SUM(payments) n, SUM(amount) a, SUM(unallocated) u
              FROM payments_paymentqueuetotal GROUP BY 1, 2, 3) t
        FULL JOIN (SELECT state, allocation_status, currency, COUNT(*) n, SUM(amount) a, SUM(unallocated) u
                   FROM payments_payment GROUP BY 1, 2, 3) r
               USING (state, allocation_status, currency)
        WHERE COALESCE(t.n, 0) <> COALESCE(r.n, 0) OR COALESCE(t.a, 0) <> COALESCE(r.a, 0)
           OR COALESCE(t.u, 0) <> COALESCE(r.u, 0)
    """,
    "I1 order queue totals": """
        SELECT provider_id, billing_status, payment_status, currency, t.n, r.n
        FROM (SELECT provider_id, billing_status, payment_status, currency, SUM(orders) n, SUM(invoiced_total) i,
                     SUM(paid_total) p, SUM(balance_due) b
              FROM orders_orderqueuetotal GROUP BY 1, 2, 3, 4) t
        FULL JOIN (SELECT provider_id, billing_status, payment_status, currency, COUNT(*) n, SUM(invoiced_total) i,
                          SUM(paid_total) p, SUM(balance_due) b
                   FROM orders_order GROUP BY 1, 2, 3, 4) r
               USING (provider_id, billing_status, payment_status, currency)
        WHERE COALESCE(t.n, 0) <> COALESCE(r.n, 0) OR COALESCE(t.i, 0) <> COALESCE(r.i, 0)
           OR COALESCE(t.p, 0) <> COALESCE(r.p, 0) OR COALESCE(t.b, 0) <> COALESCE(r.b, 0)
    """,
    "I1 plan queue totals": """
        SELECT state, currency, oldest_due_date FROM (
            SELECT state, currency, oldest_due_date, SUM(plans) n, SUM(principal) p, SUM(balance_due) b
            FROM plans_planqueuetotal GROUP BY 1, 2, 3
            UNION ALL
            SELECT state, currency, oldest_due_date, -COUNT(*), -SUM(principal), -SUM(balance_due)
            FROM plans_plan GROUP BY 1, 2, 3) x
        GROUP BY 1, 2, 3 HAVING SUM(n) <> 0 OR SUM(p) <> 0 OR SUM(b) <> 0
    """,
    # A plan keeps what its invoices still owing owe, and the oldest due date among them (as an account).
    "I1 plan cache": """
        SELECT p.id, p.balance_due, COALESCE(o.s, 0), p.oldest_due_date, o.d
        FROM plans_plan p
        LEFT JOIN (SELECT plan_id, SUM(balance_due) s, MIN(due_date) d FROM invoices_invoice
                   WHERE plan_id IS NOT NULL AND state = 'open' AND payment_status IN ('unpaid', 'partially_paid')
                   GROUP BY 1) o ON o.plan_id = p.id
        WHERE p.balance_due <> COALESCE(o.s, 0) OR p.oldest_due_date IS DISTINCT FROM o.d
    """,
    "I1 entry journal per customer": """
        SELECT customer_id, currency, j.s, r.s
        FROM (SELECT customer_id, currency, SUM(amount) s FROM ledger_entry GROUP BY 1, 2) j
        FULL JOIN (SELECT customer_id, currency, SUM(owed) s FROM (
                       SELECT customer_id, currency, total AS owed FROM invoices_invoice WHERE state = 'open'
                       UNION ALL
                       SELECT i.customer_id, i.currency, -c.amount
                       FROM invoices_creditnote c JOIN invoices_invoice i ON i.id = c.invoice_id
                       WHERE i.state = 'open'
                       UNION ALL
                       SELECT customer_id, currency, -amount FROM payments_payment
                       WHERE state IN ('settled', 'charged_back')
                       UNION ALL
                       SELECT p.customer_id, p.currency, r.amount
                       FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
                       WHERE p.state IN ('settled', 'charged_back')
                       UNION ALL
                       SELECT p.customer_id, p.currency, c.amount
                       FROM payments_chargeback c JOIN payments_payment p ON p.id = c.payment_id
                       WHERE p.state IN ('settled', 'charged_back')) o
                   GROUP BY 1, 2) r USING (customer_id, currency)
        WHERE COALESCE(j.s, 0) <> COALESCE(r.s, 0)
    """,
    "I1 entry journal per account": """
        SELECT account_id, j.s, r.s
        FROM (SELECT account_id, SUM(amount) s FROM ledger_entry WHERE account_id IS NOT NULL GROUP BY 1) j
        FULL JOIN (SELECT account_id, SUM(owed) s FROM (
                       SELECT account_id, total AS owed FROM invoices_invoice WHERE state = 'open'
                       UNION ALL
                       SELECT i.account_id, -c.amount
                       FROM invoices_creditnote c JOIN invoices_invoice i ON i.id = c.invoice_id
                       WHERE i.state = 'open') o
                   GROUP BY 1) r USING (account_id)
        WHERE COALESCE(j.s, 0) <> COALESCE(r.s, 0)
    """,
    "I5 entry party differs from its source": """
        SELECT e.id, e.kind FROM ledger_entry e
        LEFT JOIN invoices_creditnote cn ON cn.id = e.credit_note_id
        LEFT JOIN invoices_invoice i ON i.id = COALESCE(e.invoice_id, cn.invoice_id)
        LEFT JOIN payments_refund r ON r.id = e.refund_id
        LEFT JOIN payments_chargeback c ON c.id = e.chargeback_id
        LEFT JOIN payments_payment p ON p.id = COALESCE(e.payment_id, r.payment_id, c.payment_id)
        WHERE (e.customer_id, e.currency, e.account_id) IS DISTINCT FROM
              (COALESCE(i.customer_id, p.customer_id), COALESCE(i.currency, p.currency), i.account_id)
    """,
    "I1 order line quantities": """
        SELECT l.id, l.invoiced_quantity, COALESCE(b.q, 0) - COALESCE(r.q, 0), l.invoiceable_quantity
        FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
        LEFT JOIN (SELECT il.order_line_id, SUM(il.quantity) q FROM invoices_invoiceline il
                   JOIN invoices_invoice i ON i.id = il.invoice_id
                   WHERE i.state <> 'void' AND il.order_line_id IS NOT NULL GROUP BY 1) b ON b.order_line_id = l.id
        LEFT JOIN (SELECT il.order_line_id, SUM(cl.quantity) q FROM invoices_creditnoteline cl
                   JOIN invoices_creditnote cn ON cn.id = cl.credit_note_id
                   JOIN invoices_invoiceline il ON il.id = cl.invoice_line_id
                   JOIN invoices_invoice i ON i.id = il.invoice_id
                   WHERE cn.reopen_quantity AND i.state <> 'void' GROUP BY 1) r ON r.order_line_id = l.id
        WHERE l.invoiced_quantity <> COALESCE(b.q, 0) - COALESCE(r.q, 0)
           OR l.invoiceable_quantity <> (CASE WHEN o.invoicing = 'delivered'
                                              THEN LEAST(l.delivered_quantity, l.quantity - l.canceled_quantity)
                                              ELSE l.quantity - l.canceled_quantity END) - l.invoiced_quantity
    """,
    "I9 order line invoiced beyond what may be invoiced": """
        SELECT l.id, l.quantity, l.delivered_quantity, l.canceled_quantity, l.invoiced_quantity, o.invoicing
        FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
        WHERE l.invoiced_quantity > (CASE WHEN o.invoicing = 'delivered'
                                          THEN LEAST(l.delivered_quantity, l.quantity - l.canceled_quantity)
                                          ELSE l.quantity - l.canceled_quantity END)
           OR l.invoiced_quantity < 0
    """,
    "I9 credited more quantity than invoiced": """
        SELECT il.id, il.quantity, SUM(cl.quantity) FROM invoices_creditnoteline cl
        JOIN invoices_invoiceline il ON il.id = cl.invoice_line_id
        GROUP BY il.id, il.quantity HAVING SUM(cl.quantity) > il.quantity
    """,
    "I1 credit note lines add up to the credit note": """
        SELECT cn.id, cn.amount, SUM(cl.amount) FROM invoices_creditnote cn
        JOIN invoices_creditnoteline cl ON cl.credit_note_id = cn.id
        GROUP BY cn.id, cn.amount HAVING SUM(cl.amount) <> cn.amount
    """,
    "I1 order figures": """
        SELECT o.id, o.invoiced_total, COALESCE(i.net, 0), o.paid_total, COALESCE(i.paid, 0), o.balance_due
        FROM orders_order o
        LEFT JOIN (SELECT order_id, SUM(total - credited_total) net, SUM(paid_total) paid FROM invoices_invoice
                   WHERE state = 'open' AND order_id IS NOT NULL GROUP BY 1) i ON i.order_id = o.id
        WHERE o.invoiced_total <> COALESCE(i.net, 0) OR o.paid_total <> COALESCE(i.paid, 0)
           OR o.balance_due <> o.invoiced_total - o.paid_total
    """,
    "I2 order statuses": """
        SELECT id, billing_status, b, payment_status, p, state, s FROM (
            SELECT o.id, o.billing_status, o.payment_status, o.state, x.b, x.p,
                   CASE WHEN o.state = 'canceled' THEN 'canceled'
                        WHEN x.b = 'invoiced' AND x.p = 'paid' THEN 'closed' ELSE 'open' END s
            FROM orders_order o
            CROSS JOIN LATERAL (
                SELECT b, CASE
                    WHEN b = 'not_invoiced' AND o.invoiced_total = 0 AND o.paid_total = 0 THEN 'unpaid'
                    WHEN o.paid_total > o.invoiced_total THEN 'overpaid'
                    WHEN o.paid_total = o.invoiced_total THEN 'paid'
                    WHEN o.paid_total = 0 THEN 'unpaid'
                    ELSE 'partially_paid' END p
                FROM (SELECT CASE
                    WHEN NOT COALESCE(bool_or(l.invoiced_quantity > 0), false) THEN 'not_invoiced'
                    WHEN COALESCE(bool_and(l.invoiced_quantity >= l.quantity - l.canceled_quantity), true)
                        THEN 'invoiced'
                    ELSE 'partially_invoiced' END b
                    FROM orders_orderline l WHERE l.order_id = o.id) lines) x) q
        WHERE billing_status <> b OR payment_status <> p OR state <> s
    """,
    "I5 order invoice party differs from its order": """
        SELECT i.id, i.order_id FROM invoices_invoice i JOIN orders_order o ON o.id = i.order_id
        WHERE (i.customer_id, i.provider_id, i.currency, i.account_id)
              IS DISTINCT FROM (o.customer_id, o.provider_id, o.currency, o.account_id)
        UNION ALL
        SELECT il.id, l.order_id FROM invoices_invoiceline il JOIN orders_orderline l ON l.id = il.order_line_id
        JOIN invoices_invoice i ON i.id = il.invoice_id WHERE i.order_id IS DISTINCT FROM l.order_id
    """,
    "I3 pair net negative": """
        SELECT payment_id, invoice_id, SUM(amount) FROM allocations_allocation
        GROUP BY 1, 2 HAVING SUM(amount) < 0
    """,
    "I5 party mismatch": """
        SELECT a.id FROM allocations_allocation a
        JOIN payments_payment p ON p.id = a.payment_id
        JOIN invoices_invoice i ON i.id = a.invoice_id
        WHERE p.customer_id <> i.customer_id OR p.currency <> i.currency
    """,
    "I4 overpaid without a credit note": """
        SELECT i.id, i.paid_total, i.total, i.credited_total FROM invoices_invoice i
        WHERE i.payment_status = 'overpaid'
          AND NOT EXISTS (SELECT 1 FROM invoices_creditnote c WHERE c.invoice_id = i.id)
    """,
    "I4 overallocated without a chargeback or refund": """
        SELECT p.id, p.allocated_total, p.amount FROM payments_payment p
        WHERE p.allocation_status = 'overallocated'
          AND NOT EXISTS (SELECT 1 FROM payments_chargeback c WHERE c.payment_id = p.id)
          AND NOT EXISTS (SELECT 1 FROM payments_refund r WHERE r.payment_id = p.id)
    """,
    "lifecycle: void or draft invoice keeps money": """
        SELECT id, state, paid_total FROM invoices_invoice WHERE state IN ('void', 'draft') AND paid_total <> 0
    """,
    "lifecycle: canceled or pending payment keeps allocations": """
        SELECT id, state, allocated_total FROM payments_payment
        WHERE state IN ('canceled', 'pending') AND allocated_total <> 0
    """,
    "lifecycle: draft invoice with a number or ledger rows": """
        SELECT i.id FROM invoices_invoice i
        WHERE i.state = 'draft' AND (i.number IS NOT NULL
            OR EXISTS (SELECT 1 FROM allocations_allocation a WHERE a.invoice_id = i.id)
            OR EXISTS (SELECT 1 FROM invoices_creditnote c WHERE c.invoice_id = i.id))
    """,
    "I6 amount finer than the currency's minor unit": """
        SELECT 'invoice', id, currency FROM invoices_invoice
        WHERE {finer(currency, total)} OR {finer(currency, credited_total)} OR {finer(currency, paid_total)}
        UNION ALL
        SELECT 'payment', id, currency FROM payments_payment
        WHERE {finer(currency, amount)} OR {finer(currency, refunded_total)}
           OR {finer(currency, charged_back_total)} OR {finer(currency, allocated_total)}
        UNION ALL
        SELECT 'line', l.id, i.currency FROM invoices_invoiceline l JOIN invoices_invoice i ON i.id = l.invoice_id
        WHERE {finer(i.currency, l.amount)} OR {finer(i.currency, l.unit_price)}
        UNION ALL
        SELECT 'allocation', a.id, p.currency
        FROM allocations_allocation a JOIN payments_payment p ON p.id = a.payment_id
        WHERE {finer(p.currency, a.amount)}
        UNION ALL
        SELECT 'refund', r.id, p.currency FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
        WHERE {finer(p.currency, r.amount)}
        UNION ALL
        SELECT 'chargeback', c.id, p.currency FROM payments_chargeback c JOIN payments_payment p ON p.id = c.payment_id
        WHERE {finer(p.currency, c.amount)}
        UNION ALL
        SELECT 'credit note', c.id, i.currency FROM invoices_creditnote c JOIN invoices_invoice i ON i.id = c.invoice_id
        WHERE {finer(i.currency, c.amount)}
    """,
    # Plans (DESIGN.md section 10): paid off exactly when every open installment and penalty of
    # the plan owes nothing by the ledger's sums; canceled stays canceled.
    "I2 plan state": """
        SELECT p.id, p.state FROM plans_plan p
        LEFT JOIN (SELECT i.plan_id, COUNT(*) FILTER (WHERE i.plan_sequence IS NOT NULL) n,
                          bool_and(i.total - COALESCE(c.s, 0) - COALESCE(a.s, 0) <= 0) all_paid
                   FROM invoices_invoice i
                   LEFT JOIN (SELECT invoice_id, SUM(amount) s FROM invoices_creditnote GROUP BY 1) c
                          ON c.invoice_id = i.id
                   LEFT JOIN (SELECT invoice_id, SUM(amount) s FROM allocations_allocation GROUP BY 1) a
                          ON a.invoice_id = i.id
                   WHERE i.state = 'open' AND i.plan_id IS NOT NULL GROUP BY 1) x ON x.plan_id = p.id
        WHERE p.state <> CASE WHEN p.state = 'canceled' THEN 'canceled'
                              WHEN COALESCE(x.n, 0) > 0 AND COALESCE(x.all_paid, true) THEN 'paid_off'
                              ELSE 'active' END
    """,
    # I11 at rest: a penalty names an installment of its own plan, and no installment has two
    # penalty invoices for one period and revision (the unique constraint's backstop, checked anyway).
    "I11 penalty links": """
        SELECT pen.id FROM invoices_invoice pen JOIN invoices_invoice inst ON inst.id = pen.installment_id
        WHERE pen.kind <> 'penalty' OR inst.kind <> 'installment' OR pen.plan_id IS DISTINCT FROM inst.plan_id
           OR pen.customer_id <> inst.customer_id OR pen.account_id <> inst.account_id
        UNION ALL
        SELECT MIN(id) FROM invoices_invoice WHERE installment_id IS NOT NULL
        GROUP BY installment_id, penalty_period, penalty_revision HAVING COUNT(*) > 1
    """,
    # I10: a workshop never has more confirmed registrations than seats; its caches (seats taken,
    # wait list length) equal its rows, and the wait list is numbered 1..n without gaps.
    "I10 workshop over capacity or seat caches off": """
        SELECT w.id, w.capacity, w.seats_taken, COALESCE(r.confirmed, 0), w.waitlist_length, COALESCE(r.waiting, 0)
        FROM registrations_workshop w
        LEFT JOIN (SELECT workshop_id, count(*) FILTER (WHERE status = 'confirmed') confirmed,
                          count(*) FILTER (WHERE status = 'waitlisted') waiting,
                          max(waitlist_position) last_position
                   FROM registrations_registration GROUP BY 1) r ON r.workshop_id = w.id
        WHERE COALESCE(r.confirmed, 0) > w.capacity OR w.seats_taken <> COALESCE(r.confirmed, 0)
           OR w.waitlist_length <> COALESCE(r.waiting, 0) OR COALESCE(r.last_position, 0) <> COALESCE(r.waiting, 0)
    """,
    # A confirmed seat's line is delivered (and was charged: its invoice may have been voided since,
    # its line then invoiceable again); a wait-listed one is neither delivered, charged nor canceled.
    "I10 registration line": """
        SELECT r.id, r.status, l.delivered_quantity, l.invoiced_quantity, l.canceled_quantity
        FROM registrations_registration r JOIN orders_orderline l ON l.id = r.order_line_id
        WHERE (r.status = 'confirmed' AND (l.delivered_quantity <> 1 OR r.invoice_id IS NULL))
           OR (r.status = 'waitlisted' AND (l.delivered_quantity <> 0 OR l.invoiced_quantity <> 0
                                            OR l.canceled_quantity <> 0))
    """,
    # I12 (DESIGN.md section 13): an entry is in one batch per profile, a batch counts its items, and
    # each batch's balance per account is its entries' sum on top of the account's closing in the
    # profile's latest earlier batch that had it (0 before); no balance without entries, none missing.
    "I12 export items": """
        SELECT 'item of another profile', i.id FROM exports_exportitem i
        JOIN exports_exportbatch b ON b.id = i.batch_id WHERE i.profile <> b.profile
        UNION ALL
        SELECT 'entry twice in one profile', MIN(i.id) FROM exports_exportitem i
        GROUP BY i.profile, i.entry_id HAVING COUNT(*) > 1
        UNION ALL
        SELECT 'item names no entry or batch', i.id FROM exports_exportitem i
        WHERE NOT EXISTS (SELECT 1 FROM ledger_entry e WHERE e.id = i.entry_id)
           OR NOT EXISTS (SELECT 1 FROM exports_exportbatch b WHERE b.id = i.batch_id)
        UNION ALL
        SELECT 'balance names no batch, customer or account', x.id FROM exports_exportbalance x
        WHERE NOT EXISTS (SELECT 1 FROM exports_exportbatch b WHERE b.id = x.batch_id)
           OR NOT EXISTS (SELECT 1 FROM billing_customer c WHERE c.id = x.customer_id)
           OR (x.account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM billing_account a WHERE a.id = x.account_id))
        UNION ALL
        SELECT 'item kind is not its entry kind', i.id FROM exports_exportitem i
        JOIN ledger_entry e ON e.id = i.entry_id WHERE i.kind <> e.kind
        UNION ALL
        SELECT 'entry count', b.id FROM exports_exportbatch b
        WHERE b.entry_count <> (SELECT COUNT(*) FROM exports_exportitem i WHERE i.batch_id = b.id)
    """,
    "I12 export balances": """
        SELECT COALESCE(m.batch_id, x.batch_id), COALESCE(m.customer_id, x.customer_id), m.account_id, m.delta, x.delta
        FROM (SELECT i.batch_id, e.customer_id, e.currency, e.account_id, SUM(e.amount) AS delta
              FROM exports_exportitem i JOIN ledger_entry e ON e.id = i.entry_id GROUP BY 1, 2, 3, 4) m
        FULL JOIN exports_exportbalance x
               ON x.batch_id = m.batch_id AND x.customer_id = m.customer_id AND x.currency = m.currency
              AND COALESCE(x.account_id, 0) = COALESCE(m.account_id, 0)
        WHERE m.delta IS DISTINCT FROM x.delta OR x.closing <> x.opening + x.delta
           OR x.profile <> (SELECT b.profile FROM exports_exportbatch b WHERE b.id = x.batch_id)
           OR x.opening <> COALESCE((
                SELECT p.closing FROM exports_exportbalance p JOIN exports_exportbatch pb ON pb.id = p.batch_id
                WHERE pb.profile = x.profile AND p.customer_id = x.customer_id AND p.currency = x.currency
                  AND COALESCE(p.account_id, 0) = COALESCE(x.account_id, 0)
                  AND pb.number < (SELECT b.number FROM exports_exportbatch b WHERE b.id = x.batch_id)
                ORDER BY pb.number DESC LIMIT 1), 0)
    """,
    "I7 append-only trigger missing": f"""
        SELECT t.table_name FROM (VALUES {", ".join(f"('{table}')" for table in LEDGER_TABLES)}) t(table_name)
        WHERE (SELECT count(*) FROM pg_trigger tr JOIN pg_class c ON c.oid = tr.tgrelid
               WHERE c.relname = t.table_name AND tr.tgname IN ('{APPEND_ONLY_TRIGGER}', '{NO_TRUNCATE_TRIGGER}')
                 AND tr.tgenabled = 'A') <> 2
    """,
}


def _finer_than_minor_unit(match: re.Match) -> str:
    """SQL that is true when an amount has more decimals than its currency allows (I6)."""
    currency, amount = match.group(1), match.group(2)
    places = " ".join(f"WHEN '{code}' THEN {n}" for code, n in sorted(MINOR_UNITS.items()) if n != 2)
    return f"({amount} <> round({amount}, CASE {currency} {places} ELSE 2 END))"


def check_sql() -> dict[str, str]:
    """Each check as plain SQL selecting its offending rows (the benchmark counts them all)."""
    return {
        name: re.sub(r"\{finer\(([\w.]+), ([\w.]+)\)\}", _finer_than_minor_unit, sql) for name, sql in CHECKS.items()
    }


def _one_query() -> str:
    """All checks in one round trip: (check name, offending row as text), at most 5 rows per check."""
    parts = []
    for name, sql in check_sql().items():
        quoted = name.replace("'", "''")
        parts.append(f"(SELECT '{quoted}', q::text FROM ({sql}) q LIMIT 5)")
    return "\nUNION ALL\n".join(parts)


_QUERY = _one_query()


def violations() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_QUERY)
        return [f"{name}: {row}" for name, row in cursor.fetchall()]


def assert_invariants() -> None:
    found = violations()
    assert not found, "invariants broken:\n" + "\n".join(found)
