"""The global search: what a clerk types in the navigation's search box.

One query per kind of thing, each served by an index and limited, so the box answers in
milliseconds at 1M rows whatever is typed:

- invoices by number prefix (ACME-0000…): the pattern index Django adds beside the
  unique index on number;
- payments by reference prefix, any case: payment_reference_upper_idx (UPPER(reference));
  and "P-123", the number the screens print, by primary key;
- orders by number prefix (O-ACME-0…), only when the text starts like one ("O-"): the
  pattern index beside the unique index on number;
- customers by name, email, reference or phone, accents and apostrophes folded: billing.search
  (customer_search_idx, the one definition every customer box uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from billing.models import Customer
from billing.search import search_customers
from invoices.models import Invoice
from orders.models import Order
from payments.models import Payment

DROPDOWN_LIMIT = 5
PAGE_LIMIT = 50
MIN_LENGTH = 2  # one letter matches a good part of a million customers: it finds nothing useful
PAYMENT_NUMBER = re.compile(r"^\s*p-?(\d{1,18})\s*$", re.IGNORECASE)
ORDER_NUMBER_START = "O-"  # every order number: O-<provider code>-<sequence>


@dataclass
class SearchResults:
    query: str
    customers: list[Customer] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    limit: int = DROPDOWN_LIMIT
    too_short: bool = False

    @property
    def empty(self) -> bool:
        return not (self.customers or self.invoices or self.orders or self.payments)

    @property
    def truncated(self) -> bool:
        """Some kind may have more matches than shown."""
        return any(len(found) >= self.limit for found in (self.customers, self.invoices, self.orders, self.payments))


# The planner guesses that a few hundred of 10k customers match any query, so for
# `WHERE document @@ query LIMIT 5` it prefers reading the table in order, computing every
# customer's document, until 5 match: fine when the word is common, ~0.5 s at 10k customers
# (~50 s at 1M) when nothing matches. A MATERIALIZED CTE is planned on its own, by its whole
# cost, so it always takes the GIN bitmap (customer_search_idx); the LIMIT outside it still
# stops the heap reads early, as the CTE is read lazily.
_CUSTOMERS_SQL = """
WITH matches (id) AS MATERIALIZED ({matching})
SELECT customer.* FROM billing_customer AS customer
JOIN (SELECT id FROM matches LIMIT %s) AS found ON found.id = customer.id
ORDER BY customer.name, customer.id
"""


def matching_customers(text: str, limit: int) -> list[Customer]:
    """Up to `limit` customers matching `text` (billing.search: one definition), by name."""
    matching = search_customers(Customer.objects.order_by(), text).values("pk")
    sql, params = matching.query.sql_with_params()
    return list(Customer.objects.raw(_CUSTOMERS_SQL.format(matching=sql), (*params, limit)))


def global_search(text: str, *, limit: int = DROPDOWN_LIMIT) -> SearchResults:
    query = (text or "").strip()
    results = SearchResults(query=query, limit=limit)
    if len(query) < MIN_LENGTH:
        results.too_short = bool(query)
        return results
    results.customers = matching_customers(query, limit)
    # Numbers are upper case (ACME-000042); a prefix walks the unique index.
    # No ORDER BY: ordered by number the planner walks the unique index in collation order,
    # filtering (137 ms at 100k invoices for "P04"); unordered it range-scans the pattern
    # index (varchar_pattern_ops), whose order is the numbers' byte order anyway.
    invoices = Invoice.objects.filter(number__startswith=query.upper()).select_related("customer").order_by()
    results.invoices = sorted(invoices[:limit], key=lambda invoice: invoice.number or "")
    if query.upper().startswith(ORDER_NUMBER_START):
        # Unordered, as the invoices above: a range scan of the pattern index, sorted here.
        orders = Order.objects.filter(number__startswith=query.upper()).select_related("customer").order_by()
        results.orders = sorted(orders[:limit], key=lambda order: order.number)
    payments = list(Payment.objects.filter(reference__istartswith=query).select_related("customer").order_by()[:limit])
    number = PAYMENT_NUMBER.match(query)
    if number:
        by_number = Payment.objects.filter(pk=int(number.group(1))).select_related("customer").first()
        if by_number is not None and by_number not in payments:
            payments.insert(0, by_number)
    results.payments = payments[:limit]
    return results
