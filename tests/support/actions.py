"""Fixtures and helpers of the detail-page and action tests (imported by those test modules).

Imported by the action tests that use them (the staff and ledger come from tests.support.pages).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from allocations.models import Allocation
from billing.roles import FINANCE, SUPPORT
from invoices.models import CreditNote, Invoice, InvoiceStatusChange
from payments.models import Chargeback, Payment, PaymentStatusChange, Refund
from tests.factories import UserFactory

TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


def make_user(username: str, role: str | None = None, *, superuser: bool = False):
    user = UserFactory(username=username, is_superuser=superuser, is_staff=superuser)
    if role:
        # Transactional (browser) tests flush the roles the migration made; recreate them.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finance_user(db):
    return make_user("fiona.finance", FINANCE)


@pytest.fixture
def support_user(db):
    return make_user("sam.support", SUPPORT)


@pytest.fixture
def superuser(db):
    return make_user("ada.admin", superuser=True)


@pytest.fixture
def finance(finance_user) -> Client:
    return client_for(finance_user)


@pytest.fixture
def support(support_user) -> Client:
    return client_for(support_user)


@pytest.fixture
def admin(superuser) -> Client:
    return client_for(superuser)


def ledger_counts() -> dict[str, int]:
    """Rows of every table a money action writes: equal before and after means nothing was written."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Allocation,
            Refund,
            Chargeback,
            CreditNote,
            InvoiceStatusChange,
            PaymentStatusChange,
            Invoice,
            Payment,
        )
    }


def form_token(page) -> str:
    """The one-time token of the (first) form on the page (a response or its text)."""
    match = TOKEN_RE.search(page if isinstance(page, str) else page.content.decode())
    assert match, "no form_token on the page"
    return match.group(1)


def text(response) -> str:
    return response.content.decode()
