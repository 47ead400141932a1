"""manage.py auto_allocate: apply the automatic allocation rule (DESIGN.md §6) to waiting money."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from allocations.rules import find_invoice_numbers
from allocations.services import auto_allocate, plan_auto_allocation
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
        "open invoices first (due date, issue date, id) until the money runs out. Each payment is its "
        "own transaction. --dry-run prints the plan with the reason of each match and writes nothing. "
        "Exit code 0, or 1 if some payment could not be allocated (each is reported)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customer", type=int, metavar="ID", help="Only this customer's payments.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be allocated; write nothing.")

    def handle(self, *args, customer: int | None, dry_run: bool, **options):
        if customer is not None and not Customer.objects.filter(pk=customer).exists():
            raise CommandError(f"No customer with id {customer}.")
        # Planned amounts per invoice, so a dry run plans each payment after the earlier ones.
        planned: dict[int, Decimal] = defaultdict(Decimal)
        allocated_payments = splits = failures = 0
        for payment_id in list(waiting_payments(customer).values_list("pk", flat=True)):
            payment = Payment.objects.select_related("customer").get(pk=payment_id)
            numbers = preferred_numbers(payment)
            plan = plan_auto_allocation(
                payment, preferred_numbers=numbers, already_planned=planned if dry_run else None
            )
            head = f"{payment} {payment.customer}: {format_money(payment.unallocated, payment.currency)} unallocated"
            if not plan:
                self.stdout.write(f"{head}; no open invoice to allocate to.")
                continue
            if dry_run:
                lines = [(split.invoice.number, split.amount, split.reason) for split in plan]
                for split in plan:
                    planned[split.invoice.pk] += split.amount
            else:
                reasons = {split.invoice.pk: split.reason for split in plan}
                try:
                    rows = auto_allocate(payment, preferred_numbers=numbers, by=None)
                except BillingError as exc:
                    failures += 1
                    self.stdout.write(f"{head}; not allocated: {exc}")
                    continue
                lines = [(row.invoice.number, row.amount, reasons.get(row.invoice_id, row.reason)) for row in rows]
            allocated_payments += 1
            splits += len(lines)
            self.stdout.write(f"{head}; {'would allocate' if dry_run else 'allocated'}:")
            for number, amount, reason in lines:
                self.stdout.write(f"    {number} {format_money(amount, payment.currency)} ({reason})")
        verb = "Dry run, nothing was written: would allocate" if dry_run else "Allocated"
        summary = f"{verb} {allocated_payments} payment(s) over {splits} invoice(s)"
        self.stdout.write(summary + (f"; {failures} payment(s) failed." if failures else "."))
        if failures:
            raise SystemExit(1)
