"""A believable, deterministic demo ledger, written only through the services.

Used by `manage.py seed_demo`. Parties are bulk-created (they are not money); every
invoice, payment, allocation, credit note, refund, chargeback, cancel and void goes
through the public services of DESIGN.md §7, so demo data obeys the same invariants
as real data. Dates are relative to today, so every aging bucket is populated.

Each customer draws from its own random generator, so the same seed on the same day
gives the same customers, invoices, amounts, statuses and invoice numbers, whatever
order the work runs in. To fit the time budget the work can run in parallel worker
processes: invoices one provider per task (issue order, hence numbering, stays
fixed), then the money one group of customers per task (customers never share rows).
Database ids, which are not business data, then depend on scheduling.
"""

from __future__ import annotations

import datetime
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone

from allocations.services import allocate, allocate_many, auto_allocate
from billing.models import Customer, Provider
from billing.money import minor_unit, split_amount
from demo.data import BUSINESS, FIRST, LAST, METHODS, PROVIDERS, RATES, SUFFIX
from demo.orders import seed_orders
from demo.plans import seed_plans
from demo.registrations import seed_registrations
from invoices.models import Invoice
from invoices.services import create_invoice, issue_credit_note, issue_invoice, void_invoice
from payments.models import Payment
from payments.services import cancel_payment, record_chargeback, record_payment, refund_payment

D = Decimal

# Scenarios every demo has (the first customers get one each), then at these rates.
FORCED = [
    "overallocated",
    "overpaid",
    "pending",
    "cancel",
    "chargeback",
    "refund",
    "split",
    "on_account",
    "overpay",
    "void_paid",
    "credit",
    "auto",
]
RATE = {
    "overallocated": 0.02,
    "overpaid": 0.04,
    "pending": 0.01,
    "cancel": 0.04,
    "chargeback": 0.04,
    "refund": 0.05,
    "split": 0.3,
    "on_account": 0.12,
    "overpay": 0.1,
    "void_paid": 0.03,
    "credit": 0.1,
    "auto": 0.25,
}


@dataclass
class Counts:
    invoices: int = 0
    payments: int = 0
    events: dict[str, int] = field(default_factory=dict)

    def note(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1

    def add(self, other: Counts) -> None:
        self.invoices += other.invoices
        self.payments += other.payments
        for event, number in other.events.items():
            self.events[event] = self.events.get(event, 0) + number


@dataclass(frozen=True)
class InvoicePlan:
    key: tuple[int, int]  # (customer index, invoice index)
    customer_id: int
    provider_id: int
    currency: str
    lines: tuple[tuple[str, str, Decimal], ...]
    issue_date: datetime.date | None  # None: stays a draft
    due_date: datetime.date


@dataclass(frozen=True)
class CustomerPlan:
    seed: int
    index: int
    customer_id: int
    currency: str
    scenarios: frozenset[str]
    invoices: tuple[InvoicePlan, ...]


def price(eur: str, currency: str) -> Decimal:
    return (D(eur) * RATES[currency]).quantize(minor_unit(currency))


# Parties: not money, so bulk-created.


def create_parties(count: int, seed: int) -> tuple[list[Provider], list[Customer]]:
    providers = [Provider.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name, _ in PROVIDERS]
    rng = random.Random(f"{seed}-parties")
    start = Customer.objects.count() + 1
    made = []
    for number in range(start, start + count):
        if rng.random() < 0.35:
            name = f"{rng.choice(LAST)} {rng.choice(BUSINESS)} {rng.choice(SUFFIX)}".strip()
            slug = "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch == "-")
            email = f"accounts@{slug}.example"
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            email = (
                "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".") + f"{number}@example.com"
            )
        phone = f"+31 {rng.randint(10, 79)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        made.append(Customer(name=name, email=email, phone=phone, reference=f"C-{number:05d}"))
    return providers, Customer.objects.bulk_create(made)


def plan(customers: list[Customer], providers: list[Provider], seed: int, today: datetime.date) -> list[CustomerPlan]:
    catalogs = {code: catalog for code, _name, catalog in PROVIDERS}
    plans = []
    for index, customer in enumerate(customers):
        rng = random.Random(f"{seed}-{index}-invoices")
        currency = {3: "USD", 6: "GBP", 9: "JPY"}.get(index) or rng.choices(
            ["EUR", "USD", "GBP", "JPY"], weights=[94, 3, 2, 1]
        )[0]
        scenarios = {name for name, rate in RATE.items() if rng.random() < rate}
        if index < len(FORCED):
            scenarios.add(FORCED[index])
        own = rng.sample(providers, k=2 if "split" in scenarios else rng.choice([1, 2, 2, 3]))
        invoices, dates_taken = [], set()
        for number in range(rng.randint(6, 14)):
            provider = rng.choice(own)
            lines = tuple(
                (
                    f"{description} ({unit})",
                    rng.choice(["1", "1", "2", "3", "4", "1.5", "2.5", "6", "12"]),
                    price(eur, currency),
                )
                for description, unit, eur in rng.sample(catalogs[provider.code], k=rng.randint(1, 3))
            )
            if rng.random() < 0.03:
                issue_date, due_date = None, today + datetime.timedelta(days=rng.randint(10, 40))
            else:
                issue_date = today - datetime.timedelta(days=rng.randint(0, 175))
                terms = datetime.timedelta(days=rng.choice([14, 30, 30, 30, 45]))
                # No two invoices of a customer share both dates: the services break such ties by
                # database id, which is not the same from run to run when the work runs in parallel.
                while (issue_date, issue_date + terms) in dates_taken:
                    issue_date -= datetime.timedelta(days=1)
                due_date = issue_date + terms
                dates_taken.add((issue_date, due_date))
            invoices.append(
                InvoicePlan((index, number), customer.pk, provider.pk, currency, lines, issue_date, due_date)
            )
        plans.append(CustomerPlan(seed, index, customer.pk, currency, frozenset(scenarios), tuple(invoices)))
    return plans


# Running tasks: in this process (inside the caller's transaction), or in worker processes.


class Progress:
    """Prints a line every `every` invoices, counted across worker processes."""

    def __init__(self, write: Callable[[str], None], every: int = 500) -> None:
        self.write, self.every = write, every
        self.value = multiprocessing.get_context("fork").Value("i", 0)

    def tick(self) -> None:
        with self.value.get_lock():
            self.value.value += 1
            if self.value.value % self.every == 0:
                self.write(f"  {self.value.value} invoices...")


_progress: Progress | None = None


def _init_worker(progress: Progress) -> None:
    global _progress
    _progress = progress


def run_tasks(function, tasks: list, *, workers: int, progress: Progress) -> list:
    _init_worker(progress)
    if workers <= 1:
        return [function(task) for task in tasks]
    # Children must not share the parent's database connection: close it before forking.
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(progress,)) as pool:
        return pool.map(function, tasks, chunksize=1)


def invoices_task(plans: list[InvoicePlan]) -> list[tuple[tuple[int, int], int]]:
    """Create and issue one provider's invoices in plan order, so the numbers follow the plan."""
    made = []
    with transaction.atomic():
        for item in plans:
            invoice = create_invoice(
                customer=Customer(pk=item.customer_id),
                provider=Provider(pk=item.provider_id),
                currency=item.currency,
                lines=item.lines,
                due_date=item.due_date,
                issue_date=item.issue_date,
                by=None,
            )
            if item.issue_date is not None:
                issue_invoice(invoice, by=None)
            made.append((item.key, invoice.pk))
            assert _progress is not None, "run_tasks sets the progress counter (in each worker) before a task runs"
            _progress.tick()
    return made


def money_task(work: list[tuple[CustomerPlan, list[int]]]) -> Counts:
    counts = Counts()
    with transaction.atomic():
        for customer_plan, invoice_ids in work:
            counts.add(CustomerBooks(customer_plan, invoice_ids).run())
    return counts


# Money: only through the services.


class CustomerBooks:
    """Payments, allocations and the events after them, for one customer."""

    def __init__(self, customer_plan: CustomerPlan, invoice_ids: list[int]) -> None:
        self.plan = customer_plan
        self.customer = Customer.objects.get(pk=customer_plan.customer_id)
        self.currency = customer_plan.currency
        self.unit = minor_unit(self.currency)
        self.invoice_ids = invoice_ids
        self.rng = random.Random(f"{customer_plan.seed}-{customer_plan.index}-money")
        self.today = timezone.localdate()
        self.counts = Counts()
        self.references = 0

    def event(self, name: str, service, *args, **kwargs):
        """Run a service as the system (the demo seeder acts for nobody)."""
        self.counts.note(name)
        return service(*args, by=None, **kwargs)

    def payment(self, amount: Decimal, *, when: datetime.date, pending: bool = False) -> Payment:
        method = self.rng.choice(METHODS)
        self.references += 1
        received = datetime.datetime.combine(min(when, self.today), datetime.time(9 + self.rng.randint(0, 8)))
        reference = f"DEMO-{self.customer.reference}-{self.references:03d}" if method == "bank_transfer" else None
        self.counts.payments += 1
        return record_payment(
            customer=self.customer,
            amount=amount,
            currency=self.currency,
            method=method,
            reference=reference,
            received_at=timezone.make_aware(received),
            pending=pending,
            by=None,
        )

    def open_invoices(self, **filters) -> list[Invoice]:
        """Oldest due first; ties in plan order (database ids depend on scheduling)."""
        found = Invoice.objects.filter(pk__in=self.invoice_ids, state="open", **filters)
        return sorted(found, key=lambda invoice: (invoice.due_date, self.invoice_ids.index(invoice.pk)))

    def run(self) -> Counts:
        self.counts.invoices = len(self.invoice_ids)
        paid_in_full = self.pay_invoices()
        self.events_after(paid_in_full)
        return self.counts

    def pay_invoices(self) -> list[tuple[Invoice, Payment]]:
        """Older invoices are more likely paid: in full, in installments, in part, or not yet."""
        rng, scenarios, unit = self.rng, self.plan.scenarios, self.unit
        paid_in_full = []
        for invoice in self.open_invoices():
            issued = invoice.issue_date
            assert issued is not None, f"open invoice {invoice} has an issue date"
            chance = min(0.85, 0.15 + (self.today - issued).days / 160)
            roll = rng.random()
            if "credit" in scenarios and rng.random() < 0.3:
                amount = (invoice.total * D("0.1")).quantize(unit)
                self.event("credit note", issue_credit_note, invoice, amount=amount, reason="Goodwill discount")
            balance = invoice.balance_due  # the services refresh the instance they are given
            paid_on = issued + datetime.timedelta(days=rng.randint(3, 50))
            if roll < chance * 0.7:
                extra = (balance * D("0.2")).quantize(unit) if "overpay" in scenarios and rng.random() < 0.3 else 0
                payment = self.payment(balance + extra, when=paid_on)
                allocate(payment, invoice, balance, note=f"Remittance: {invoice.number}", by=None)
                paid_in_full.append((invoice, payment))
                if extra and "refund" in scenarios:
                    self.event("refund", refund_payment, payment, amount=extra, reason="Paid too much")
            elif roll < chance:
                parts = rng.choice([2, 2, 3])
                paid = parts if rng.random() < 0.5 else parts - 1
                for n, part in enumerate(split_amount(balance, parts, self.currency)[:paid]):
                    when = issued + datetime.timedelta(days=7 + 20 * n)
                    allocate(
                        self.payment(part, when=when), invoice, part, note=f"Installment {n + 1} of {parts}", by=None
                    )
            elif roll < chance + 0.1 and balance > unit * 10:
                part = (balance * D(rng.choice(["0.25", "0.4", "0.5"]))).quantize(unit)
                allocate(self.payment(part, when=paid_on), invoice, part, note="Part payment", by=None)
        return paid_in_full

    def events_after(self, paid_in_full: list[tuple[Invoice, Payment]]) -> None:
        rng, scenarios, currency = self.rng, self.plan.scenarios, self.currency
        recently = self.today - datetime.timedelta(days=rng.randint(0, 20))
        unpaid = self.open_invoices(payment_status="unpaid")
        if "split" in scenarios:
            # One transfer for invoices of several providers.
            chosen = list({invoice.provider_id: invoice for invoice in reversed(unpaid)}.values())[:3]
            if len(chosen) >= 2:
                payment = self.payment(sum((i.balance_due for i in chosen), D(0)), when=recently)
                self.event(
                    "payment over several providers",
                    allocate_many,
                    payment,
                    [(i, i.balance_due) for i in chosen],
                    note="One transfer for several invoices",
                )
                unpaid = [i for i in unpaid if i not in chosen]
        if "on_account" in scenarios:
            payment = self.payment(price(rng.choice(["50.00", "120.00", "300.00"]), currency), when=recently)
            self.counts.note("payment on account")
            if "auto" in scenarios and unpaid:
                self.event("auto-allocation", auto_allocate, payment)
        elif "auto" in scenarios and unpaid:
            self.event("auto-allocation", auto_allocate, self.payment(unpaid[-1].balance_due, when=recently))
        if "pending" in scenarios:
            self.payment(price("75.00", currency), when=self.today, pending=True)
            self.counts.note("pending payment")
        if paid_in_full and "overpaid" in scenarios:
            invoice, _ = paid_in_full.pop()
            self.event(
                "credit note after payment (overpaid)",
                issue_credit_note,
                invoice,
                amount=(invoice.total * D("0.15")).quantize(self.unit),
                reason="Service level not met",
            )
        if paid_in_full and "chargeback" in scenarios:
            _, payment = paid_in_full.pop()
            self.event(
                "chargeback (invoice reopened)",
                record_chargeback,
                payment,
                amount=payment.allocated_total,
                reason="Card dispute",
            )
        if paid_in_full and "overallocated" in scenarios:
            _, payment = paid_in_full.pop()
            with override_settings(SETTLE_CHARGEBACK_REVERSAL="manual"):
                self.event(
                    "chargeback left overallocated",
                    record_chargeback,
                    payment,
                    amount=(payment.allocated_total / 2).quantize(self.unit),
                    reason="Partial dispute",
                )
        if paid_in_full and "cancel" in scenarios:
            _, payment = paid_in_full.pop()
            self.event("canceled payment", cancel_payment, payment, reason="Bounced: recorded in error")
        if paid_in_full and "void_paid" in scenarios:
            invoice, _ = paid_in_full.pop(0)
            self.event("void after payment", void_invoice, invoice, reason="Duplicate of a later invoice")
        elif unpaid and rng.random() < 0.2:
            self.event("void", void_invoice, unpaid[-1], reason="Issued to the wrong customer")


def build(*, customers: int, seed: int, workers: int, write: Callable[[str], None]) -> Counts:
    """Seed the demo books; returns what was made.

    With workers > 1 the parties must be committed before the workers start, so the
    caller must not hold a transaction open; with one worker everything runs here.
    """
    today = timezone.localdate()
    providers, made = create_parties(customers, seed)
    plans = plan(made, providers, seed, today)
    progress = Progress(write)
    by_provider: dict[int, list[InvoicePlan]] = {provider.pk: [] for provider in providers}
    for customer_plan in plans:
        for item in customer_plan.invoices:
            by_provider[item.provider_id].append(item)
    ids: dict[tuple[int, int], int] = {}
    started = time.monotonic()
    # One task per provider; with workers, one process per provider too, so the
    # uneven provider sizes do not leave a worker idle while another finishes.
    invoice_workers = max(workers, len(by_provider)) if workers > 1 else 1
    for made_ids in run_tasks(invoices_task, list(by_provider.values()), workers=invoice_workers, progress=progress):
        ids.update(made_ids)
    write(f"  {len(ids)} invoices in {time.monotonic() - started:.1f} s; now the payments...")
    started = time.monotonic()
    work = [(p, [ids[item.key] for item in p.invoices]) for p in plans]
    chunks = [work[start :: max(1, workers * 4)] for start in range(max(1, workers * 4))]
    counts = Counts()
    for chunk_counts in run_tasks(money_task, [c for c in chunks if c], workers=workers, progress=progress):
        counts.add(chunk_counts)
    write(f"  {counts.payments} payments and what followed them in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    orders = seed_orders(made, providers)
    counts.add(Counts(invoices=orders.invoices, payments=orders.payments, events=orders.events))
    write(f"  {sum(orders.events.values())} order events in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    plan_books = seed_plans(made, providers)
    counts.add(Counts(invoices=plan_books.invoices, payments=plan_books.payments, events=plan_books.events))
    write(f"  {sum(plan_books.events.values())} plan events in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    workshops = seed_registrations(made, providers)
    counts.add(Counts(invoices=workshops.invoices, payments=workshops.payments, events=workshops.events))
    write(f"  {sum(workshops.events.values())} registration events in {time.monotonic() - started:.1f} s")
    return counts
