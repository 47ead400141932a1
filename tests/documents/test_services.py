"""issue_statement, render_document and render_pdf on the worked example (tests/documents/conftest.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from allocations.services import allocate_many
from billing.errors import InvalidInput
from documents.models import Document, DocumentKind, DocumentPdf
from documents.services import issue_statement, render_document, render_pdf, sha256_of
from ledger.models import Entry
from tests.documents.conftest import moment, on
from tests.factories import ProviderFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db

DEC_1 = datetime.date(2026, 12, 1)
NOV_30 = datetime.date(2026, 11, 30)


def lines(section) -> list[tuple]:
    return [(line["date"], line["kind"], line["amount"], line["balance"]) for line in section["lines"]]


def test_a_month_prints_every_line_with_its_running_balance(customer, provider, november, clerk):
    with on(DEC_1):
        document = issue_statement(customer, as_of=NOV_30, by=clerk)

    assert document.kind == DocumentKind.STATEMENT and document.number.startswith("ST-")
    assert document.period_start == datetime.date(2026, 11, 1)  # the first day of as_of's month
    (section,) = document.figures["sections"]
    assert section["currency"] == "EUR"
    assert section["opening"] == "50.00"  # invoice A, October
    assert lines(section) == [
        ("2026-11-03", "invoice", "200.00", "250.00"),
        ("2026-11-10", "payment", "-100.00", "150.00"),
        ("2026-11-15", "credit_note", "-30.00", "120.00"),
        ("2026-11-20", "refund", "20.00", "140.00"),
    ]
    assert section["closing"] == "140.00"
    assert [line["description"] for line in section["lines"]] == [
        f"Invoice {november['b'].number}, due 2026-12-03",
        f"Payment {november['payment']} received",
        f"Credit note on invoice {november['b'].number}: Broken tile",
        f"Refund of payment {november['payment']}",
    ]
    # Open items on the issue day: A (due 2026-11-19, 12 days past due) and B's 90.00 left.
    items = [
        (i["number"], i["due_date"], i["days_past_due"], i["balance_due"], i["bucket"]) for i in section["open_items"]
    ]
    assert items == [
        (november["a"].number, "2026-11-19", 12, "50.00", "d1_30"),
        (november["b"].number, "2026-12-03", 0, "90.00", "current"),
    ]
    assert {b["key"]: b["amount"] for b in section["aging"]} == {
        "current": "90.00",
        "d1_30": "50.00",
        "d31_60": "0.00",
        "d61_90": "0.00",
        "d90_plus": "0.00",
    }
    assert section["open_total"] == section["closing"]  # nothing unapplied is left: they agree
    assert document.journal_position == Entry.objects.filter(customer=customer).latest("id").pk
    assert document.created_by == clerk
    html = document.html
    assert "140.00 EUR" in html and "Opening balance" in html and november["b"].number in html


def test_a_provider_statement_shows_payments_as_applied_to_its_invoices(customer, provider, november):
    """Payments belong to the customer: the provider's statement shows the 80.00 applied to its
    invoice, not the 100.00 received nor the refund of the unapplied 20.00."""
    with on(DEC_1):
        document = issue_statement(customer, provider=provider, currency="EUR", as_of=NOV_30, by=None)
    (section,) = document.figures["sections"]
    assert section["opening"] == "50.00"
    assert lines(section) == [
        ("2026-11-03", "invoice", "200.00", "250.00"),
        ("2026-11-10", "allocation", "-80.00", "170.00"),
        ("2026-11-15", "credit_note", "-30.00", "140.00"),
    ]
    assert section["closing"] == "140.00" == section["open_total"]
    assert document.figures["provider"] == {"name": provider.name, "code": provider.code}


def test_one_section_per_currency_and_nothing_of_other_customers(customer, provider, november):
    with on(DEC_1):
        make_invoice(customer=customer, provider=provider, total="7000", currency="JPY", issue_date=NOV_30)
        make_invoice(provider=ProviderFactory(), total="999.00", issue_date=NOV_30)  # someone else's
        document = issue_statement(customer, as_of=NOV_30, by=None)
    sections = {s["currency"]: s for s in document.figures["sections"]}
    assert list(sections) == ["EUR", "JPY"]
    assert sections["EUR"]["closing"] == "140.00"
    assert sections["JPY"]["opening"] == "0.00" and sections["JPY"]["closing"] == "7000.00"
    assert "7,000 JPY" in document.html


def test_re_rendering_the_stored_figures_gives_the_stored_sha256(customer, provider, november):
    with on(DEC_1):
        issued = issue_statement(customer, as_of=NOV_30, by=None)
    stored = Document.objects.get(pk=issued.pk)  # the figures as JSON gave them back
    assert stored.sha256 == sha256_of(stored.html)
    assert render_document(stored) == stored.html
    # The books move on; the document does not.
    with on(DEC_1):
        make_invoice(customer=customer, provider=provider, total="10.00", issue_date=NOV_30)
    assert sha256_of(render_document(Document.objects.get(pk=issued.pk))) == issued.sha256


def test_numbers_are_per_kind_and_unique(customer, november):
    with on(DEC_1):
        first = issue_statement(customer, as_of=NOV_30, by=None)
        second = issue_statement(customer, as_of=NOV_30, by=None)
    assert first.number != second.number
    assert int(second.number.removeprefix("ST-")) > int(first.number.removeprefix("ST-"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"currency": "XXX"}, "not a currency"),
        ({"as_of": datetime.date(2026, 12, 2)}, "after today"),
        ({"period_start": datetime.date(2026, 12, 1), "as_of": NOV_30}, "after its end"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(customer, kwargs, message):
    with on(DEC_1), pytest.raises(InvalidInput, match=message):
        issue_statement(customer, by=None, **kwargs)
    assert not Document.objects.exists()


def test_documents_are_append_only(customer, november):
    with on(DEC_1):
        document = issue_statement(customer, as_of=NOV_30, by=None)
    render_pdf(document)
    for sql in (
        "UPDATE documents_document SET html = 'forged'",
        "DELETE FROM documents_document",
        "UPDATE documents_documentpdf SET pdf = 'x'",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert Document.objects.get(pk=document.pk).html == document.html


def test_the_pdf_is_made_from_the_html_once_and_stored(customer, november):
    with on(DEC_1):
        document = issue_statement(customer, as_of=NOV_30, by=None)
    assert document.pdf is None  # made when asked
    pdf = render_pdf(document)
    assert pdf.startswith(b"%PDF")
    assert render_pdf(Document.objects.get(pk=document.pk)) == pdf  # stored, not made again
    assert DocumentPdf.objects.filter(document=document).count() == 1
    assert Document.objects.get(pk=document.pk).pdf == pdf


def test_a_payment_split_over_two_providers_shows_only_each_ones_part(customer, provider, other_provider):
    with on(datetime.date(2026, 11, 5)):
        acme = make_invoice(customer=customer, provider=provider, total="70.00", issue_date=datetime.date(2026, 11, 5))
        bolt = make_invoice(
            customer=customer, provider=other_provider, total="50.00", issue_date=datetime.date(2026, 11, 5)
        )
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(datetime.date(2026, 11, 5)))
        allocate_many(payment, [(acme, Decimal("70.00")), (bolt, Decimal("30.00"))], by=None)
    with on(DEC_1):
        for_acme = issue_statement(customer, provider=provider, as_of=NOV_30, by=None)
        for_bolt = issue_statement(customer, provider=other_provider, as_of=NOV_30, by=None)
        whole = issue_statement(customer, as_of=NOV_30, by=None)
    assert lines(for_acme.figures["sections"][0]) == [
        ("2026-11-05", "invoice", "70.00", "70.00"),
        ("2026-11-05", "allocation", "-70.00", "0.00"),
    ]
    assert lines(for_bolt.figures["sections"][0])[-1] == ("2026-11-05", "allocation", "-30.00", "20.00")
    assert whole.figures["sections"][0]["closing"] == "20.00"  # 120 charged, 100 paid


def test_an_outer_transaction_keeps_its_isolation(customer, november):
    """Inside a caller's transaction the statement reads in it (SET TRANSACTION only opens one)."""
    with on(DEC_1), transaction.atomic():
        document = issue_statement(customer, as_of=NOV_30, by=None)
    assert document.figures["sections"][0]["closing"] == "140.00"


@pytest.mark.django_db(transaction=True)
def test_issued_outside_a_transaction_it_reads_one_snapshot(customer, provider):
    """The pages call issue_statement outside any transaction: it opens one in REPEATABLE READ
    (which PostgreSQL accepts only as the transaction's first statement)."""
    make_invoice(customer=customer, provider=provider, total="10.00", issue_date=datetime.date(2026, 11, 5))
    document = issue_statement(customer, by=None)
    assert document.figures["sections"][0]["closing"] == "10.00"
