"""Every page on an empty ledger: zeroes and helpful empty states, no errors.

Not in the shared-ledger modules: this one needs a database without invoices.
"""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client):
    user = UserFactory(username="newbie")
    user.groups.add(Group.objects.get(name="support"))
    client.force_login(user)
    return client


def test_dashboard_shows_zeroes(clerk_client):
    response = clerk_client.get(reverse("dashboard"))
    context = response.context
    for queue in [*context["invoice_queues"], *context["payment_queues"], context["collections"]]:
        assert (queue.count, queue.sums) == (0, []), queue.key
    assert "nothing here" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/invoices/", "There are no open invoices."),
        ("/invoices/?customer=x", "No invoices match these filters."),
        ("/payments/", "No payments have been recorded yet."),
        ("/collections/", "Nothing to collect: no account owes money."),
        ("/orders/", "No orders have been placed yet."),
        ("/orders/?billing_status=invoiced", "No orders match these filters."),
    ],
)
def test_lists_explain_why_they_are_empty(clerk_client, url, message):
    response = clerk_client.get(url)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_csv_of_nothing_is_just_the_header(clerk_client):
    response = clerk_client.get(reverse("invoices:export"))
    assert b"".join(response.streaming_content).decode().strip() == (
        "id,number,state,payment_status,customer,customer_email,provider,currency,"
        "issue_date,due_date,total,credited_total,paid_total,balance_due"
    )


def test_csv_of_no_orders_is_just_the_header(clerk_client):
    response = clerk_client.get(reverse("orders:export"))
    assert b"".join(response.streaming_content).decode().strip() == (
        "id,number,state,billing_status,payment_status,customer,customer_email,provider,currency,invoicing,"
        "placed_at,invoiced_total,paid_total,balance_due"
    )
