"""Every list page for every role: staff read, anonymous is sent to sign in, no role is a 403 naming the role."""

import pytest
from django.urls import path, reverse

from billing.roles import FINANCE, role_required
from config.urls import urlpatterns as site_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(ledger):
    account = ledger.invoices["ada_overdue_30"].account_id
    return [
        reverse("dashboard"),
        reverse("invoices:list"),
        reverse("invoices:export"),
        reverse("payments:list"),
        reverse("payments:list") + "?queue=needs_work",
        reverse("payments:export"),
        reverse("orders:list"),
        reverse("orders:export"),
        reverse("collections:list"),
        reverse("collections:account", args=[account]),
    ]


@pytest.mark.parametrize("role", ["support", "finance", "admin"])
def test_staff_can_read_every_page(client, staff, pages, role):
    client.force_login(staff[role])
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_anonymous_is_sent_to_sign_in(client, pages, ledger):
    for url in [*pages, reverse("collections:add_note", args=[ledger.invoices["ada_current"].account_id])]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_signed_in_without_a_role_gets_a_403_naming_the_role(client, staff, pages):
    client.force_login(staff["nobody"])
    for url in pages:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "This needs the Support role" in response.content.decode(), url


def test_no_role_cannot_add_a_note(client, staff, ledger):
    from dunning.models import CollectionNote

    client.force_login(staff["nobody"])
    account = ledger.invoices["ada_current"].account_id
    response = client.post(reverse("collections:add_note", args=[account]), {"outcome": "reached", "text": "hi"})
    assert response.status_code == 403
    assert not CollectionNote.objects.exists()


@role_required(FINANCE)
def _finance_only(request):  # pragma: no cover - the decorator refuses first
    raise AssertionError


urlpatterns = [*site_urls, path("finance-only/", _finance_only)]


@pytest.mark.urls(__name__)
def test_403_page_names_the_finance_role_for_support(client, staff):
    """The 403 template receives RoleRequired's message (Django's permission_denied view)."""
    client.force_login(staff["support"])
    response = client.get("/finance-only/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "This needs the Finance role" in body
    assert "Not allowed" in body and "Sign out" in body  # the site's template, with its nav


def test_finance_only_links_are_hidden_from_support(client, staff):
    # Support reads the imports (and the entries waiting for a clerk) but does not upload.
    client.force_login(staff["support"])
    assert "/imports/" in client.get(reverse("dashboard")).content.decode()
    assert 'name="statement"' not in client.get(reverse("imports:upload")).content.decode()
    client.force_login(staff["finance"])
    assert 'name="statement"' in client.get(reverse("imports:upload")).content.decode()
