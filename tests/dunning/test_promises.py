"""The "Promises due" page: broken promises to pay, for support, linked from the queue."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Account
from dunning.models import CollectionNote
from tests.support.helpers import row_ids

pytestmark = pytest.mark.django_db


def test_a_broken_promise_is_listed_and_a_future_one_is_not(as_support, staff):
    today = timezone.localdate()
    overdue, other = Account.objects.filter(balance_due__gt=0, oldest_due_date__lt=today).order_by("id")[:2]
    broken = CollectionNote.objects.create(
        account=overdue, outcome="promised_to_pay", promised_date=today - datetime.timedelta(days=3), text="Next week"
    )
    CollectionNote.objects.create(
        account=other, outcome="promised_to_pay", promised_date=today + datetime.timedelta(days=3)
    )
    response = as_support.get(reverse("collections:promises"))
    assert response.status_code == 200
    assert row_ids(response) == [broken.pk]
    assert "3 days ago" in response.content.decode()
    assert reverse("collections:promises") in as_support.get(reverse("collections:list")).content.decode()


def test_a_newer_promise_replaces_the_older_one(as_support):
    today = timezone.localdate()
    account = Account.objects.filter(balance_due__gt=0, oldest_due_date__lt=today).order_by("id").first()
    CollectionNote.objects.create(
        account=account, outcome="promised_to_pay", promised_date=today - datetime.timedelta(days=9)
    )
    CollectionNote.objects.create(
        account=account, outcome="promised_to_pay", promised_date=today + datetime.timedelta(days=2)
    )
    assert row_ids(as_support.get(reverse("collections:promises"))) == []


def test_the_page_needs_the_support_role(client, staff):
    client.force_login(staff["nobody"])
    assert client.get(reverse("collections:promises")).status_code == 403
