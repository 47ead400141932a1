"""The statement upload page (finance only) and the clerks' list, through the Django test client."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from intake.models import BankEntry
from payments.models import Payment
from tests.factories import CustomerFactory, make_invoice
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent / "samples"


def upload(client, name="mixed.csv", **extra):
    data = {"statement": SimpleUploadedFile(name, (SAMPLES / name).read_bytes(), content_type="text/csv"), **extra}
    return client.post(reverse("imports:upload"), data)


@pytest.fixture
def kilo(db, provider):
    customer = CustomerFactory(name="Kilo KK", reference="C-00077")
    make_invoice(customer=customer, provider=provider, total="5000", currency="JPY")
    return customer


def test_finance_uploads_a_statement_and_sees_every_entry(client, kilo):
    client.force_login(user_with_role("finance"))
    assert client.get(reverse("imports:upload")).status_code == 200

    response = upload(client)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Imported mixed.csv" in html
    assert "NB240402-0101" in html and "5,000 JPY" in html and "(exact match of 1 invoice)" in html
    assert "line 5" in html and "more decimals than JPY allows" in html
    assert "1 recorded, 3 unidentified, 1 needs review, 2 rejected." in html
    assert Payment.objects.get(reference="NB240402-0101").customer == kilo


def test_dry_run_from_the_page_saves_nothing(client, kilo):
    client.force_login(user_with_role("finance"))
    response = upload(client, dry_run="on")
    assert "Dry run of mixed.csv" in response.content.decode()
    assert not BankEntry.objects.exists() and not Payment.objects.exists()


def test_unreadable_file_is_reported(client, db):
    client.force_login(user_with_role("finance"))
    response = upload(client, name="malformed.xml")
    assert "The file could not be read" in response.content.decode()
    assert "malformed XML at line 8" in response.content.decode()


def test_missing_file_redisplays_the_form(client, db):
    client.force_login(user_with_role("finance"))
    response = client.post(reverse("imports:upload"), {})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


@pytest.mark.parametrize("role", ["support", None])
def test_upload_is_finance_only(client, db, role):
    client.force_login(user_with_role(role))
    assert client.get(reverse("imports:upload")).status_code == 403
    assert upload(client).status_code == 403
    assert not BankEntry.objects.exists()


def test_superuser_may_upload(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get(reverse("imports:upload")).status_code == 200


def test_clerks_list_assign_and_dismiss(client, kilo):
    finance = user_with_role("finance")
    client.force_login(finance)
    upload(client)

    support = user_with_role("support")
    client.force_login(support)
    html = client.get(reverse("imports:entries")).content.decode()
    assert "NB240402-0102" in html and "Hotel Lima" in html and "no customer reference and no invoice number" in html
    assert "NB240404-0107" in html and "-70.00 EUR" in html
    assert "Assign</button>" not in html  # support reads, finance decides
    credit = BankEntry.objects.get(bank_reference="NB240402-0102")
    assert client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "C-00077"}).status_code == 403

    client.force_login(finance)
    assert "Assign</button>" in client.get(reverse("imports:entries")).content.decode()
    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "c-00077"}, follow=True)
    assert "NB240402-0102 recorded as P-" in response.content.decode()
    credit.refresh_from_db()
    assert credit.status == "resolved" and credit.payment.customer == kilo

    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "C-00077"}, follow=True)
    assert "already assigned by a clerk" in response.content.decode()
    other = BankEntry.objects.get(bank_reference="NB240403-0106")
    response = client.post(reverse("imports:assign", args=[other.pk]), {"customer": "nobody"}, follow=True)
    assert "No customer has the reference or id" in response.content.decode()

    reversal = BankEntry.objects.get(bank_reference="NB240404-0107")
    response = client.post(reverse("imports:dismiss", args=[reversal.pk]), {"reason": ""}, follow=True)
    assert "Give a reason to dismiss" in response.content.decode()
    client.post(reverse("imports:dismiss", args=[reversal.pk]), {"reason": "Bank error, reversed again"})
    reversal.refresh_from_db()
    assert reversal.status == "dismissed"
    listed = client.get(reverse("imports:entries")).context["entries"]
    assert reversal not in listed and credit not in listed and len(listed) == 2
    assert client.get(reverse("imports:assign", args=[other.pk])).status_code == 405


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_assign_is_a_form_error_on_its_row(client, kilo, typed):
    client.force_login(user_with_role("finance"))
    upload(client)
    credit = BankEntry.objects.get(bank_reference="NB240402-0102")
    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": typed})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="errorlist" role="alert" id="assign-error-{credit.pk}">Choose a customer to assign.</p>' in html
    assert f'aria-describedby="assign-error-{credit.pk}"' in html
    credit.refresh_from_db()
    assert credit.status == "unidentified" and credit.payment is None
