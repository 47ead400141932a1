"""The global search: what a clerk types in the navigation's search box.

One query per kind of thing, each served by an index and limited, so the box answers in
milliseconds at 1M rows whatever is typed:

- invoices by number prefix (ACME-0000…): the unique index on number (C collation);
- payments by reference prefix, any case: payment_reference_upper_idx (UPPER(reference));
  and "P-123", the number the screens print, by primary key;
- customers by name, email, reference or phone, accents and apostrophes folded: billing.search
  (customer_search_idx, the one definition every customer box uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from billing.models import Customer
from billing.search import search_customers
from invoices.models import Invoice
from payments.models import Payment

DROPDOWN_LIMIT = 5
PAGE_LIMIT = 50
MIN_LENGTH = 2  # one letter matches a good part of a million customers: it finds nothing useful
PAYMENT_NUMBER = re.compile(r"^\s*p-?(\d{1,18})\s*$", re.IGNORECASE)


@dataclass
class SearchResults:
    query: str
    customers: list[Customer] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    limit: int = DROPDOWN_LIMIT
    too_short: bool = False

    @property
    def empty(self) -> bool:
        return not (self.customers or self.invoices or self.payments)

    @property
    def truncated(self) -> bool:
        """Some kind may have more matches than shown."""
        return any(len(found) >= self.limit for found in (self.customers, self.invoices, self.payments))


def global_search(text: str, *, limit: int = DROPDOWN_LIMIT) -> SearchResults:
    query = (text or "").strip()
    results = SearchResults(query=query, limit=limit)
    if len(query) < MIN_LENGTH:
        results.too_short = bool(query)
        return results
    results.customers = list(search_customers(Customer.objects.order_by(), query)[:limit])
    results.customers.sort(key=lambda c: (c.name.casefold(), c.pk))
    # Numbers are upper case (ACME-000042); a prefix walks the unique index.
    results.invoices = list(
        Invoice.objects.filter(number__startswith=query.upper()).select_related("customer").order_by("number")[:limit]
    )
    payments = list(Payment.objects.filter(reference__istartswith=query).select_related("customer").order_by()[:limit])
    number = PAYMENT_NUMBER.match(query)
    if number:
        by_number = Payment.objects.filter(pk=int(number.group(1))).select_related("customer").first()
        if by_number is not None and by_number not in payments:
            payments.insert(0, by_number)
    results.payments = payments[:limit]
    return results
