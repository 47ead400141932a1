"""Every action: who may do it, what it writes, its errors (with nothing written), its confirmation
step and its safety against a double submit."""

from __future__ import annotations

import datetime
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from allocations.models import Allocation
from allocations.services import allocate, allocate_many, plan_auto_allocation
from invoices.models import Invoice
from payments.models import Payment
from payments.services import record_payment
from submissions.flow import ALREADY_SUBMITTED
from submissions.models import FormSubmission
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    admin,
    client_for,
    finance,
    finance_user,
    form_token,
    ledger_counts,
    make_user,
    superuser,
    support,
    support_user,
    text,
)

D = Decimal
pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def inputs(page: str) -> dict[str, str]:
    """The split form's amount inputs and their values ('' when empty)."""
    found = {}
    for tag in re.findall(r'<input [^>]*name="amount_\d+"[^>]*>', page):
        value = re.search(r'value="([^"]*)"', tag)
        found[re.search(r'name="(amount_\d+)"', tag).group(1)] = value.group(1) if value else ""
    return found


# --- Who may do what ----------------------------------------------------------------------------


@pytest.fixture
def world(customer, provider, finance_user):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    draft = make_invoice(customer=customer, provider=provider, issue=False)
    payment = make_payment(customer=customer, amount="150.00")
    allocate(payment, invoice, "40.00", by=finance_user)
    pending = record_payment(customer=customer, amount="5.00", currency="EUR", method="cash", pending=True, by=None)
    return {"invoice": invoice, "draft": draft, "payment": payment, "pending": pending}


ACTIONS = [
    # (url name, object, has a GET page)
    ("invoices:issue", "draft", False),
    ("invoices:void", "invoice", True),
    ("invoices:credit", "invoice", True),
    ("invoices:new", None, True),
    ("payments:new", None, True),
    ("payments:allocate", "payment", True),
    ("payments:remaining", "payment", False),
    ("payments:deallocate", "payment", True),
    ("payments:refund", "payment", True),
    ("payments:chargeback", "payment", True),
    ("payments:cancel", "payment", True),
    ("payments:correct", "payment", True),
    ("payments:settle", "pending", False),
]


def action_url(world, name, obj):
    return reverse(name, args=[world[obj].pk]) if obj else reverse(name)


@pytest.mark.parametrize("name,obj,has_page", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_support_gets_403_naming_the_role(support, world, name, obj, has_page):
    before = ledger_counts()
    response = support.post(action_url(world, name, obj), {"amount": "1.00", "reason": "x"})
    assert response.status_code == 403
    assert "This needs the Finance role" in text(response)
    assert ledger_counts() == before
    if has_page:
        assert support.get(action_url(world, name, obj)).status_code == 403


@pytest.mark.parametrize("name,obj,has_page", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_anonymous_is_sent_to_login(world, name, obj, has_page):
    before = ledger_counts()
    response = Client().post(action_url(world, name, obj), {"amount": "1.00", "reason": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert ledger_counts() == before


@pytest.mark.parametrize("who", ["finance", "admin"])
@pytest.mark.parametrize("name,obj,has_page", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_finance_and_superuser_may_open_every_action(request, who, world, name, obj, has_page):
    client = request.getfixturevalue(who)
    response = client.get(action_url(world, name, obj))
    assert response.status_code == (200 if has_page else 405)


def test_every_post_needs_the_csrf_token(finance_user, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(finance_user)
    before = ledger_counts()
    page = client.get(reverse("invoices:void", args=[world["invoice"].pk]))
    response = client.post(
        reverse("invoices:void", args=[world["invoice"].pk]), {"form_token": form_token(page), "reason": "no csrf"}
    )
    assert response.status_code == 403
    assert ledger_counts() == before


# --- Invoice: issue, void, credit note, new draft ------------------------------------------------------


def test_issue_a_draft_once(finance, world):
    draft = world["draft"]
    token = form_token(finance.get(f"/invoices/{draft.pk}/"))
    response = finance.post(f"/invoices/{draft.pk}/issue/", {"form_token": token})
    assert response.status_code == 302 and response["Location"] == f"/invoices/{draft.pk}/"
    draft.refresh_from_db()
    assert draft.state == "open" and draft.number
    before = ledger_counts()
    again = finance.post(f"/invoices/{draft.pk}/issue/", {"form_token": token})
    assert again["Location"] == f"/invoices/{draft.pk}/"
    assert ALREADY_SUBMITTED in messages_of(again)
    assert ledger_counts() == before


@pytest.fixture
def paid_by_two(customer, provider, finance_user):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    first = make_payment(customer=customer, amount="60.00")
    second = make_payment(customer=customer, amount="40.00")
    allocate(first, invoice, "60.00", by=finance_user)
    allocate(second, invoice, "40.00", by=finance_user)
    return invoice, first, second


def test_void_confirmation_states_exactly_what_will_happen_and_writes_nothing(finance, paid_by_two):
    invoice, first, second = paid_by_two
    before = ledger_counts()
    page = text(finance.get(f"/invoices/{invoice.pk}/void/"))
    assert (
        f"2 allocations totalling 100.00 EUR will be reversed; payments {first} and {second} become unallocated."
    ) in page
    assert ledger_counts() == before  # the preview was rolled back
    invoice.refresh_from_db()
    first.refresh_from_db()
    assert (invoice.state, invoice.payment_status, first.allocation_status) == ("open", "paid", "fully_allocated")


def test_void_needs_a_reason_then_voids_once(finance, paid_by_two):
    invoice, first, second = paid_by_two
    url = f"/invoices/{invoice.pk}/void/"
    token = form_token(finance.get(url))
    before = ledger_counts()

    response = finance.post(url, {"form_token": token, "reason": "  "})
    assert response.status_code == 200
    assert re.search(r'class="field has-error">\s*<label for="id_reason">', text(response))
    assert "Give a reason to void invoice" in text(response)
    assert ledger_counts() == before

    response = finance.post(url, {"form_token": token, "reason": "billed twice"})
    assert response["Location"] == f"/invoices/{invoice.pk}/"
    invoice.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert invoice.state == "void"
    assert first.allocation_status == second.allocation_status == "unallocated"

    after = ledger_counts()
    replay = finance.post(url, {"form_token": token, "reason": "billed twice"})
    assert replay["Location"] == f"/invoices/{invoice.pk}/" and ALREADY_SUBMITTED in messages_of(replay)
    assert ledger_counts() == after


def test_void_page_of_a_void_invoice_refuses(finance, world, finance_user):
    from invoices.services import void_invoice

    void_invoice(world["invoice"], by=finance_user, reason="x")
    page = text(finance.get(f"/invoices/{world['invoice'].pk}/void/"))
    assert "is already void" in page and "form_token" not in page


@pytest.mark.parametrize(
    "amount,reason,field,message",
    [
        ("abc", "goodwill", "amount", "is not a number"),
        ("12.345", "goodwill", "amount", "has more decimals than EUR allows"),
        ("-5", "goodwill", "amount", "must be greater than zero"),
        ("100.01", "goodwill", "amount", "can be credited at most 100.00 EUR"),
        ("10.00", "", "reason", "Give a reason to credit invoice"),
    ],
)
def test_credit_note_errors_write_nothing_and_keep_the_input(finance, world, amount, reason, field, message):
    invoice = world["invoice"]
    url = f"/invoices/{invoice.pk}/credit/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    response = finance.post(url, {"form_token": token, "amount": amount, "reason": reason})
    page = text(response)
    assert response.status_code == 200 and message in page
    assert re.search(rf'class="field has-error">\s*<label for="id_{field}">', page)
    assert f'value="{amount}"' in page  # what the clerk typed is still there
    assert ledger_counts() == before


def test_credit_note_then_replay(finance, world):
    invoice = world["invoice"]
    url = f"/invoices/{invoice.pk}/credit/"
    token = form_token(finance.get(url))
    response = finance.post(url, {"form_token": token, "amount": "25.00", "reason": "damaged"})
    assert response["Location"] == f"/invoices/{invoice.pk}/"
    invoice.refresh_from_db()
    assert invoice.credited_total == D("25.00") and invoice.balance_due == D("35.00")
    finance.post(url, {"form_token": token, "amount": "25.00", "reason": "damaged"})
    invoice.refresh_from_db()
    assert invoice.credited_total == D("25.00")


def new_invoice_data(token, customer, provider, lines, **overrides):
    data = {
        "form_token": token,
        "customer": customer.pk,
        "provider": provider.pk,
        "currency": "EUR",
        "issue_date": "",
        "due_date": "2026-12-31",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, (description, quantity, price) in enumerate(lines):
        data.update(
            {f"lines-{i}-description": description, f"lines-{i}-quantity": quantity, f"lines-{i}-unit_price": price}
        )
    data.update(overrides)
    return data


def test_new_draft_invoice(finance, customer, provider):
    token = form_token(finance.get("/invoices/new/"))
    lines = [("Cleaning", "2", "40.00"), ("Windows", "1.5", "10.00"), ("", "", "")]
    response = finance.post("/invoices/new/", new_invoice_data(token, customer, provider, lines))
    invoice = Invoice.objects.get()
    assert response["Location"] == f"/invoices/{invoice.pk}/"
    assert (invoice.state, invoice.total, invoice.lines.count()) == ("draft", D("95.00"), 2)
    finance.post("/invoices/new/", new_invoice_data(token, customer, provider, lines))
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    "lines,message",
    [
        ([("Cleaning", "1", "12.3.4")], "is not a number"),
        ([("Cleaning", "1", "10.001")], "has more decimals than EUR allows"),
        ([("", "1", "10.00")], "Describe what is invoiced."),
        ([("Cleaning", "zero", "10.00")], "the quantity &#x27;zero&#x27; is not a number"),
        ([("", "", "")], "An invoice needs at least one line."),
    ],
)
def test_new_invoice_errors_write_nothing(finance, customer, provider, lines, message):
    token = form_token(finance.get("/invoices/new/"))
    before = ledger_counts()
    response = finance.post("/invoices/new/", new_invoice_data(token, customer, provider, lines))
    assert response.status_code == 200 and message in text(response)
    assert ledger_counts() == before


def test_new_invoice_add_a_line_without_javascript(finance, customer, provider):
    token = form_token(finance.get("/invoices/new/"))
    data = new_invoice_data(token, customer, provider, [("Cleaning", "1", "10.00")], add_line="1")
    page = text(finance.post("/invoices/new/", data))
    assert 'name="lines-TOTAL_FORMS" value="2"' in page and 'value="Cleaning"' in page
    assert Invoice.objects.count() == 0


# --- Record a payment ---------------------------------------------------------------------------------


def payment_data(token, who, **overrides):
    data = {
        "form_token": token,
        "customer": who.pk,
        "amount": "120.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "reference": "NL-2026-001",
        "received_on": "2026-11-20",
    }
    data.update(overrides)
    return data


def test_record_payment_once(finance, customer):
    token = form_token(finance.get("/payments/new/"))
    response = finance.post("/payments/new/", payment_data(token, customer))
    payment = Payment.objects.get()
    assert response["Location"] == f"/payments/{payment.pk}/"
    assert (payment.amount, payment.state, payment.reference) == (D("120.00"), "settled", "NL-2026-001")
    assert payment.received_at.date() == datetime.date(2026, 11, 20)
    replay = finance.post("/payments/new/", payment_data(token, customer))
    assert replay["Location"] == f"/payments/{payment.pk}/"  # where the first submission led
    assert ALREADY_SUBMITTED in messages_of(replay)
    assert Payment.objects.count() == 1


def test_record_the_same_bank_line_twice_finds_the_payment(finance, customer):
    for _ in range(2):
        token = form_token(finance.get("/payments/new/"))
        response = finance.post("/payments/new/", payment_data(token, customer))
    assert Payment.objects.count() == 1
    assert any("was already recorded" in m for m in messages_of(response))


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"amount": "ten"}, "amount", "is not a number"),
        ({"amount": "100.5", "currency": "JPY"}, "amount", "has more decimals than JPY allows"),
        ({"amount": "0"}, "amount", "must be greater than zero"),
        ({"received_on": "2999-01-01"}, "received_on", "cannot arrive in the future"),
        ({"customer": ""}, "customer", "This field is required"),
    ],
)
def test_record_payment_errors_write_nothing(finance, customer, overrides, field, message):
    token = form_token(finance.get("/payments/new/"))
    before = ledger_counts()
    page = text(finance.post("/payments/new/", payment_data(token, customer, **overrides)))
    assert message in page
    assert re.search(rf'class="field has-error">\s*<label for="id_{field}">', page)
    assert ledger_counts() == before


def test_record_payment_with_a_reference_of_another_payment(finance, customer):
    make_payment(customer=customer, amount="99.00", reference="NL-2026-001")
    token = form_token(finance.get("/payments/new/"))
    before = ledger_counts()
    page = text(finance.post("/payments/new/", payment_data(token, customer)))
    assert "already belongs to payment" in page and 'value="120.00"' in page
    assert ledger_counts() == before


def test_customer_search_narrows_the_select(finance, customer):
    CustomerFactory(name="Grace Hopper")
    page = text(finance.get("/payments/new/?q=grace"))
    assert "Grace Hopper" in page and "Ada Lovelace" not in page
    page = text(finance.get(f"/payments/new/?customer={customer.pk}&q=grace"))
    assert f'<option value="{customer.pk}" selected>' in page


# --- Allocate: the split form ---------------------------------------------------------------------------


ISSUED = datetime.date(2026, 10, 1)


@pytest.fixture
def three_open(customer, provider):
    a = make_invoice(
        customer=customer, provider=provider, total="50.00", due_date=datetime.date(2026, 11, 1), issue_date=ISSUED
    )
    b = make_invoice(
        customer=customer, provider=provider, total="30.00", due_date=datetime.date(2026, 11, 5), issue_date=ISSUED
    )
    c = make_invoice(
        customer=customer, provider=provider, total="70.00", due_date=datetime.date(2026, 11, 9), issue_date=ISSUED
    )
    return a, b, c


@pytest.mark.parametrize("amount,rule", [("100.00", "exact match of 2 invoices"), ("60.00", "oldest first")])
def test_split_form_is_prefilled_with_the_automatic_plan(finance, customer, three_open, amount, rule):
    payment = make_payment(customer=customer, amount=amount)
    plan = plan_auto_allocation(payment)
    page = text(finance.get(f"/payments/{payment.pk}/allocate/"))
    prefilled = {name: value for name, value in inputs(page).items() if value}
    assert prefilled == {f"amount_{split.invoice.pk}": str(split.amount) for split in plan}
    assert {split.reason for split in plan} == {rule}
    assert f'<span class="rule-reason">{rule}</span>' in page
    # every open invoice is offered, with its balance
    assert set(inputs(page)) == {f"amount_{invoice.pk}" for invoice in three_open}
    assert 'data-remaining="0.00"' in page


def test_split_with_edited_amounts_allocates_all_at_once(finance, customer, three_open):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="120.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    response = finance.post(
        url,
        {
            "form_token": token,
            f"amount_{a.pk}": "50.00",
            f"amount_{b.pk}": "10.00",
            f"amount_{c.pk}": "60",
            "note": "remittance letter",
        },
    )
    assert response["Location"] == f"/payments/{payment.pk}/"
    assert "Allocated 120.00 EUR of payment" in messages_of(response)[0]
    for invoice in three_open:
        invoice.refresh_from_db()
    payment.refresh_from_db()
    assert [a.payment_status, b.payment_status, c.payment_status] == ["paid", "partially_paid", "partially_paid"]
    assert (payment.allocation_status, payment.unallocated) == ("fully_allocated", D("0.00"))
    assert set(Allocation.objects.values_list("reason", flat=True)) == {"remittance letter"}


def test_double_submit_of_the_split_form_allocates_once(finance, customer, three_open):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="60.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    data = {"form_token": token, f"amount_{a.pk}": "20.00", f"amount_{b.pk}": "10.00"}
    first = finance.post(url, data)
    second = finance.post(url, data)
    assert first["Location"] == second["Location"] == f"/payments/{payment.pk}/"
    assert ALREADY_SUBMITTED in messages_of(second)
    assert Allocation.objects.filter(payment=payment).count() == 2
    payment.refresh_from_db()
    assert payment.allocated_total == D("30.00")


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_of_one_form_allocate_once(customer, provider):
    """Two requests with the same token at the same moment: the unique key lets one through."""
    invoice = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="50.00")
    user = make_user("twin.clicker", "finance")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(client_for(user).get(url))
    barrier = threading.Barrier(2)
    statuses, said = [], []

    def click():
        try:
            client = client_for(user)
            barrier.wait()
            response = client.post(url, {"form_token": token, f"amount_{invoice.pk}": "50.00"})
            statuses.append(response.status_code)
            said.extend(messages_of(response))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302, 302]
    assert sorted(m.split(" ")[0] for m in said) == ["Allocated", "This"]  # one did it, one was told
    assert ALREADY_SUBMITTED in said
    assert Allocation.objects.filter(payment=payment).count() == 1
    assert FormSubmission.objects.count() == 1


def test_recalculate_without_javascript_shows_the_remaining_and_writes_nothing(finance, customer, three_open):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="100.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    page = text(
        finance.post(
            url,
            {
                "form_token": token,
                f"amount_{a.pk}": "50.00",
                f"amount_{b.pk}": "",
                f"amount_{c.pk}": "15.50",
                "recalculate": "1",
            },
        )
    )
    assert 'data-remaining="34.50"' in page and "34.50 EUR" in page
    assert inputs(page) == {f"amount_{a.pk}": "50.00", f"amount_{b.pk}": "", f"amount_{c.pk}": "15.50"}
    assert ledger_counts() == before


@pytest.mark.parametrize(
    "amounts,message",
    [
        ({"a": "50.00", "c": "60.00"}, "has only 100.00 EUR left to allocate; you asked for 110.00 EUR"),
        ({"b": "31.00"}, "has only 30.00 EUR left to pay; you asked to allocate 31.00 EUR"),
        ({"a": "-5.00"}, "must be greater than zero"),
        ({}, "Choose at least one invoice and an amount to allocate."),
    ],
)
def test_split_errors_write_nothing_and_keep_the_amounts(finance, customer, three_open, amounts, message):
    by_letter = dict(zip("abc", three_open, strict=True))
    payment = make_payment(customer=customer, amount="100.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    data = {"form_token": token} | {f"amount_{i.pk}": "" for i in three_open}
    data |= {f"amount_{by_letter[k].pk}": v for k, v in amounts.items()}
    before = ledger_counts()
    response = finance.post(url, data)
    page = text(response)
    assert response.status_code == 200 and message in page
    assert inputs(page) == {k: v for k, v in data.items() if k.startswith("amount_")}
    assert ledger_counts() == before


def test_split_amount_that_is_not_a_number_is_shown_at_its_field(finance, customer, three_open):
    a, *_ = three_open
    payment = make_payment(customer=customer, amount="100.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": token, f"amount_{a.pk}": "5O.00"}))
    assert re.search(rf'<tr class="[^"]*has-error">\s*<td><a href="/invoices/{a.pk}/">', page)
    assert "is not a number" in page and 'value="5O.00"' in page
    assert ledger_counts() == before


def test_split_to_an_invoice_paid_meanwhile_is_refused(finance, customer, three_open, finance_user):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="100.00")
    url = f"/payments/{payment.pk}/allocate/"
    token = form_token(finance.get(url))
    allocate(make_payment(customer=customer, amount="30.00"), b, "30.00", by=finance_user)  # another clerk
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": token, f"amount_{a.pk}": "50.00", f"amount_{b.pk}": "30.00"}))
    assert f"Invoice {b} has only 0.00 EUR left to pay" in page
    assert ledger_counts() == before


def test_remaining_counter_partial(finance, customer, three_open):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="100.00")
    url = f"/payments/{payment.pk}/allocate/remaining/"
    response = finance.post(url, {f"amount_{a.pk}": "50.00", f"amount_{b.pk}": "12.5"}, headers={"HX-Request": "true"})
    page = text(response)
    assert response.status_code == 200 and "<html" not in page
    assert page.strip().startswith('<div id="remaining"')
    assert 'data-remaining="37.50"' in page and "of 100.00 EUR" in page

    over = text(finance.post(url, {f"amount_{a.pk}": "50.00", f"amount_{c.pk}": "70.00"}))
    assert 'data-remaining="-20.00"' in over and "More than the payment has" in over
    bad = text(finance.post(url, {f"amount_{a.pk}": "abc", f"amount_{b.pk}": "10"}))
    assert 'data-remaining="90.00"' in bad and f"Not counted (not a valid amount): {a}" in bad


def test_split_form_wires_the_counter_with_htmx(finance, customer, three_open):
    payment = make_payment(customer=customer, amount="100.00")
    page = text(finance.get(f"/payments/{payment.pk}/allocate/"))
    assert f'hx-post="/payments/{payment.pk}/allocate/remaining/"' in page
    assert 'hx-trigger="input delay:200ms"' in page and 'hx-target="#remaining"' in page
    assert 'name="recalculate"' in page  # and without JavaScript
    assert 'class="amount" inputmode="decimal"' in page


# --- Deallocate -------------------------------------------------------------------------------------------


@pytest.fixture
def split(customer, three_open, finance_user):
    a, b, c = three_open
    payment = make_payment(customer=customer, amount="100.00")
    allocate_many(payment, [(a, "50.00"), (b, "30.00")], by=finance_user)
    return payment, a, b


def test_deallocate_part_then_all(finance, split):
    payment, a, b = split
    url = f"/payments/{payment.pk}/deallocate/"
    page = text(finance.get(f"{url}?invoice={a.pk}"))
    assert f'<option value="{a.pk}" selected>' in page
    response = finance.post(
        url,
        {"form_token": form_token(page), "invoice": a.pk, "amount": "20.00", "reason": "half was for another order"},
    )
    assert response["Location"] == f"/payments/{payment.pk}/"
    a.refresh_from_db()
    assert (a.paid_total, a.payment_status) == (D("30.00"), "partially_paid")
    token = form_token(finance.get(url))
    finance.post(url, {"form_token": token, "invoice": a.pk, "amount": "", "reason": "wrong customer"})
    a.refresh_from_db()
    payment.refresh_from_db()
    assert (a.paid_total, a.payment_status) == (D("0.00"), "unpaid")
    assert payment.allocated_total == D("30.00")


@pytest.mark.parametrize(
    "amount,reason,field,message",
    [
        ("50.01", "x", "amount", "has only 50.00 EUR on invoice"),
        ("x", "x", "amount", "is not a number"),
        ("10.00", "", "reason", "Give a reason to deallocate"),
    ],
)
def test_deallocate_errors_write_nothing(finance, split, amount, reason, field, message):
    payment, a, b = split
    url = f"/payments/{payment.pk}/deallocate/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": token, "invoice": a.pk, "amount": amount, "reason": reason}))
    assert message in page
    assert re.search(rf'class="field has-error">\s*<label for="id_{field}">', page)
    assert ledger_counts() == before


# --- Refund and chargeback: review, then confirm ----------------------------------------------------


def test_refund_page_shows_the_unallocated_amount_and_how_to_free_more(finance, split):
    payment, *_ = split
    page = text(finance.get(f"/payments/{payment.pk}/refund/"))
    assert 'id="refundable">20.00 EUR<' in page
    assert f'first <a href="/payments/{payment.pk}/deallocate/">deallocate</a>' in page


def test_refund_review_then_confirm_once(finance, split):
    payment, *_ = split
    url = f"/payments/{payment.pk}/refund/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    review = text(finance.post(url, {"form_token": token, "amount": "15.00", "reason": "overpaid by mistake"}))
    assert "Refund 15.00 EUR to Ada Lovelace." in review
    assert f"Payment {payment} will have 5.00 EUR unallocated and stay partially allocated." in review
    assert 'name="confirmed" value="1"' in review and token in review
    assert ledger_counts() == before

    data = {"form_token": token, "amount": "15.00", "reason": "overpaid by mistake", "confirmed": "1"}
    response = finance.post(url, data)
    assert response["Location"] == f"/payments/{payment.pk}/"
    payment.refresh_from_db()
    assert (payment.refunded_total, payment.unallocated) == (D("15.00"), D("5.00"))
    replay = finance.post(url, data)
    assert ALREADY_SUBMITTED in messages_of(replay)
    payment.refresh_from_db()
    assert payment.refunded_total == D("15.00")


def test_refund_more_than_unallocated_is_refused_before_review(finance, split):
    payment, *_ = split
    url = f"/payments/{payment.pk}/refund/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": token, "amount": "25.00", "reason": "asked"}))
    assert "has only 20.00 EUR unallocated; you asked to refund 25.00 EUR. Deallocate it from invoices first." in page
    assert re.search(r'class="field has-error">\s*<label for="id_amount">', page)
    assert 'name="confirmed"' not in page
    assert ledger_counts() == before


def test_refund_review_can_go_back_to_change(finance, split):
    payment, *_ = split
    url = f"/payments/{payment.pk}/refund/"
    token = form_token(finance.get(url))
    page = text(finance.post(url, {"form_token": token, "amount": "15.00", "reason": "r", "edit": "1"}))
    assert 'value="15.00"' in page and "Review refund" in page and "Refund" in page


def test_chargeback_newest_first_review_names_the_invoices(finance, split, settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "newest_first"
    payment, a, b = split
    url = f"/payments/{payment.pk}/chargeback/"
    entry = finance.get(url)
    assert "<strong>newest first</strong>" in text(entry)
    token = form_token(entry)
    before = ledger_counts()
    review = text(finance.post(url, {"form_token": token, "amount": "40.00", "reason": "card dispute"}))
    # 40 back: 20 unallocated covers half; 20 more comes off the newest allocation (b, allocated after a)
    assert "Chargeback of 40.00 EUR by Ada Lovelace's bank." in review
    assert f"Payment {payment} will have 60.00 EUR left and become fully allocated." in review
    assert "1 allocation totalling 20.00 EUR will be reversed (newest first)" in review
    assert f"invoice {b} becomes partially paid" in review
    assert ledger_counts() == before

    finance.post(url, {"form_token": token, "amount": "40.00", "reason": "card dispute", "confirmed": "1"})
    payment.refresh_from_db()
    b.refresh_from_db()
    assert (payment.state, payment.charged_back_total) == ("charged_back", D("40.00"))
    assert (b.paid_total, b.payment_status) == (D("10.00"), "partially_paid")  # as the review said


def test_chargeback_manual_rule_says_overallocated(finance, split, settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "manual"
    payment, *_ = split
    url = f"/payments/{payment.pk}/chargeback/"
    entry = finance.get(url)
    assert "<strong>manual</strong>" in text(entry)
    review = text(finance.post(url, {"form_token": form_token(entry), "amount": "40.00", "reason": "dispute"}))
    assert "Nothing is reversed (SETTLE_CHARGEBACK_REVERSAL is manual)" in review
    assert "becomes overallocated by 20.00 EUR" in review


@pytest.mark.parametrize(
    "amount,reason,message",
    [
        ("100.01", "x", "has only 100.00 EUR that can be charged back"),
        ("", "x", "This field is required"),
        ("10", "", "Give a reason to record a chargeback"),
    ],
)
def test_chargeback_errors_write_nothing(finance, split, amount, reason, message):
    payment, *_ = split
    url = f"/payments/{payment.pk}/chargeback/"
    token = form_token(finance.get(url))
    before = ledger_counts()
    for confirmed in ("", "1"):  # refused at review and (if someone skips it) at confirm
        page = text(
            finance.post(url, {"form_token": token, "amount": amount, "reason": reason, "confirmed": confirmed})
        )
        assert message in page
    assert ledger_counts() == before


# --- Cancel and settle ---------------------------------------------------------------------------------


def test_cancel_confirmation_then_cancel(finance, split):
    payment, a, b = split
    url = f"/payments/{payment.pk}/cancel/"
    page = text(finance.get(url))
    assert (
        f"Payment {payment} will be canceled and have nothing available. 2 allocations totalling 80.00 EUR "
        f"will be reversed; invoices {a} and {b} become unpaid."
    ) in page
    token = form_token(page)
    before = ledger_counts()
    error = text(finance.post(url, {"form_token": token, "reason": ""}))
    assert "Give a reason to cancel payment" in error
    assert ledger_counts() == before
    response = finance.post(url, {"form_token": token, "reason": "recorded twice"})
    assert response["Location"] == f"/payments/{payment.pk}/"
    payment.refresh_from_db()
    a.refresh_from_db()
    assert (payment.state, payment.cancel_reason, a.payment_status) == ("canceled", "recorded twice", "unpaid")


def test_settle_a_pending_payment_once(finance, customer):
    pending = record_payment(customer=customer, amount="5.00", currency="EUR", method="cash", pending=True, by=None)
    token = form_token(finance.get(f"/payments/{pending.pk}/"))
    finance.post(f"/payments/{pending.pk}/settle/", {"form_token": token})
    pending.refresh_from_db()
    assert pending.state == "settled"
    before = ledger_counts()
    replay = finance.post(f"/payments/{pending.pk}/settle/", {"form_token": token})
    assert ALREADY_SUBMITTED in messages_of(replay)
    assert ledger_counts() == before


# --- The one-time token -------------------------------------------------------------------------------


def test_a_failed_submit_does_not_use_up_the_token(finance, world):
    """The token is claimed in the service's transaction: a refused write leaves it usable."""
    invoice = world["invoice"]
    url = f"/invoices/{invoice.pk}/credit/"
    token = form_token(finance.get(url))
    finance.post(url, {"form_token": token, "amount": "999.00", "reason": "x"})
    assert FormSubmission.objects.count() == 0
    response = finance.post(url, {"form_token": token, "amount": "9.00", "reason": "x"})
    assert response.status_code == 302 and FormSubmission.objects.count() == 1


@pytest.mark.parametrize("token", ["", "forged", "0123456789abcdef0123456789abcdef:1xUwwM:bad"])
def test_a_missing_or_forged_token_writes_nothing(finance, world, token):
    url = f"/invoices/{world['invoice'].pk}/credit/"
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": token, "amount": "9.00", "reason": "x"}))
    assert "one-time token is not valid" in page
    assert form_token(finance.post(url, {"form_token": token})) != token  # a fresh one to submit with
    assert ledger_counts() == before


def test_a_token_of_another_user_is_refused(finance, world, superuser):
    url = f"/invoices/{world['invoice'].pk}/credit/"
    admins_token = form_token(client_for(superuser).get(url))
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": admins_token, "amount": "9.00", "reason": "x"}))
    assert "one-time token is not valid" in page
    assert ledger_counts() == before


def test_an_expired_token_is_refused(finance, world, monkeypatch):
    import submissions.tokens

    url = f"/invoices/{world['invoice'].pk}/credit/"
    token = form_token(finance.get(url))
    monkeypatch.setattr(submissions.tokens, "TOKEN_MAX_AGE", -1)
    page = text(finance.post(url, {"form_token": token, "amount": "9.00", "reason": "x"}))
    assert "has expired" in page
    assert FormSubmission.objects.count() == 0


def test_money_forms_disable_their_buttons_on_submit(finance, world):
    page = text(finance.get(f"/invoices/{world['invoice'].pk}/void/"))
    assert "data-submit-once" in page and 'src="/static/settle-submit-once.js"' in page
    from django.contrib.staticfiles import finders  # a static file: the CSP allows no inline script

    script = open(finders.find("settle-submit-once.js")).read()
    assert "b.disabled = true" in script


def test_submission_records_who_and_where(finance, finance_user, world):
    url = f"/invoices/{world['invoice'].pk}/credit/"
    finance.post(url, {"form_token": form_token(finance.get(url)), "amount": "1.00", "reason": "x"})
    submission = FormSubmission.objects.get()
    assert (submission.user, submission.path, submission.result_url) == (
        finance_user,
        url,
        f"/invoices/{world['invoice'].pk}/",
    )
    assert submission.created_at <= timezone.now()


def test_a_plan_over_more_invoices_than_the_page_holds_is_allocated_a_page_at_a_time(
    finance, customer, three_open, monkeypatch
):
    """The split form shows (and prefills) the first ALLOCATE_PLANNED_LIMIT of the rule's splits and
    says so; allocating them and opening the page again offers the rest."""
    from payments import detail_views

    monkeypatch.setattr(detail_views, "ALLOCATE_ROWS_LIMIT", 1)
    monkeypatch.setattr(detail_views, "ALLOCATE_PLANNED_LIMIT", 2)
    payment = make_payment(customer=customer, amount="150.00")
    assert len(plan_auto_allocation(payment)) == 3
    url = f"/payments/{payment.pk}/allocate/"
    page = text(finance.get(url))
    assert "spreads this payment over 3 invoices; the first 2 are filled in here" in page
    prefilled = {name: value for name, value in inputs(page).items() if value}
    assert len(prefilled) == 2
    response = finance.post(url, {"form_token": form_token(finance.get(url)), **prefilled})
    assert response["Location"] == f"/payments/{payment.pk}/"
    payment.refresh_from_db()
    assert payment.unallocated == D("150.00") - sum(D(v) for v in prefilled.values())
    again = text(finance.get(url + "?suggest=1"))
    assert "spreads this payment" not in again
    rest = {name: value for name, value in inputs(again).items() if value}
    assert len(rest) == 1 and D(next(iter(rest.values()))) == payment.unallocated


def test_the_split_form_takes_the_fields_of_a_full_page(finance, customer, three_open):
    """200 oldest rows and 1,000 planned ones, the token and the note fit the form-field limit
    (Django answers 400 past it, before the view)."""
    payment = make_payment(customer=customer, amount="10.00")
    url = f"/payments/{payment.pk}/allocate/"
    data = {f"amount_{900000 + n}": "" for n in range(1200)}
    data |= {"form_token": form_token(finance.get(url)), f"amount_{three_open[0].pk}": "10.00", "note": ""}
    response = finance.post(url, data)
    assert response.status_code == 302, response.status_code
    payment.refresh_from_db()
    assert payment.unallocated == D("0.00")
