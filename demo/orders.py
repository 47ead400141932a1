"""Demo orders (issue 12): one worked example per thing an order can go through, only through the services.

Seeded after the invoices and the money (demo.books.build), in one transaction in the
main process, so the order and invoice numbers follow from the seed whatever the number
of workers. Every billing status (not invoiced, partially invoiced, invoiced), every
payment status an order reaches through the services (unpaid, partially paid, paid,
and overpaid: a price concession after full payment), both invoicing policies, a fee
added after payment, a partial shipment, a return credited by quantity without
reopening it and a re-shipment credited with reopen_quantity, a canceled order, a
deposit applied at invoicing, and one payment over invoices of two orders.

Orders are in euros, for customers whose books are in euros (the first ones if none).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from allocations.services import allocate, allocate_many
from billing.models import Customer, Provider
from demo.data import PROVIDERS
from invoices.models import Invoice, InvoiceLine
from invoices.services import issue_credit_note
from orders.models import Order, OrderLine
from orders.services import add_order_line, cancel_order_lines, create_order, invoice_order, record_delivery
from payments.models import Payment
from payments.services import record_payment

D = Decimal
CURRENCY = "EUR"


class OrderBooks:
    """The demo's orders; `events` counts what was done, as demo.books.Counts does."""

    def __init__(self, customers: list[Customer], providers: list[Provider]) -> None:
        euro = [c for c in customers if not Invoice.objects.filter(customer=c).exclude(currency=CURRENCY).exists()]
        self.customers = euro or customers
        self.providers = sorted(providers, key=lambda p: p.code)
        self.catalog = {code: items for code, _name, items in PROVIDERS}
        self.today = timezone.localdate()
        self.turn = 0
        self.references = 0
        self.events: dict[str, int] = {}
        self.invoices = 0
        self.payments = 0

    # Helpers: who buys, what, and money in.

    def next_party(self, provider_offset: int = 0) -> tuple[Customer, Provider]:
        customer = self.customers[self.turn % len(self.customers)]
        provider = self.providers[(self.turn + provider_offset) % len(self.providers)]
        self.turn += 1
        return customer, provider

    def items(self, provider: Provider, *quantities: object) -> list[tuple[str, object, str]]:
        catalog = self.catalog[provider.code]
        return [
            (f"{description} ({unit})", quantity, price)
            for (description, unit, price), quantity in zip(catalog, quantities, strict=False)
        ]

    def note(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1

    def invoice(self, order: Order, **kwargs) -> Invoice:
        self.invoices += 1
        return invoice_order(order, by=None, **kwargs)

    def pay(self, customer: Customer, amount: Decimal, *, days_ago: int) -> Payment:
        self.references += 1
        self.payments += 1
        received = datetime.datetime.combine(self.today - datetime.timedelta(days=days_ago), datetime.time(11))
        return record_payment(
            customer=customer,
            amount=amount,
            currency=CURRENCY,
            method="bank_transfer",
            reference=f"DEMO-ORDER-{self.references:03d}",
            received_at=timezone.make_aware(received),
            by=None,
        )

    def pay_invoice(self, invoice: Invoice, amount: Decimal | None = None, *, days_ago: int = 1) -> Payment:
        amount = invoice.balance_due if amount is None else amount
        payment = self.pay(Customer.objects.get(pk=invoice.customer_id), amount, days_ago=days_ago)
        allocate(payment, invoice, amount, note=f"Remittance: {invoice.number}", by=None)
        return payment

    # The worked examples, each ending in the statuses its name says.

    def not_invoiced_as_ordered(self) -> None:
        customer, provider = self.next_party()
        create_order(customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 2, 1), by=None)
        self.note("order placed, not invoiced (as ordered)")

    def not_invoiced_part_delivered(self) -> None:
        customer, provider = self.next_party()
        order = create_order(
            customer=customer,
            provider=provider,
            currency=CURRENCY,
            lines=self.items(provider, 6, 2),
            invoicing="delivered",
            by=None,
        )
        first = OrderLine.objects.get(order=order, position=1)
        record_delivery(order, quantities={first: 2}, by=None)
        self.note("delivery recorded, not invoiced yet (as delivered)")

    def canceled(self) -> None:
        customer, provider = self.next_party()
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 3), by=None
        )
        line = OrderLine.objects.get(order=order, position=1)
        cancel_order_lines(order, quantities={line: 3}, reason="Customer withdrew the order", by=None)
        self.note("order canceled")

    def partial_shipment(self, *, ship_the_rest: bool) -> None:
        """Order 10, ship 8, invoice 8 and pay part of it; optionally ship and invoice the other 2."""
        customer, provider = self.next_party()
        order = create_order(
            customer=customer,
            provider=provider,
            currency=CURRENCY,
            lines=self.items(provider, 10),
            invoicing="delivered",
            by=None,
        )
        line = OrderLine.objects.get(order=order, position=1)
        record_delivery(order, quantities={line: 8}, by=None)
        first = self.invoice(order)
        self.pay_invoice(first, (first.balance_due / 2).quantize(D("0.01")), days_ago=3)
        self.note("partial shipment invoiced")
        if ship_the_rest:
            record_delivery(order, quantities={line: 2}, by=None)
            self.invoice(order)
            self.note("rest of a shipment invoiced")

    def fee_after_payment(self, *, invoice_the_fee: bool, pay_the_fee: bool) -> None:
        """Pay the items, then a fee appears: billed alone on a second invoice, paid by a second payment."""
        customer, provider = self.next_party()
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 2), by=None
        )
        self.pay_invoice(self.invoice(order), days_ago=6)
        add_order_line(order, description="Bulky item surcharge", quantity=1, unit_price="15.00", by=None)
        self.note("fee added after payment")
        if invoice_the_fee:
            fee = self.invoice(order)
            if pay_the_fee:
                self.pay_invoice(fee, days_ago=0)

    def invoiced_unpaid(self) -> None:
        customer, provider = self.next_party()
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 1, 3), by=None
        )
        self.invoice(order)
        self.note("order invoiced, unpaid")

    def return_and_reship(self) -> None:
        """Invoice 10; 3 returned (credited, not reopened); 3 broken and re-shipped (credited with
        reopen_quantity) and invoiced again; the rest paid."""
        customer, provider = self.next_party()
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 10), by=None
        )
        invoice = self.invoice(order)
        billed = InvoiceLine.objects.get(invoice=invoice, position=1)
        issue_credit_note(invoice, lines={billed: 3}, reason="3 returned", reason_code="return", by=None)
        self.note("return credited by quantity (not reopened)")
        issue_credit_note(
            invoice,
            lines={billed: 3},
            reason="3 arrived broken, re-shipped",
            reason_code="return",
            reopen_quantity=True,
            by=None,
        )
        self.note("credited with reopen_quantity")
        self.invoice(order)
        invoice.refresh_from_db()
        self.pay_invoice(invoice, days_ago=2)

    def goodwill_after_payment(self) -> None:
        """Paid in full, then a price concession by amount: the order is overpaid (money to refund or reuse)."""
        customer, provider = self.next_party()
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 4), by=None
        )
        invoice = self.invoice(order)
        self.pay_invoice(invoice, days_ago=5)
        amount = (invoice.total * D("0.1")).quantize(D("0.01"))
        issue_credit_note(invoice, amount=amount, reason="Late delivery discount", by=None)
        self.note("price concession after payment (overpaid)")

    def deposit(self) -> None:
        """A deposit waits unallocated, then is applied at invoicing (apply_credit), oldest money first."""
        customer, provider = self.next_party()
        self.pay(customer, D("40.00"), days_ago=10)
        order = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 3), by=None
        )
        self.invoice(order, apply_credit=True)
        self.note("deposit applied at invoicing")

    def one_payment_two_orders(self) -> None:
        customer, provider = self.next_party()
        other = self.providers[(self.providers.index(provider) + 1) % len(self.providers)]
        first = create_order(
            customer=customer, provider=provider, currency=CURRENCY, lines=self.items(provider, 1), by=None
        )
        second = create_order(customer=customer, provider=other, currency=CURRENCY, lines=self.items(other, 2), by=None)
        invoices = [self.invoice(first), self.invoice(second)]
        payment = self.pay(customer, sum((i.balance_due for i in invoices), D(0)), days_ago=1)
        allocate_many(payment, [(i, i.balance_due) for i in invoices], note="One transfer for two orders", by=None)
        self.note("one payment over invoices of two orders")

    def run(self) -> None:
        examples: list[Callable[[], None]] = [
            self.not_invoiced_as_ordered,
            self.not_invoiced_part_delivered,
            self.canceled,
            lambda: self.partial_shipment(ship_the_rest=False),
            lambda: self.partial_shipment(ship_the_rest=True),
            lambda: self.fee_after_payment(invoice_the_fee=True, pay_the_fee=True),
            lambda: self.fee_after_payment(invoice_the_fee=True, pay_the_fee=False),
            lambda: self.fee_after_payment(invoice_the_fee=False, pay_the_fee=False),
            self.invoiced_unpaid,
            self.return_and_reship,
            self.goodwill_after_payment,
            self.deposit,
            self.one_payment_two_orders,
        ]
        for example in examples:
            example()


def seed_orders(customers: list[Customer], providers: list[Provider]) -> OrderBooks:
    """Seed the demo orders in one transaction; returns what was done."""
    books = OrderBooks(customers, providers)
    with transaction.atomic():
        books.run()
    return books
