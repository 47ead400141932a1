"""Issue 10 end to end: real banks' statements (tests/intake/samples/camt/README.md cites each
source) through the parser and the import, as a clerk would upload them, twice."""

from decimal import Decimal
from pathlib import Path

import pytest

from intake.importing import Outcome, import_statement
from intake.models import BankEntry, BankEntryStatus
from invoices.models import Invoice
from payments.models import Payment
from tests.factories import CustomerFactory, make_invoice
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent / "samples" / "camt"
SWISS = "postfinance_batch_camt053_v04.xml"
# The two creditor references (QR references) of the batch's two transactions.
FIRST_REF, SECOND_REF = "302388292000011111111111111", "302388292000022222222222222"


@pytest.fixture
def swiss_customers(db):
    first = CustomerFactory(name="Erste Kundin AG", reference=FIRST_REF)
    second = CustomerFactory(name="Zweiter Kunde GmbH", reference=SECOND_REF)
    return {
        "first": make_invoice(customer=first, total="2187.00", currency="CHF"),
        "second": make_invoice(customer=second, total="1296.00", currency="CHF"),
    }


def outcomes(report) -> list[tuple[str, str]]:
    return [(r.position, r.outcome) for r in report.results]


def test_a_batched_credit_pays_each_creditor_reference_its_own_part(swiss_customers):
    """Item 1: 3,483.00 CHF in one Ntry with two TxDtls: two payments, two invoices paid, nothing left over."""
    report = import_statement((SAMPLES / SWISS).read_bytes(), source_name=SWISS, by=None)
    assert outcomes(report) == [("entry 1.1", Outcome.RECORDED), ("entry 1.2", Outcome.RECORDED)]
    for key, amount in (("first", "2187.00"), ("second", "1296.00")):
        invoice = Invoice.objects.get(pk=swiss_customers[key].pk)
        assert invoice.payment_status == "paid"
        (payment,) = Payment.objects.filter(customer=invoice.customer)
        assert payment.amount == payment.allocated_total == Decimal(amount)
        assert payment.allocation_status == "fully_allocated"
    again = import_statement((SAMPLES / SWISS).read_bytes(), source_name=SWISS, by=None)
    assert outcomes(again) == [("entry 1.1", Outcome.ALREADY_IMPORTED), ("entry 1.2", Outcome.ALREADY_IMPORTED)]
    assert Payment.objects.count() == 2
    assert_invariants()


def test_a_batch_whose_parts_do_not_add_up_waits_for_a_clerk_and_records_nothing(swiss_customers):
    """Item 1: the parts say 2,187.00 + 1,000.00 but the bank booked 3,483.00: a clerk decides."""
    data = (SAMPLES / SWISS).read_bytes().replace(b'<Amt Ccy="CHF">1296.00</Amt>', b'<Amt Ccy="CHF">1000.00</Amt>')
    report = import_statement(data, source_name="changed.xml", by=None)
    assert outcomes(report) == [("entry 1", Outcome.NEEDS_REVIEW)]
    assert "batched entry does not add up" in report.results[0].message
    (entry,) = BankEntry.objects.all()
    assert entry.status == BankEntryStatus.NEEDS_REVIEW and entry.amount == Decimal("3483.00")
    assert entry.is_open and not Payment.objects.exists()


def test_a_statement_without_any_bank_reference_imports_once(db):
    """Item 2: the ABN AMRO layout names no AcctSvcrRef, NtryRef or usable EndToEndId; entries
    are kept under derived identities, and the second import records nothing."""
    data = (SAMPLES / "abnamro_camt053_v02.xml").read_bytes()
    first = import_statement(data, source_name="abnamro.xml", by=None)
    assert first.results and Outcome.REJECTED not in {r.outcome for r in first.results}
    stored = set(BankEntry.objects.values_list("bank_reference", flat=True))
    assert stored and all(reference.startswith("D:") for reference in stored)
    second = import_statement(data, source_name="abnamro-again.xml", by=None)
    assert {r.outcome for r in second.results} == {Outcome.ALREADY_IMPORTED}
    assert set(BankEntry.objects.values_list("bank_reference", flat=True)) == stored
