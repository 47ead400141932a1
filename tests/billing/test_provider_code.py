"""Provider codes: derived from the name when none is given, and never changed so that an
invoice number could collide (DESIGN.md sections 5 and 7; issue 8)."""

import pytest
from django.db import IntegrityError
from django.urls import reverse

from billing.errors import InvalidInput
from billing.models import Provider, candidate_codes
from invoices.services import issue_invoice
from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db


def test_a_provider_without_a_code_gets_one_from_its_name():
    provider = Provider.objects.create(name="Plumbing Ltd")
    assert provider.code == "PLUMB"
    provider.refresh_from_db()
    assert provider.code == "PLUMB"


def test_two_providers_with_the_same_name_get_different_codes():
    first = Provider.objects.create(name="Plumbing Ltd")
    second = Provider.objects.create(name="Plumbing Ltd")
    third = Provider.objects.create(name="plumbing ltd.")
    assert (first.code, second.code, third.code) == ("PLUMB", "PLUMB2", "PLUMB3")


@pytest.mark.parametrize(
    ("name", "code"),
    [("Zoë's Café", "ZOESC"), ("3 Brothers Bakery", "BROTH"), ("株式会社", "PROV"), ("A", "APROV"), ("", "PROV")],
)
def test_derived_codes_are_short_upper_case_ascii_and_start_with_a_letter(name, code):
    assert next(candidate_codes(name)) == code
    assert Provider.objects.create(name=name).code == code  # and the database's format check agrees


def test_a_code_given_is_kept():
    assert Provider.objects.create(name="Acme Cleaning", code="ACME").code == "ACME"
    with pytest.raises(IntegrityError):
        Provider.objects.create(name="Acme Two", code="ACME")


@pytest.fixture
def issued():
    acme = Provider.objects.create(name="Acme Cleaning", code="ACME")
    invoice = make_invoice(customer=CustomerFactory(), provider=acme, total="10.00")  # issued: ACME-000001
    assert invoice.number == "ACME-000001"
    return acme, invoice


def test_the_code_of_a_provider_that_issued_invoices_cannot_change(issued):
    acme, _ = issued
    acme.refresh_from_db()
    acme.code = "ACM"
    with pytest.raises(InvalidInput, match="cannot change from ACME to ACM"):
        acme.save()
    assert Provider.objects.get(pk=acme.pk).code == "ACME"


def test_a_code_that_prefixes_existing_invoice_numbers_is_refused(issued):
    """A code freed by whatever means would restart a series already printed: ACME-000001 again."""
    acme, _ = issued
    Provider.objects.filter(pk=acme.pk).update(code="OLD")  # as old data may have it
    bolt = Provider.objects.create(name="Bolt", code="BOLT")
    bolt.code = "ACME"
    with pytest.raises(InvalidInput, match="invoices numbered ACME-… already exist"):
        bolt.save()
    assert next(candidate_codes("Acme")) == "ACME"
    assert Provider.objects.create(name="Acme").code == "ACME2"


def test_a_provider_without_invoices_may_change_its_code():
    provider = Provider.objects.create(name="Acme Cleaning", code="ACME")
    provider.code = "ACMEC"
    provider.save()
    draft = make_invoice(customer=CustomerFactory(), provider=provider, total="5.00", issue=False)
    issue_invoice(draft, by=None)
    assert draft.number == "ACMEC-000001"


def test_renaming_in_the_admin_is_a_form_error_not_a_500(client, issued):
    acme, _ = issued
    client.force_login(_superuser())
    url = reverse("admin:billing_provider_change", args=[acme.pk])
    response = client.post(url, {"name": acme.name, "code": "NEW"})
    assert response.status_code == 200
    assert "cannot change from ACME to NEW" in response.content.decode()
    assert Provider.objects.get(pk=acme.pk).code == "ACME"


def _superuser():
    from tests.factories import UserFactory

    return UserFactory(username="root", is_superuser=True, is_staff=True)
