"""Reloading an invoice or payment must not depend on state shared between threads.

Regression: django-fsm's FSMModelMixin.refresh_from_db switched `protected` off on
the FSM *field* (shared by all threads) while reloading. Under a threaded server a
concurrent reload switched it back on mid-way and the service failed with
AttributeError("Direct state modification is not allowed") after committing; every
service reloads the caller's copy (sync_caller_copy), so any of them could fail.
"""

import pytest
from django.db import models

from invoices.models import Invoice
from invoices.services import void_invoice
from payments.models import Payment
from payments.services import cancel_payment
from tests.factories import make_invoice, make_payment


@pytest.mark.django_db
def test_reload_works_while_another_thread_reprotects_the_field(monkeypatch, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider)
    payment = make_payment(customer=customer)
    void_invoice(Invoice.objects.get(pk=invoice.pk), by=None, reason="Duplicate")
    cancel_payment(Payment.objects.get(pk=payment.pk), by=None, reason="Duplicate")
    reload = models.Model.refresh_from_db

    def reload_while_another_thread_finishes_its_own(self, *args, **kwargs):
        # What a concurrent FSMModelMixin.refresh_from_db does when it ends: protect the field again.
        for model, status in ((Invoice, "payment_status"), (Payment, "allocation_status")):
            for name in ("state", status):
                model._meta.get_field(name).protected = True
        return reload(self, *args, **kwargs)

    monkeypatch.setattr(models.Model, "refresh_from_db", reload_while_another_thread_finishes_its_own)
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.state, payment.state) == ("void", "canceled")
