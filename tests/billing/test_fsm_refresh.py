"""refresh_from_db must not unprotect the status fields for other threads (billing/fsm.py)."""

import pytest
from django.db import connection

from invoices.models import Invoice
from payments.models import Payment
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model, field", [(Invoice, "payment_status"), (Payment, "allocation_status")])
def test_refresh_keeps_the_field_protected_while_it_reloads(model, field, customer, provider):
    row = make_invoice(customer=customer, provider=provider) if model is Invoice else make_payment(customer=customer)
    flags = []

    def watch(execute, sql, params, many, context):
        flags.append(model._meta.get_field(field).protected)
        return execute(sql, params, many, context)

    model.objects.filter(pk=row.pk).update(**{field: "overpaid" if model is Invoice else "overallocated"})
    with connection.execute_wrapper(watch):
        row.refresh_from_db()

    assert flags == [True]
    assert getattr(row, field) == ("overpaid" if model is Invoice else "overallocated")
    with pytest.raises(AttributeError):
        setattr(row, field, "paid")


def test_refresh_of_some_fields_and_of_a_deferred_status(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="80.00")
    invoice.refresh_from_db(fields=["total"])
    assert invoice.payment_status == "unpaid"
    deferred = Invoice.objects.only("id").get(pk=invoice.pk)
    assert deferred.payment_status == "unpaid"
    deferred.refresh_from_db()
    assert deferred.get_deferred_fields() == {f.attname for f in Invoice._meta.concrete_fields} - {"id", "payment_status"}
