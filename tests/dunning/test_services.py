"""add_collection_note: the one write of the collections work (the form and any other caller use it)."""

import datetime
from decimal import Decimal

import pytest

from billing.errors import InvalidInput
from dunning.models import CollectionNote
from dunning.services import add_collection_note
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db

TOMORROW = datetime.date.today() + datetime.timedelta(days=1)


@pytest.fixture
def account(customer, provider):
    return make_invoice(customer=customer, provider=provider, total="80.00").account


def test_a_note_is_appended_with_who_wrote_it(account, clerk):
    note = add_collection_note(
        account,
        outcome="promised_to_pay",
        text="  Pays Friday ",
        promised_date=TOMORROW,
        promised_amount=Decimal("80.00"),
        by=clerk,
    )
    assert (note.account, note.outcome, note.text, note.created_by) == (
        account,
        "promised_to_pay",
        "Pays Friday",
        clerk,
    )
    assert CollectionNote.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"outcome": "reached", "promised_date": TOMORROW}, "needs the outcome"),
        ({"outcome": "promised_to_pay", "promised_date": datetime.date(2000, 1, 1)}, "cannot be in the past"),
        ({"outcome": "promised_to_pay", "promised_amount": Decimal("0")}, "more than zero"),
        ({"outcome": "disputed"}, "Say what the customer disputes."),
        ({"outcome": "other", "text": "   "}, "Say what happened."),
        ({"outcome": "reached", "text": "x" * 2001}, "at most 2000 characters; this one has 2001"),
        ({"outcome": "shouted"}, "is not an outcome"),
    ],
)
def test_what_a_note_may_not_say_is_refused_and_nothing_is_written(account, clerk, fields, message):
    with pytest.raises(InvalidInput, match=message):
        add_collection_note(account, by=clerk, **fields)
    assert not CollectionNote.objects.exists()


def test_the_acting_user_is_required(account):
    with pytest.raises(TypeError):
        add_collection_note(account, outcome="reached")  # type: ignore[call-arg]
