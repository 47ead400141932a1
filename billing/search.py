"""Customer search: accents, apostrophe variants, references, phone numbers and emails.

One definition for every customer search box (the invoice, payment and collections
filters and the customer picker). The SQL functions and the GIN index that serves
them are installed by billing/migrations/0005_customer_search.py, which explains the
folding; here they are only called, so the expression matches the index.
"""

from __future__ import annotations

from django.db.models import BooleanField, F, Func, QuerySet, Value
from django.db.models.fields import TextField


class CustomerDocument(Func):
    """settle_customer_document(name, email, phone, reference): the indexed search words."""

    function = "settle_customer_document"
    output_field = TextField()  # a tsvector; only ever compared with @@

    def __init__(self, prefix: str = "", **extra):
        super().__init__(
            *(F(f"{prefix}{field}") for field in ("name", "email", "phone", "reference")),
            **extra,
        )


class CustomerQuery(Func):
    function = "settle_customer_query"
    output_field = TextField()  # a tsquery


class Matches(Func):
    """document @@ query."""

    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    output_field = BooleanField()


def customer_matches(text: str) -> Matches:
    """A filter expression on Customer: what the clerk typed matches the customer's name (any
    accents or apostrophes), email, reference or phone number (digits only, start or end)."""
    return Matches(CustomerDocument(), CustomerQuery(Value(text, output_field=TextField())))


def search_customers(queryset: QuerySet, text: str) -> QuerySet:
    """Customers of `queryset` matching `text`; all of them when it is blank."""
    text = (text or "").strip()
    return queryset.filter(customer_matches(text)) if text else queryset


def customer_search(queryset: QuerySet, text: str, *, path: str = "customer") -> QuerySet:
    """Rows of `queryset` whose customer (at `path`) matches `text`, through a subquery on
    customers served by customer_search_idx (the lists' customer filter)."""
    from billing.models import Customer

    matching = search_customers(Customer.objects.all(), text).values("pk")
    return queryset.filter(**{f"{path}__in": matching})
