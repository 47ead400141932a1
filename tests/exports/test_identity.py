"""What an export takes as "the same": each compared field changed alone is NOT the same (issue 18).

exports.services decides by comparison which entries a profile already exported (the profile and
the entry: the NOT EXISTS probe and the empty-night count), where an account's opening comes from
(the latest closing of the same profile, customer, currency and account), which batches are
delivered and which acknowledged (per batch, by result); the callback finds a batch by profile and
number, and the agency deduplicates on profile-number. Each test below keeps everything else equal
and changes one of those fields, and shows the two are told apart.

Not tested alone: the customer of an account's opening (an account belongs to one customer, so
the account cannot stay equal while the customer changes).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from exports.models import BatchState, DeliveryResult, ExportBatch
from exports.profiles import get_profile
from exports.services import acknowledge_batch, export_batch, seal_batch
from tests.exports.helpers import Agency, balance_rows, entry_rows, folder_profiles
from tests.factories import CustomerFactory, make_invoice, make_payment

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def export(django_capture_on_commit_callbacks):
    def run(profile: str = "agency") -> ExportBatch | None:
        with django_capture_on_commit_callbacks(execute=True):
            return export_batch(profile=profile, by=None)

    return run


@pytest.fixture
def two_profiles(tmp_path, settings):
    """agency and audit both carry invoices, into the same outbox (file names differ by profile)."""
    settings.SETTLE_EXPORT_PROFILES = {
        **folder_profiles(tmp_path, name="agency"),
        **folder_profiles(tmp_path, name="audit", kinds=["invoice"]),
    }
    return tmp_path / "outbox"


@pytest.fixture
def payments_profile(tmp_path, settings):
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path, kinds=["payment"])


# Already exported: the same profile and the same entry.


def test_an_entry_equal_to_an_exported_one_in_every_fact_but_its_identity_goes_out_the_next_night(
    two_profiles, export, customer, provider
):
    first = make_invoice(customer=customer, provider=provider, total="25.00")
    assert export().entry_count == 1
    twin = make_invoice(customer=customer, provider=provider, total="25.00")  # same account, kind, amount, day
    second = export()
    assert second is not None and second.number == 2
    assert [row["document"] for row in entry_rows(second.payload)] == [twin.number]
    assert twin.number != first.number


def test_an_entry_another_profile_exported_is_still_new_for_this_one(two_profiles, export, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="25.00")
    assert export("audit").entry_count == 1
    batch = export("agency")  # the audit's item names the same entry under another profile
    assert batch is not None and [row["document"] for row in entry_rows(batch.payload)] == [invoice.number]
    assert export("agency") is None and export("audit") is None


# The opening of an account: the latest closing of the same profile, customer, currency and account.


def test_an_opening_never_comes_from_another_profiles_closing(two_profiles, export, customer, provider, other_provider):
    make_invoice(customer=customer, provider=provider, total="10.00")
    export("agency")  # agency has history now: its next batch looks openings up
    other = make_invoice(customer=customer, provider=other_provider, total="30.00")
    export("audit")  # audit closes the other account at 30.00 (and the first at 10.00)
    make_invoice(customer=customer, provider=other_provider, total="5.00")
    batch = export("agency")
    assert balance_rows(batch.payload) == {str(other.account_id): (D("0.00"), D("35.00"), D("35.00"))}


def test_an_opening_never_comes_from_another_accounts_closing(export, two_profiles, customer, provider, other_provider):
    make_invoice(customer=customer, provider=provider, total="10.00")
    export()
    other = make_invoice(customer=customer, provider=other_provider, total="30.00")  # same customer and currency
    batch = export()
    assert balance_rows(batch.payload) == {str(other.account_id): (D("0.00"), D("30.00"), D("30.00"))}


def test_a_payment_side_opening_never_comes_from_another_customers_closing(payments_profile, export, customer):
    make_payment(customer=customer, amount="50.00")
    export()
    other = CustomerFactory(name="Grace Hopper")
    make_payment(customer=other, amount="20.00")
    batch = export()
    assert balance_rows(batch.payload) == {f"{other.pk}/EUR": (D("0.00"), D("-20.00"), D("-20.00"))}


def test_a_payment_side_opening_never_comes_from_another_currencys_closing(payments_profile, export, customer):
    make_payment(customer=customer, amount="50.00")
    export()
    make_payment(customer=customer, amount="20.00", currency="USD")
    batch = export()
    assert balance_rows(batch.payload) == {f"{customer.pk}/USD": (D("0.00"), D("-20.00"), D("-20.00"))}


def test_the_same_payment_side_carries_its_closing_over(payments_profile, export, customer):
    """The counterpart of the four above: everything equal, the opening is the last closing."""
    make_payment(customer=customer, amount="50.00")
    export()
    make_payment(customer=customer, amount="20.00")
    batch = export()
    assert balance_rows(batch.payload) == {f"{customer.pk}/EUR": (D("-50.00"), D("-20.00"), D("-70.00"))}


# Delivered and acknowledged: per batch, and by the delivery's result.


def test_another_batchs_delivery_does_not_make_a_batch_delivered(two_profiles, export, customer, provider):
    make_invoice(customer=customer, provider=provider)
    first = export()
    assert first.state == BatchState.DELIVERED
    make_invoice(customer=customer, provider=provider)
    with transaction.atomic():  # sealed and committed, then the run died before delivering
        second = seal_batch(get_profile("agency"), by=None)
    assert second.state == BatchState.SEALED
    assert export() is None  # nothing new; the waiting batch goes out
    assert (two_profiles / "agency-000002.csv").read_bytes() == second.payload
    assert [b.state for b in ExportBatch.objects.order_by("number")] == [BatchState.DELIVERED] * 2


def test_a_delivery_is_not_an_acknowledgement(two_profiles, export, customer, provider):
    make_invoice(customer=customer, provider=provider)
    batch = export()
    assert list(batch.deliveries.values_list("result", flat=True)) == [DeliveryResult.OK]
    ack = acknowledge_batch(batch, reference="AG-5", by=None)
    assert (ack.result, ack.reference) == (DeliveryResult.ACKNOWLEDGED, "AG-5")
    assert batch.deliveries.count() == 2


def test_another_batchs_acknowledgement_is_not_this_ones(two_profiles, export, customer, provider):
    make_invoice(customer=customer, provider=provider)
    first = export()
    make_invoice(customer=customer, provider=provider)
    second = export()
    acknowledge_batch(first, reference="AG-1", by=None)
    assert second.state == BatchState.DELIVERED
    ack = acknowledge_batch(second, reference="AG-2", by=None)
    assert (ack.batch_id, ack.reference) == (second.pk, "AG-2")
    assert second.state == first.state == BatchState.ACKNOWLEDGED


# The callback finds a batch by profile and number; the agency deduplicates on profile-number.

SECRET = {"Authorization": "Bearer s3cret-of-the-agency"}


def test_the_callback_acknowledges_the_batch_of_its_profile_not_the_same_number_of_another(
    two_profiles, export, customer, provider, settings
):
    settings.SETTLE_EXPORT_CALLBACK_SECRET = "s3cret-of-the-agency"
    make_invoice(customer=customer, provider=provider)
    audit, agency = export("audit"), export("agency")  # audit's is the older: not the one found by number alone
    assert agency.number == audit.number == 1
    response = Client().post("/exports/callback/audit/1/acknowledge/", {"reference": "AU-1"}, headers=SECRET)
    assert response.status_code == 200 and response.json()["sha256"] == audit.sha256
    assert (audit.state, agency.state) == (BatchState.ACKNOWLEDGED, BatchState.DELIVERED)


def test_the_callback_acknowledges_the_batch_of_its_number_not_another_of_the_profile(
    two_profiles, export, customer, provider, settings
):
    settings.SETTLE_EXPORT_CALLBACK_SECRET = "s3cret-of-the-agency"
    make_invoice(customer=customer, provider=provider)
    first = export()
    make_invoice(customer=customer, provider=provider)
    second = export()  # the newer: not the one found by profile alone
    response = Client().post("/exports/callback/agency/1/acknowledge/", {"reference": "AG-1"}, headers=SECRET)
    assert response.status_code == 200 and response.json()["sha256"] == first.sha256
    assert (first.state, second.state) == (BatchState.ACKNOWLEDGED, BatchState.DELIVERED)


def test_the_agency_gets_another_idempotency_key_for_another_number_or_another_profile(
    settings, export, customer, provider
):
    agency = Agency()
    try:
        settings.SETTLE_EXPORT_PROFILES = {
            name: {"kinds": ["invoice"], "format": "csv", "deliver_to": agency.url} for name in ("agency", "audit")
        }
        make_invoice(customer=customer, provider=provider)
        export("agency")
        export("audit")  # the same number 1, another profile
        make_invoice(customer=customer, provider=provider)
        export("agency")  # the same profile, number 2
    finally:
        agency.stop()
    sent = [
        (headers["Idempotency-Key"], headers["X-Settle-Profile"], headers["X-Settle-Batch"])
        for headers, _ in agency.requests
    ]
    assert sent == [("agency-1", "agency", "1"), ("audit-1", "audit", "1"), ("agency-2", "agency", "2")]
