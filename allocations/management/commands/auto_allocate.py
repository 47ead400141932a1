"""manage.py auto_allocate: apply the automatic allocation rule (DESIGN.md §6) to waiting money."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from allocations import workers as allocation_workers
from allocations.rules import find_invoice_numbers
from allocations.services import auto_allocate, auto_allocate_many, plan_auto_allocation
from billing import processes
from billing.errors import BillingError
from billing.models import Customer
from billing.money import format_money
from payments.models import Payment, PaymentState


def waiting_payments(customer_id: int | None = None):
    """Settled payments with money not yet allocated, oldest money first."""
    payments = Payment.objects.filter(state=PaymentState.SETTLED, unallocated__gt=0)
    if customer_id is not None:
        payments = payments.filter(customer_id=customer_id)
    return payments.order_by("received_at", "id")


#: Payments allocated in one transaction and one set-based write by the nightly run.
CHUNK = 200


def parts_by_customer(waiting: list[tuple[int, int]], workers: int) -> list[list[int]]:
    """The waiting (payment id, customer id) pairs, oldest first, as `workers` lists of payment
    ids: a customer's payments all in one list, in their order.

    A payment is allocated to its own customer's invoices only, after that customer's older
    payments (DESIGN.md section 6), so what each payment gets depends on its customer's
    payments and invoices alone: lists that share no customer can be allocated at once, in
    processes of their own, with the outcome of one list after another. They lock disjoint
    rows (accounts, invoices, orders and plans are each one customer's)."""
    parts: list[list[int]] = [[] for _ in range(workers)]
    for payment_id, customer_id in waiting:
        parts[customer_id % workers].append(payment_id)
    return [part for part in parts if part]


def chunk_preferred_numbers(payments: list[Payment]) -> dict[int, list[str]]:
    """preferred_numbers of several payments in one query."""
    texts: dict[int, list[str]] = defaultdict(list)
    rows = Payment.objects.filter(pk__in=[p.pk for p in payments], bank_entries__isnull=False).values_list(
        "pk", "bank_entries__remittance_text"
    )
    for pk, text in rows.order_by("pk", "bank_entries__id"):
        texts[pk].append(text)
    return {pk: find_invoice_numbers(" ".join(parts)) for pk, parts in texts.items()}


def waiting_head(payment: Payment) -> str:
    """A payment's line in the report: who and what waits, as read before allocating."""
    return f"{payment} {payment.customer}: {format_money(payment.unallocated, payment.currency)} unallocated"


def preferred_numbers(payment: Payment) -> list[str]:
    """Invoice numbers named by the bank entry the payment was imported from, if any."""
    # Through the reverse relation: intake sits above allocations and is not imported here.
    texts = payment.bank_entries.values_list("remittance_text", flat=True)
    return find_invoice_numbers(" ".join(texts))


class Command(BaseCommand):
    help = (
        "Allocate every settled payment with unallocated money by the rule of DESIGN.md section 6: "
        "invoices named in the payment's bank remittance text first; then, if the money equals exactly "
        "one, two or three open invoices of the customer in its currency, those; otherwise the oldest "
        "open invoices first (due date, issue date, id) until the money runs out. Payments are taken "
        f"oldest first, {CHUNK} to a transaction and one set-based write (one by one when something in "
        "the chunk moved meanwhile or is refused). --dry-run prints the plan with the reason of each match "
        "and writes nothing. "
        "Exit code 0, or 1 if some payment could not be allocated (each is reported)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allocated_payments = self.splits = self.failures = 0

    def add_arguments(self, parser):
        parser.add_argument("--customer", type=int, metavar="ID", help="Only this customer's payments.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be allocated; write nothing.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="Processes allocating at once, each the payments of its own customers (default: "
            "SETTLE_AUTO_ALLOCATE_WORKERS, 2; only from SETTLE_AUTO_ALLOCATE_WORKERS_FROM waiting "
            "payments). Each customer's payments are reported in order; customers may interleave.",
        )

    def handle(self, *args, customer: int | None, dry_run: bool, workers: int | None = None, **options):
        if customer is not None and not Customer.objects.filter(pk=customer).exists():
            raise CommandError(f"No customer with id {customer}.")
        workers = settings.SETTLE_AUTO_ALLOCATE_WORKERS if workers is None else workers
        if workers < 1:
            raise CommandError("--workers must be 1 or more.")
        waiting = list(waiting_payments(customer).values_list("pk", "customer_id"))
        if dry_run:
            self.plan_one_by_one([pk for pk, _ in waiting])
        elif processes.worth_sharing(
            workers, parts=len(waiting), rows=len(waiting), at_least=settings.SETTLE_AUTO_ALLOCATE_WORKERS_FROM
        ):
            self.allocate_in_workers(parts_by_customer(waiting, workers))
        else:
            self.allocate([pk for pk, _ in waiting])
        verb = "Dry run, nothing was written: would allocate" if dry_run else "Allocated"
        summary = f"{verb} {self.allocated_payments} payment(s) over {self.splits} invoice(s)"
        self.stdout.write(summary + (f"; {self.failures} payment(s) failed." if self.failures else "."))
        if self.failures:
            raise SystemExit(1)

    def allocate(self, payment_ids: list[int]) -> None:
        for start in range(0, len(payment_ids), CHUNK):
            self.allocate_chunk(payment_ids[start : start + CHUNK])

    def allocate_in_workers(self, parts: list[list[int]]) -> None:
        """Each list in a process of its own (parts_by_customer); their reports one after another."""
        with processes.pool(len(parts)) as pool:
            for allocated, splits, failures, report in pool.map(allocation_workers.allocate_part, parts):
                self.allocated_payments += allocated
                self.splits += splits
                self.failures += failures
                self.stdout.write(report, ending="")

    def allocate_chunk(self, payment_ids: list[int]) -> None:
        """CHUNK payments in one transaction and one set-based write (auto_allocate_many, as the
        bank import allocates its credits); if anything in it moved or is refused, one by one."""
        payments = list(
            Payment.objects.select_related("customer").filter(pk__in=payment_ids).order_by("received_at", "id")
        )
        numbers = chunk_preferred_numbers(payments)
        try:
            with transaction.atomic():
                done = auto_allocate_many(
                    payments, preferred=[numbers.get(p.pk, []) for p in payments], by=None, recorded_earlier=True
                )
        except (BillingError, DatabaseError):
            self.allocate_one_by_one(payment_ids)
            return
        for payment, (rows, plan) in zip(payments, done, strict=True):
            head = waiting_head(payment)
            if not plan:
                self.stdout.write(f"{head}; no open invoice to allocate to.")
                continue
            reasons = {split.invoice.pk: split.reason for split in plan}
            self.report(
                head,
                [(row.invoice.number, row.amount, reasons.get(row.invoice_id, row.reason)) for row in rows],
                payment,
                "allocated",
            )

    def allocate_one_by_one(self, payment_ids: list[int]) -> None:
        for payment_id in payment_ids:
            payment = Payment.objects.select_related("customer").get(pk=payment_id)
            numbers = preferred_numbers(payment)
            plan = plan_auto_allocation(payment, preferred_numbers=numbers)
            head = waiting_head(payment)
            if not plan:
                self.stdout.write(f"{head}; no open invoice to allocate to.")
                continue
            reasons = {split.invoice.pk: split.reason for split in plan}
            try:
                rows = auto_allocate(payment, preferred_numbers=numbers, by=None)
            except BillingError as exc:
                self.failures += 1
                self.stdout.write(f"{head}; not allocated: {exc}")
                continue
            lines = [(row.invoice.number, row.amount, reasons.get(row.invoice_id, row.reason)) for row in rows]
            self.report(head, lines, payment, "allocated")

    def plan_one_by_one(self, payment_ids: list[int]) -> None:
        """The dry run: each payment planned after the earlier ones' plans, nothing written."""
        planned: dict[int, Decimal] = defaultdict(Decimal)
        for payment_id in payment_ids:
            payment = Payment.objects.select_related("customer").get(pk=payment_id)
            plan = plan_auto_allocation(payment, preferred_numbers=preferred_numbers(payment), already_planned=planned)
            head = waiting_head(payment)
            if not plan:
                self.stdout.write(f"{head}; no open invoice to allocate to.")
                continue
            for split in plan:
                planned[split.invoice.pk] += split.amount
            self.report(
                head, [(split.invoice.number, split.amount, split.reason) for split in plan], payment, "would allocate"
            )

    def report(self, head: str, lines: list, payment: Payment, verb: str) -> None:
        self.allocated_payments += 1
        self.splits += len(lines)
        self.stdout.write(f"{head}; {verb}:")
        for number, amount, reason in lines:
            self.stdout.write(f"    {number} {format_money(amount, payment.currency)} ({reason})")
