"""Fixtures for the bank statement tests: the customers and invoices the sample statements pay."""

import pytest

from billing.models import Provider
from tests.factories import CustomerFactory, ProviderFactory, make_invoice


def numbered(number: str, customer, total: str, currency: str = "EUR"):
    """An open invoice that gets exactly `number` (ACME-000042) from its provider's counter."""
    code, sequence = number.split("-")
    provider = Provider.objects.filter(code=code).first() or ProviderFactory(code=code, name=f"{code.title()} Ltd")
    Provider.objects.filter(pk=provider.pk).update(last_invoice_number=int(sequence) - 1)
    invoice = make_invoice(customer=customer, provider=provider, total=total, currency=currency)
    assert invoice.number == number
    return invoice


@pytest.fixture
def world(db):
    """The customers and invoices the sample statements pay."""
    w = {}
    w["acme"] = CustomerFactory(name="Acme Trading GmbH")
    w["bolt"] = CustomerFactory(name="Bolt Logistics, Inc.")
    w["cobalt"] = CustomerFactory(name="Cobalt & Sons Ltd", reference="RF18539007547034")
    w["echo"] = CustomerFactory(name="Echo Media SARL")
    w["fox"] = CustomerFactory(name="Foxtrot LLC")
    w["golf"] = CustomerFactory(name="Golf Partners AG")
    w["kilo"] = CustomerFactory(name="Kilo KK", reference="C-00077")
    w["ACME-000042"] = numbered("ACME-000042", w["acme"], "1250.00")
    w["ACME-000043"] = numbered("ACME-000043", w["cobalt"], "89.99", "GBP")
    w["ACME-000044"] = numbered("ACME-000044", w["kilo"], "5000", "JPY")
    w["BOLT-000007"] = numbered("BOLT-000007", w["bolt"], "100.00", "USD")
    w["BOLT-000008"] = numbered("BOLT-000008", w["bolt"], "110.50", "USD")
    w["BOLT-000009"] = numbered("BOLT-000009", w["bolt"], "100.00", "USD")
    w["ECHO-000120"] = numbered("ECHO-000120", w["echo"], "1500.00")
    w["ECHO-000121"] = numbered("ECHO-000121", w["echo"], "800.00")
    w["FOX-000003"] = numbered("FOX-000003", w["fox"], "15.50", "USD")
    w["GOLF-000077"] = numbered("GOLF-000077", w["golf"], "640.00")
    return w
