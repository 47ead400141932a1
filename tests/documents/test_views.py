"""Document pages: roles, the Statement button, the snapshot frame, PDF, sending, the list's filters."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing.models import Account
from documents.models import Delivery, Document, DocumentPdf
from documents.services import issue_statement, send_document
from tests.documents.conftest import on
from tests.factories import CustomerFactory, make_invoice
from tests.support.actions import client_for, form_token, make_user, support, support_user  # noqa: F401
from tests.support.helpers import row_ids

pytestmark = pytest.mark.django_db

DEC_1 = datetime.date(2026, 12, 1)
NOV_30 = datetime.date(2026, 11, 30)


@pytest.fixture
def statement(customer, november):
    with on(DEC_1):
        return issue_statement(customer, as_of=NOV_30, by=None)


@pytest.fixture
def nobody(db):
    return client_for(make_user("nora.nobody"))


def test_a_user_without_a_role_reads_and_issues_nothing(nobody, statement, customer):
    for url in (
        reverse("documents:list"),
        reverse("documents:detail", args=[statement.pk]),
        reverse("documents:body", args=[statement.pk]),
    ):
        assert nobody.get(url).status_code == 403, url
    response = nobody.post(reverse("documents:issue_statement"), {"customer": customer.pk})
    assert response.status_code == 403 and Document.objects.count() == 1
    response = nobody.post(reverse("documents:send", args=[statement.pk]), {"to": "x@example.com"})
    assert response.status_code == 403 and not Delivery.objects.exists()


def test_support_issues_a_statement_from_the_account_page(support, customer, provider, november):  # noqa: F811
    account = Account.objects.get(customer=customer, provider=provider, currency="EUR")
    page = support.get(reverse("collections:account", args=[account.pk]))
    body = page.content.decode()
    assert 'action="/documents/statement/"' in body and ">Statement</button>" in body
    token = form_token(body.split('action="/documents/statement/"', 1)[1])
    response = support.post(
        reverse("documents:issue_statement"),
        {"form_token": token, "customer": customer.pk, "provider": provider.pk, "currency": "EUR"},
    )
    document = Document.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("documents:detail", args=[document.pk])
    assert (document.customer, document.provider, document.currency) == (customer, provider, "EUR")
    assert document.created_by.username == "sam.support"
    # Back and submit again: the token was used, nothing new is issued.
    support.post(
        reverse("documents:issue_statement"),
        {"form_token": token, "customer": customer.pk, "provider": provider.pk, "currency": "EUR"},
    )
    assert Document.objects.count() == 1


def test_the_page_frames_the_stored_body_under_its_own_narrow_policy(support, statement):  # noqa: F811
    page = support.get(reverse("documents:detail", args=[statement.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'<iframe class="document-frame" sandbox src="/documents/{statement.pk}/body/"' in body
    assert statement.sha256 in body and "Not sent yet." in body

    framed = support.get(reverse("documents:body", args=[statement.pk]))
    assert framed.content.decode() == statement.html
    policy = framed["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and "script-src" not in policy
    assert framed["X-Frame-Options"] == "SAMEORIGIN"
    # The staff page itself keeps the strict policy: no inline style there.
    assert "unsafe-inline" not in page["Content-Security-Policy"]


def test_download_pdf_makes_it_once_by_post_then_serves_the_stored_bytes(support, statement):  # noqa: F811
    pdf_url = reverse("documents:pdf", args=[statement.pk])
    assert support.get(pdf_url)["Location"] == reverse("documents:detail", args=[statement.pk])  # a GET never writes
    assert not DocumentPdf.objects.exists()
    page = support.get(reverse("documents:detail", args=[statement.pk])).content.decode()
    token = form_token(page.split(f'action="/documents/{statement.pk}/pdf/make/"', 1)[1])
    response = support.post(reverse("documents:make_pdf", args=[statement.pk]), {"form_token": token})
    assert response["Location"] == pdf_url
    download = support.get(pdf_url)
    assert download["Content-Type"] == "application/pdf" and download.content.startswith(b"%PDF")
    assert f'filename="{statement.number}.pdf"' in download["Content-Disposition"]
    assert download.content == bytes(DocumentPdf.objects.get(document=statement).pdf)
    assert "Download PDF</a>" in support.get(reverse("documents:detail", args=[statement.pk])).content.decode()


def test_send_by_email_prefills_the_address_and_records_the_delivery(
    support,  # noqa: F811
    statement,
    customer,
    django_capture_on_commit_callbacks,
):
    page = support.get(reverse("documents:detail", args=[statement.pk])).content.decode()
    assert f'value="{customer.email}"' in page
    token = form_token(page.split(f'action="/documents/{statement.pk}/send/"', 1)[1])
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            reverse("documents:send", args=[statement.pk]), {"form_token": token, "to": customer.email}
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == [customer.email] and message.body == statement.html
    delivery = Delivery.objects.get()
    assert (delivery.result, delivery.sha256) == ("ok", statement.sha256)
    page = support.get(response["Location"]).content.decode()
    assert f"{statement.number} sent to {customer.email}." in page and f'data-id="{delivery.pk}"' in page


def test_a_bad_address_is_shown_on_the_form_and_nothing_is_sent(support, statement):  # noqa: F811
    page = support.get(reverse("documents:detail", args=[statement.pk])).content.decode()
    token = form_token(page.split(f'action="/documents/{statement.pk}/send/"', 1)[1])
    response = support.post(reverse("documents:send", args=[statement.pk]), {"form_token": token, "to": "nope"})
    assert response.status_code == 400 and "Not sent" in response.content.decode()
    assert not Delivery.objects.exists() and not mail.outbox


def test_what_changed_since_shows_todays_balance_beside_the_printed_one(
    support,  # noqa: F811
    statement,
    customer,
    provider,
):
    make_invoice(customer=customer, provider=provider, total="60.00", issue_date=DEC_1)
    page = support.get(reverse("documents:detail", args=[statement.pk])).content.decode()
    row = page.split('data-currency="EUR"', 1)[1].split("</tr>", 1)[0]
    assert "140.00 EUR" in row and "200.00 EUR" in row and "60.00 EUR" in row
    assert '<td class="num">1</td>' in row  # one entry written since: the new invoice


def test_the_list_filters_by_kind_customer_dates_and_delivery(
    support,  # noqa: F811
    statement,
    customer,
    django_capture_on_commit_callbacks,
):
    other = issue_statement(CustomerFactory(name="Grace Hopper"), by=None)
    with django_capture_on_commit_callbacks(execute=True):
        send_document(statement, by=None)

    def listed(query: str = "") -> list[int]:
        return row_ids(support.get(reverse("documents:list") + query))

    assert listed() == [other.pk, statement.pk]  # newest first
    assert listed("?kind=statement") == [other.pk, statement.pk]
    assert listed("?kind=reminder") == []
    assert listed("?customer=lovelace") == [statement.pk]
    assert listed("?customer=hopper") == [other.pk]
    assert listed("?delivered=yes") == [statement.pk]
    assert listed("?delivered=no") == [other.pk]
    assert listed("?issued_from=2026-12-02") == [other.pk]  # the statement was issued on Dec 1
    assert listed("?issued_to=2026-12-01") == [statement.pk]
    assert support.get(reverse("documents:list") + "?kind=bogus").status_code == 200  # errors shown, not a crash


def test_support_sends_the_reminder_an_account_is_due_from_the_customer_page(support, customer, provider):  # noqa: F811
    """The customer page's Reminder button issues the level run_dunning would send now, once per level."""
    today = timezone.localdate()
    make_invoice(
        customer=customer,
        provider=provider,
        total="100.00",
        issue_date=today - datetime.timedelta(days=38),
        due_date=today - datetime.timedelta(days=8),  # level 1 is due at 7 days
    )
    account = Account.objects.get(customer=customer, provider=provider, currency="EUR")

    def press():
        body = support.get(reverse("customer", args=[customer.pk])).content.decode()
        assert 'action="/documents/reminder/"' in body
        token = form_token(body.split('action="/documents/reminder/"', 1)[1])
        return support.post(reverse("documents:issue_reminder"), {"form_token": token, "account": account.pk})

    response = press()
    (letter,) = Document.objects.filter(kind="reminder")
    assert response.status_code == 302 and response["Location"] == reverse("documents:detail", args=[letter.pk])
    assert (letter.level, letter.account, letter.created_by.username) == (1, account, "sam.support")
    refused = press()  # level 1 was sent in this cycle; level 2 is not due before 21 days
    assert refused.status_code == 400 and "is due no reminder today" in refused.content.decode()
    assert Document.objects.filter(kind="reminder").count() == 1
