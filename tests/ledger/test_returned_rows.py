"""The allocation rows allocate_many returns are the rows it wrote, ready to use.

ledger.core.append_allocations builds them from the INSERT's values instead of reading them
back; callers (the API's answer, the allocate page's message) read their fields and their
payment, invoice and clerk. A row built wrong, or one that reads its relations again, would
only show as a wrong or slow answer.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from allocations.models import Allocation
from allocations.services import allocate_many
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db


def test_the_returned_rows_are_the_rows_written_with_their_relations_at_hand(
    customer, provider, clerk, django_assert_num_queries
):
    first = make_invoice(customer=customer, provider=provider, total="100.00")
    second = make_invoice(customer=customer, provider=provider, total="80.00")
    payment = make_payment(customer=customer, amount="150.00")

    rows = allocate_many(payment, [(first, "100.00"), (second, "50.00")], by=clerk, note="two invoices")

    stored = Allocation.objects.filter(pk__in=[row.pk for row in rows]).order_by("pk")
    fields = [field.name for field in Allocation._meta.concrete_fields]
    assert [model_to_dict(row, fields) for row in rows] == [model_to_dict(row, fields) for row in stored]
    assert [(row.amount, row.reason) for row in rows] == [
        (Decimal("100.00"), "two invoices"),
        (Decimal("50.00"), "two invoices"),
    ]
    assert [row.created_at for row in rows] == [row.created_at for row in stored]
    with django_assert_num_queries(0):
        assert [(row.payment.pk, row.invoice.pk, row.created_by) for row in rows] == [
            (payment.pk, first.pk, clerk),
            (payment.pk, second.pk, clerk),
        ]
    # Bound to the database they were written to (a replica router must not read their relations elsewhere).
    assert {row._state.db for row in rows} == {connection.alias}
    assert not any(row._state.adding for row in rows)
