"""I8: concurrent clerks cannot jointly break I3-I4, and never deadlock.

Real threads, each with its own PostgreSQL connection and transaction, released
together by a barrier. The services lock rows in one fixed order (accounts, then
invoices by id, then payments by id), so contention ends in a wait and a clean
BillingError, never in overallocation, overpayment or a deadlock.
"""

from __future__ import annotations

import datetime
import random
import threading
import traceback
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError
from django.test import override_settings

from allocations.services import allocate, allocate_many, auto_allocate, deallocate
from billing.errors import BillingError, DuplicateReference, ExceedsBalance, InsufficientFunds
from billing.models import Account, Customer, Provider
from invoices.models import Invoice
from invoices.services import create_invoice, issue_credit_note, issue_invoice, void_invoice
from ledger.core import lock_customer_accounts
from payments.models import Payment
from payments.services import cancel_payment, record_chargeback, record_payment, refund_payment
from tests.factories import TODAY, CustomerFactory, ProviderFactory, due_in, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def run_together(jobs: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Run each job in its own thread, all released at once; return (outcome, value) per job.

    outcome is "ok", "refused" (a BillingError), "deadlock", or "error" (anything else).
    """
    barrier = threading.Barrier(len(jobs))
    results: list[tuple[str, object]] = [("error", "did not finish")] * len(jobs)

    def worker(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", job())
        except BillingError as error:
            results[index] = ("refused", error)
        except OperationalError as error:
            results[index] = ("deadlock" if "deadlock" in str(error).lower() else "error", error)
        except Exception as error:  # noqa: BLE001 - reported and failed below
            results[index] = ("error", "".join(traceback.format_exception(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def outcomes(results) -> list[str]:
    return [outcome for outcome, _ in results]


def assert_no_deadlock_or_crash(results) -> None:
    bad = [(outcome, value) for outcome, value in results if outcome in ("deadlock", "error")]
    assert not bad, f"concurrent calls failed outside the BillingError contract: {bad}"


def test_one_payment_to_eight_invoices_cannot_overallocate(customer):
    # Eight providers: eight accounts, so the threads meet on the payment's lock only.
    invoices = [make_invoice(customer=customer, provider=ProviderFactory(), total="30.00") for _ in range(8)]
    payment = make_payment(customer=customer, amount="100.00")

    def job(invoice_id: int):
        return lambda: allocate(
            Payment.objects.get(pk=payment.pk), Invoice.objects.get(pk=invoice_id), "30.00", by=None
        )

    results = run_together([job(invoice.pk) for invoice in invoices])

    assert_no_deadlock_or_crash(results)
    assert outcomes(results).count("ok") == 3
    assert all(isinstance(value, InsufficientFunds) for outcome, value in results if outcome == "refused")
    payment.refresh_from_db()
    assert (payment.allocated_total, payment.unallocated, payment.allocation_status) == (
        D("90.00"),
        D("10.00"),
        "partially_allocated",
    )
    statuses = sorted(Invoice.objects.values_list("payment_status", flat=True))
    assert statuses == ["paid"] * 3 + ["unpaid"] * 5
    assert_invariants()


def test_eight_payments_to_one_invoice_cannot_overpay(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payments = [make_payment(customer=customer, amount="30.00") for _ in range(8)]

    def job(payment_id: int):
        return lambda: allocate(
            Payment.objects.get(pk=payment_id), Invoice.objects.get(pk=invoice.pk), "30.00", by=None
        )

    results = run_together([job(payment.pk) for payment in payments])

    assert_no_deadlock_or_crash(results)
    assert outcomes(results).count("ok") == 3
    assert all(isinstance(value, ExceedsBalance) for outcome, value in results if outcome == "refused")
    invoice.refresh_from_db()
    assert (invoice.paid_total, invoice.balance_due, invoice.payment_status) == (
        D("90.00"),
        D("10.00"),
        "partially_paid",
    )
    assert sorted(Payment.objects.values_list("allocation_status", flat=True)) == (
        ["fully_allocated"] * 3 + ["unallocated"] * 5
    )
    invoice.account.refresh_from_db()
    assert invoice.account.balance_due == D("10.00")
    assert_invariants()


def test_ten_drafts_of_one_provider_issued_at_once_get_numbers_one_to_ten(provider):
    customers = [CustomerFactory() for _ in range(5)]
    drafts = [make_invoice(customer=customers[n % 5], provider=provider, issue=False) for n in range(10)]

    def job(invoice_id: int):
        return lambda: issue_invoice(Invoice.objects.get(pk=invoice_id), by=None).number

    results = run_together([job(draft.pk) for draft in drafts])

    assert_no_deadlock_or_crash(results)
    assert outcomes(results) == ["ok"] * 10
    assert sorted(number for _, number in results) == [f"ACME-{n:06d}" for n in range(1, 11)]
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, 11))
    provider.refresh_from_db()
    assert provider.last_invoice_number == 10
    assert_invariants()


def test_creating_and_issuing_while_others_allocate_on_the_same_account(customer, provider):
    """Creating an invoice checks its foreign keys (account, provider) at commit while issuers lock both."""
    invoices = [make_invoice(customer=customer, provider=provider, total="50.00") for _ in range(4)]
    payments = [make_payment(customer=customer, amount="50.00") for _ in range(4)]

    def create_and_issue():
        draft = create_invoice(
            customer=customer,
            provider=Provider.objects.get(pk=provider.pk),
            currency="EUR",
            lines=[("Work", "1", "10.00")],
            due_date=due_in(30),
            by=None,
        )
        return issue_invoice(draft, by=None).number

    def allocate_job(n: int):
        return lambda: allocate(
            Payment.objects.get(pk=payments[n].pk), Invoice.objects.get(pk=invoices[n].pk), "5.00", by=None
        )

    for _round in range(3):
        results = run_together([create_and_issue] * 4 + [allocate_job(n) for n in range(4)])
        assert_no_deadlock_or_crash(results)
        assert outcomes(results) == ["ok"] * 8
    numbers = list(Invoice.objects.order_by("sequence").values_list("sequence", flat=True))
    assert numbers == list(range(1, 17))
    assert_invariants()


@pytest.mark.parametrize("reversal", ["newest_first", "manual"])
def test_mixed_clerks_on_one_customer_never_deadlock(customer, provider, other_provider, reversal):
    """Allocations, splits, deallocations, voids, credits, refunds, chargebacks and cancels on overlapping rows."""
    invoices = [
        make_invoice(customer=customer, provider=(provider, other_provider)[n % 2], total=total)
        for n, total in enumerate(["40.00", "60.00", "25.00", "80.00", "35.00", "50.00"])
    ]
    payments = [make_payment(customer=customer, amount=amount) for amount in ["70.00", "90.00", "50.00", "120.00"]]
    allocate_many(payments[0], [(invoices[0], "30.00"), (invoices[1], "40.00")], by=None)
    allocate_many(payments[1], [(invoices[1], "20.00"), (invoices[3], "50.00")], by=None)
    allocate(payments[3], invoices[2], "25.00", by=None)
    rng = random.Random(f"settle-{reversal}")

    def pick(queryset, fallback):
        """A row the call can act on as the round starts (threads then race for the same few rows)."""
        ids = sorted(queryset.values_list("pk", flat=True)) or sorted(fallback.values_list("pk", flat=True))
        return rng.choice(ids)

    def random_job():
        mine_invoices = Invoice.objects.filter(customer=customer)
        mine_payments = Payment.objects.filter(customer=customer)
        open_ids = sorted(mine_invoices.filter(state="open", balance_due__gt=0).values_list("pk", flat=True)) or [0]
        p = pick(mine_payments.filter(state="settled", unallocated__gt=0), mine_payments)
        allocated = mine_payments.filter(allocated_total__gt=0, state__in=["settled", "charged_back"])
        p_allocated = pick(allocated, mine_payments)
        i, j = rng.choice(open_ids), rng.choice(open_ids)
        i_paid = pick(mine_invoices.filter(state="open", paid_total__gt=0), mine_invoices)
        amount = rng.choice(["5.00", "10.00", "15.00"])
        kind = rng.choice(
            [
                "allocate",
                "allocate",
                "allocate_many",
                "deallocate",
                "void",
                "credit",
                "refund",
                "chargeback",
                "chargeback",
                "cancel",
                "auto",
            ]
        )
        jobs = {
            "allocate": lambda: allocate(Payment.objects.get(pk=p), Invoice.objects.get(pk=i), amount, by=None),
            "allocate_many": lambda: allocate_many(
                Payment.objects.get(pk=p), [(Invoice.objects.get(pk=pk), "5.00") for pk in sorted({i, j})], by=None
            ),
            "deallocate": lambda: deallocate(
                Payment.objects.get(pk=p_allocated), Invoice.objects.get(pk=i_paid), None, reason="Correction", by=None
            ),
            "void": lambda: void_invoice(Invoice.objects.get(pk=i_paid), reason="Issued in error", by=None),
            "credit": lambda: issue_credit_note(
                Invoice.objects.get(pk=i_paid), amount="5.00", reason="Goodwill", by=None
            ),
            "refund": lambda: refund_payment(
                Payment.objects.get(pk=p), amount="5.00", reason="Customer asked", by=None
            ),
            "chargeback": lambda: record_chargeback(
                Payment.objects.get(pk=p_allocated), amount=amount, reason="Dispute", by=None
            ),
            "cancel": lambda: cancel_payment(Payment.objects.get(pk=p_allocated), reason="Entered twice", by=None),
            "auto": lambda: auto_allocate(Payment.objects.get(pk=p), by=None),
        }
        return kind, jobs[kind]

    seen: dict[str, int] = {}
    with override_settings(SETTLE_CHARGEBACK_REVERSAL=reversal):
        for _round in range(6):
            chosen = [random_job() for _ in range(8)]
            results = run_together([job for _, job in chosen])
            assert_no_deadlock_or_crash(results)
            for (kind, _), (outcome, _) in zip(chosen, results, strict=True):
                seen[f"{kind} {outcome}"] = seen.get(f"{kind} {outcome}", 0) + 1
            assert_invariants()
            # Under the default rule nothing is ever left overallocated; invoices are overpaid only after credits.
            if reversal == "newest_first":
                assert not Payment.objects.filter(allocation_status="overallocated").exists()
            assert not Invoice.objects.filter(payment_status="overpaid", credit_notes__isnull=True).exists()
            # Top up the books so later rounds still have work.
            payments.append(make_payment(customer=customer, amount="60.00"))
            invoices.append(make_invoice(customer=customer, provider=provider, total="45.00"))
    assert sum(count for key, count in seen.items() if key.endswith(" ok")) >= 10, seen


def test_the_same_bank_reference_recorded_at_once_makes_one_payment(customer):
    """Two clerks import the same statement: the reference keeps it to one payment."""

    def job():
        return record_payment(
            customer=Customer.objects.get(pk=customer.pk),
            amount="125.00",
            currency="EUR",
            method="bank_transfer",
            reference="BANK-2026-0042",
            by=None,
        ).pk

    results = run_together([job] * 8)

    assert_no_deadlock_or_crash(results)
    assert outcomes(results) == ["ok"] * 8
    assert len({pk for _, pk in results}) == 1
    assert Payment.objects.count() == 1
    assert_invariants()


def test_a_reused_reference_with_other_data_is_refused_under_contention(customer):
    def job(amount: str):
        return lambda: (
            record_payment(
                customer=Customer.objects.get(pk=customer.pk),
                amount=amount,
                currency="EUR",
                method="bank_transfer",
                reference="BANK-2026-0043",
                by=None,
            ).pk
        )

    results = run_together([job(f"{10 + n}.00") for n in range(6)])

    assert_no_deadlock_or_crash(results)
    assert outcomes(results).count("ok") == 1
    assert all(isinstance(value, DuplicateReference) for outcome, value in results if outcome == "refused")
    assert Payment.objects.count() == 1


def test_first_invoices_of_a_new_account_created_at_once(provider):
    """The account (customer, provider, currency) is created once, whoever gets there first."""
    newcomer = CustomerFactory()

    def job():
        draft = create_invoice(
            customer=Customer.objects.get(pk=newcomer.pk),
            provider=Provider.objects.get(pk=provider.pk),
            currency="EUR",
            lines=[("Intake", "1", "20.00")],
            due_date=due_in(14),
            by=None,
        )
        return issue_invoice(draft, by=None).account_id

    results = run_together([job] * 6)

    assert_no_deadlock_or_crash(results)
    assert outcomes(results) == ["ok"] * 6
    assert len({account_id for _, account_id in results}) == 1
    account = Account.objects.get(customer=newcomer)
    assert (account.open_invoice_count, account.balance_due) == (6, D("120.00"))
    assert_invariants()


def test_lock_customer_accounts_holds_every_account_of_those_customers_until_commit(customer, provider, other_provider):
    """The first lock of the bulk writers (ledger.core.lock_customer_accounts, before any invoice):
    while a transaction holds it, no other can lock those customers' accounts; another customer's
    account stays free."""
    mine = [make_invoice(customer=customer, provider=p).account_id for p in (provider, other_provider)]
    someone_elses = make_invoice(customer=CustomerFactory(), provider=provider).account_id

    def can_lock(account_id: int) -> bool:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM billing_account WHERE id = %s FOR UPDATE NOWAIT", [account_id])
        except OperationalError as error:
            assert "could not obtain lock" in str(error)
            return False
        return True

    with transaction.atomic():
        lock_customer_accounts([customer.pk, customer.pk])
        results = run_together([lambda a=a: can_lock(a) for a in [*mine, someone_elses]])
    assert results == [("ok", False), ("ok", False), ("ok", True)]
    assert [can_lock(a) for a in [*mine, someone_elses]] == [True, True, True]  # released at commit
