"""export_batch, resend_batch and acknowledge_batch (DESIGN.md §13, I12), as the agency sees them."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.errors import InvalidInput, InvalidState
from exports.models import BatchState, Delivery, ExportBatch, ExportItem
from exports.profiles import get_profile
from exports.services import acknowledge_batch, export_batch, resend_batch, seal_batch
from invoices.services import issue_credit_note, void_invoice
from ledger.models import Entry
from orders.services import create_order, invoice_order
from payments.services import refund_payment
from tests.exports.helpers import Agency, balance_rows, entry_rows, folder_profiles, rows
from tests.factories import make_invoice, make_payment
from tests.invariants import assert_invariants

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(tmp_path, settings):
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path)
    return tmp_path / "outbox"


@pytest.fixture
def export(django_capture_on_commit_callbacks):
    """export_batch as the nightly job calls it, its after-commit delivery included."""

    def run(profile: str = "agency") -> ExportBatch | None:
        with django_capture_on_commit_callbacks(execute=True):
            return export_batch(profile=profile, by=None)

    return run


def test_first_night_sends_every_charge_and_credit_with_balances_and_seals_the_bytes(
    outbox, export, customer, provider, other_provider
):
    first = make_invoice(customer=customer, provider=provider, total="100.00")
    second = make_invoice(customer=customer, provider=other_provider, total="40.00")
    issue_credit_note(first, amount="30.00", by=None, reason="Discount")
    make_payment(customer=customer, amount="50.00")  # payment side: not a kind of this profile

    batch = export()

    assert batch is not None and batch.number == 1 and batch.entry_count == batch.entries == 3
    payload = batch.payload
    assert hashlib.sha256(payload).hexdigest() == batch.sha256 and len(payload) == batch.payload_bytes
    kinds = [(row["kind"], D(row["amount"]), row["document"]) for row in entry_rows(payload)]
    assert kinds == [
        ("invoice", D("100.00"), first.number),
        ("invoice", D("40.00"), second.number),
        ("credit_note", D("-30.00"), kinds[2][2]),
    ]
    assert kinds[2][2].startswith(f"{first.number}/CN")
    assert balance_rows(payload) == {
        str(first.account_id): (D("0.00"), D("70.00"), D("70.00")),
        str(second.account_id): (D("0.00"), D("40.00"), D("40.00")),
    }
    assert [(b.account_id, b.opening, b.delta, b.closing) for b in batch.balances] == sorted(
        [(first.account_id, D("0"), D("70"), D("70")), (second.account_id, D("0"), D("40"), D("40"))]
    )
    # Delivered after the commit: the outbox file holds exactly the sealed bytes.
    assert (outbox / "agency-000001.csv").read_bytes() == payload
    assert batch.state == BatchState.DELIVERED
    assert_invariants()


def test_nothing_new_makes_no_batch(outbox, export, customer, provider):
    assert export() is None
    make_invoice(customer=customer, provider=provider)
    assert export().number == 1
    assert export() is None
    assert ExportBatch.objects.count() == 1


def test_a_cancel_after_export_goes_out_as_a_new_credit_never_as_an_edit(outbox, export, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="80.00")
    night_one = export()
    sealed = night_one.payload

    void_invoice(invoice, by=None, reason="Ordered by mistake")
    night_two = export()

    assert night_two.number == 2
    assert [(row["kind"], D(row["amount"])) for row in entry_rows(night_two.payload)] == [("void", D("-80.00"))]
    # The account's opening is its closing of the night before; nothing of night one changed.
    assert balance_rows(night_two.payload) == {str(invoice.account_id): (D("80.00"), D("-80.00"), D("0.00"))}
    assert ExportBatch.objects.get(pk=night_one.pk).payload == sealed
    assert (outbox / "agency-000001.csv").read_bytes() == sealed
    assert_invariants()


def test_a_cart_canceled_and_registered_again_the_same_night_exports_both(outbox, export, customer, provider):
    """A cart of one workshop charged, canceled within the deadline (a cancellation credit) and
    registered again before the night's run: the agency gets the charge, the credit and the new charge."""
    import datetime

    from django.utils import timezone

    from registrations.services import cancel_registration, create_workshop, register

    workshop = create_workshop(
        provider=provider,
        title="Sourdough",
        starts_at=timezone.now() + datetime.timedelta(days=30),
        capacity=5,
        price="120.00",
        currency="EUR",
        by=None,
    )
    cart = register(customer=customer, workshops=[workshop], by=None)
    cancel_registration(cart.registrations.get(), by=None, reason="Cannot come after all")
    again = register(customer=customer, workshops=[workshop], by=None)
    charge, recharge = cart.invoices.get(), again.invoices.get()

    batch = export()

    assert [(row["kind"], D(row["amount"])) for row in entry_rows(batch.payload)] == [
        ("invoice", D("120.00")),
        ("credit_note", D("-120.00")),
        ("invoice", D("120.00")),
    ]
    assert {row["document"].split("/")[0] for row in entry_rows(batch.payload)} == {charge.number, recharge.number}
    assert balance_rows(batch.payload) == {str(charge.account_id): (D("0.00"), D("120.00"), D("120.00"))}
    assert_invariants()


def test_balances_carry_over_batches_that_skip_an_account(outbox, export, customer, provider, other_provider):
    first = make_invoice(customer=customer, provider=provider, total="10.00")
    export()
    make_invoice(customer=customer, provider=other_provider, total="5.00")
    export()
    issue_credit_note(first, amount="4.00", by=None, reason="Late")
    third = export()
    # Batch 2 had no row for the first account: its opening comes from batch 1.
    assert balance_rows(third.payload) == {str(first.account_id): (D("10.00"), D("-4.00"), D("6.00"))}
    assert_invariants()


def test_json_payload_carries_the_same_rows(tmp_path, settings, export, customer, provider):
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path, fmt="json", kinds=["invoice", "payment", "refund"])
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="60.00", reference='BANK "7", line\\2')
    refund_payment(payment, amount="10.00", by=None, reason="Goodwill")

    batch = export()

    document = json.loads(batch.payload)
    assert (document["profile"], document["batch"], document["entry_count"]) == ("agency", 1, 3)
    assert [(e["kind"], e["amount"], e["document"]) for e in document["entries"]] == [
        ("invoice", "100.00", invoice.number),
        ("payment", "-60.00", 'BANK "7", line\\2'),
        ("refund", "10.00", 'BANK "7", line\\2'),
    ]
    balances = {(b["account"], b["currency"]): (b["opening"], b["amount"], b["closing"]) for b in document["balances"]}
    # The payment side has no account: it is balanced per customer and currency.
    assert balances == {
        (invoice.account_id, "EUR"): ("0.00", "100.00", "100.00"),
        (None, "EUR"): ("0.00", "-50.00", "-50.00"),
    }
    assert (tmp_path / "outbox" / "agency-000001.json").read_bytes() == batch.payload


def test_an_entry_joins_one_batch_per_profile_ever_at_the_database(outbox, export, customer, provider):
    make_invoice(customer=customer, provider=provider)
    batch = export()
    item = ExportItem.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        ExportItem.objects.create(batch=batch, profile="agency", entry_id=item.entry_id)
    # The rows are append-only: no UPDATE, no DELETE (billing.guards).
    for statement in (
        "UPDATE exports_exportbatch SET sha256 = repeat('0', 64)",
        "DELETE FROM exports_exportitem",
        "UPDATE exports_exportchunk SET data = 'x'::bytea",
        "UPDATE exports_exportbalance SET opening = opening",
        "DELETE FROM exports_delivery",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


def test_each_profile_takes_every_entry_once(tmp_path, settings, export, customer, provider):
    settings.SETTLE_EXPORT_PROFILES = {
        **folder_profiles(tmp_path, name="agency"),
        **folder_profiles(tmp_path, name="audit", kinds=["invoice"]),
    }
    invoice = make_invoice(customer=customer, provider=provider)
    issue_credit_note(invoice, amount="1.00", by=None, reason="x")
    assert export("agency").entry_count == 2
    assert export("audit").entry_count == 1
    assert export("agency") is None and export("audit") is None
    with pytest.raises(InvalidInput, match="no export profile 'nope'"):
        export_batch(profile="nope", by=None)


def test_a_crash_after_sealing_is_delivered_by_the_next_run_with_the_same_bytes(outbox, export, customer, provider):
    make_invoice(customer=customer, provider=provider)
    with transaction.atomic():  # the run sealed and committed, then died before delivering
        sealed = seal_batch(get_profile("agency"), by=None)
    assert sealed.state == BatchState.SEALED and not outbox.exists()

    assert export() is None  # nothing new, but the waiting batch goes out
    assert (outbox / "agency-000001.csv").read_bytes() == sealed.payload
    assert ExportBatch.objects.get().state == BatchState.DELIVERED


def test_a_failed_delivery_keeps_the_batch_and_the_next_run_sends_it_first(
    tmp_path, settings, export, customer, provider
):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path)
    make_invoice(customer=customer, provider=provider)
    first = export()
    assert first.state == BatchState.FAILED and first.last_error
    make_invoice(customer=customer, provider=provider)
    second = export()  # sealed, but not sent before batch 1
    assert second.state == BatchState.SEALED

    blocker.unlink()
    assert export() is None
    assert [b.state for b in ExportBatch.objects.order_by("number")] == [BatchState.DELIVERED, BatchState.DELIVERED]
    assert (blocker / "agency-000001.csv").read_bytes() == first.payload
    assert (blocker / "agency-000002.csv").read_bytes() == second.payload


def test_resend_delivers_exactly_the_stored_bytes_again(outbox, export, customer, provider, clerk):
    make_invoice(customer=customer, provider=provider)
    batch = export()
    (outbox / "agency-000001.csv").unlink()
    attempt = resend_batch(batch, by=clerk)
    assert isinstance(attempt, Delivery) and attempt.result == "ok" and attempt.created_by == clerk
    assert attempt.idempotency_key == "agency-1" and attempt.sha256 == batch.sha256
    assert (outbox / "agency-000001.csv").read_bytes() == batch.payload
    assert batch.deliveries.count() == 2


def test_acknowledgement_is_recorded_once(outbox, export, customer, provider, clerk):
    make_invoice(customer=customer, provider=provider)
    batch = export()
    first = acknowledge_batch(batch, reference="AG-77", by=clerk)
    again = acknowledge_batch(batch, reference="AG-78", by=None)
    assert first.pk == again.pk and first.reference == "AG-77"
    assert batch.state == BatchState.ACKNOWLEDGED
    with pytest.raises(InvalidInput):
        acknowledge_batch(batch, reference="x" * 201, by=None)


def test_a_batch_never_sent_cannot_be_acknowledged(outbox, customer, provider):
    make_invoice(customer=customer, provider=provider)
    with transaction.atomic():
        sealed = seal_batch(get_profile("agency"), by=None)
    with pytest.raises(InvalidState, match="never sent"):
        acknowledge_batch(sealed, by=None)


@pytest.mark.django_db(transaction=True)
def test_the_commands_export_and_acknowledge(outbox, customer, provider, capsys):
    make_invoice(customer=customer, provider=provider, total="12.50")
    call_command("export_batch")
    out = capsys.readouterr().out
    assert "agency: batch 1, 1 entries" in out and "delivered" in out
    call_command("export_batch")
    assert "agency: nothing new" in capsys.readouterr().out
    call_command("acknowledge_export", "agency", "1", "--reference", "AG-1")
    assert "acknowledged" in capsys.readouterr().out
    assert ExportBatch.objects.get().state == BatchState.ACKNOWLEDGED


def test_a_delivery_that_fails_once_is_retried_with_the_same_idempotency_key(settings, export, customer, provider):
    agency = Agency(fail_first=1)
    try:
        settings.SETTLE_EXPORT_PROFILES = {"agency": {"kinds": ["invoice"], "format": "csv", "deliver_to": agency.url}}
        make_invoice(customer=customer, provider=provider)
        batch = export()
        assert batch.state == BatchState.FAILED
        assert "HTTP 503" in batch.last_error and "agency busy" in batch.last_error

        assert export() is None  # the next run retries it
        assert batch.state == BatchState.DELIVERED
    finally:
        agency.stop()
    (headers_1, body_1), (headers_2, body_2) = agency.requests
    assert headers_1["Idempotency-Key"] == headers_2["Idempotency-Key"] == "agency-1"
    assert body_1 == body_2 == batch.payload
    assert headers_2["X-Settle-Sha256"] == batch.sha256 and headers_2["Content-Type"].startswith("text/csv")
    assert rows(body_2)[0]["record"] == "balance"


def test_resend_to_the_agency_uses_the_same_key(settings, export, customer, provider):
    agency = Agency()
    try:
        settings.SETTLE_EXPORT_PROFILES = {"agency": {"kinds": ["invoice"], "format": "json", "deliver_to": agency.url}}
        make_invoice(customer=customer, provider=provider)
        batch = export()
        resend_batch(batch, by=None)
    finally:
        agency.stop()
    assert [h["Idempotency-Key"] for h, _ in agency.requests] == ["agency-1", "agency-1"]
    assert [body for _, body in agency.requests] == [batch.payload, batch.payload]


def test_an_unreachable_agency_is_a_failed_delivery_not_a_crash(settings, export, customer, provider):
    agency = Agency()
    url = agency.url
    agency.stop()  # nobody listens any more
    settings.SETTLE_EXPORT_PROFILES = {"agency": {"kinds": ["invoice"], "format": "csv", "deliver_to": url}}
    make_invoice(customer=customer, provider=provider)
    batch = export()
    assert batch.state == BatchState.FAILED and "ConnectionRefused" in batch.last_error
    assert Entry.objects.count() == ExportItem.objects.count() == 1


def test_the_invariant_checker_sees_a_wrong_opening(outbox, export, customer, provider):
    from exports.models import ExportBalance
    from tests.invariants import violations

    invoice = make_invoice(customer=customer, provider=provider, total="10.00")
    batch = export()
    ExportBalance.objects.create(
        batch=batch,
        profile="agency",
        customer=customer,
        currency="EUR",
        account=None,
        opening=D("5.00"),
        delta=D("0.00"),
        closing=D("5.00"),
    )
    assert any(v.startswith("I12 export balances") for v in violations()), invoice


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"Agency": {"kinds": ["invoice"], "format": "csv", "deliver_to": "x"}}, "name"),
        ({"agency": {"kinds": ["nope"], "format": "csv", "deliver_to": "x"}}, "journal entry kinds"),
        ({"agency": {"kinds": ["invoice"], "format": "xml", "deliver_to": "x"}}, "csv or json"),
        ({"agency": {"kinds": ["invoice"], "format": "csv", "deliver_to": "http://agency.example/"}}, "https"),
        ({"agency": {"kinds": ["invoice"], "format": "csv", "deliver_to": "../../etc"}}, ".."),
    ],
)
def test_a_bad_profile_stops_the_application_at_start(settings, setting, message):
    from exports.profiles import check_export_profiles

    settings.SETTLE_EXPORT_PROFILES = setting
    errors = check_export_profiles()
    assert [e.id for e in errors] == ["settle.E005"] and message in errors[0].msg


def test_a_relative_outbox_lives_under_the_var_directory(settings, tmp_path):
    from exports.profiles import Profile

    settings.VAR_DIR = tmp_path
    assert Profile("agency", ("invoice",), "csv", "var/outbox/agency").folder == tmp_path / "outbox" / "agency"
    assert Profile("agency", ("invoice",), "csv", "outbox/agency").folder == tmp_path / "outbox" / "agency"
    assert Profile("agency", ("invoice",), "csv", "/srv/outbox").folder.as_posix() == "/srv/outbox"
