"""The global search: each field it finds, accents and apostrophes folded, the htmx dropdown
and the page without JavaScript, who may use it, and that every branch can use an index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from backoffice.search import global_search
from billing.models import Customer
from invoices.models import Invoice
from payments.models import Payment
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    obrien = CustomerFactory(
        name="Siobhán O’Brien", email="siobhan@obrien.test", reference="OBR-77", phone="+353 1 555 0199"
    )
    muller = CustomerFactory(name="Jürgen Müller", email="jm@mueller.test", reference="MUL-1", phone="+49 30 1234567")
    provider = ProviderFactory(name="Quill Books", code="QUILL")
    invoice = make_invoice(customer=muller, provider=provider, total="40.00")
    payment = make_payment(customer=obrien, amount="12.00", reference="SEPA-XY-9001")
    return {"obrien": obrien, "muller": muller, "invoice": invoice, "payment": payment}


@pytest.mark.parametrize(
    "typed, who",
    [
        ("obrien", "obrien"),
        ("O'Brien", "obrien"),
        ("o’brien", "obrien"),
        ("siobhan", "obrien"),
        ("muller", "muller"),
        ("MÜLLER jürgen", "muller"),
        ("jm@mueller.test", "muller"),
        ("mueller", "muller"),  # the email's word
        ("OBR-77", "obrien"),
        ("mul-1", "muller"),
        ("+353 1 555 0199", "obrien"),
        ("0199", "obrien"),  # the end of a phone number
        ("030 1234567", None),  # a different prefix is not the number
    ],
)
def test_customers_by_name_email_reference_or_phone(people, typed, who):
    found = global_search(typed).customers
    if who is None:
        assert people["muller"] not in found
    else:
        assert people[who] in found, typed


def test_invoice_by_number_prefix_any_case(people):
    number = people["invoice"].number
    assert global_search(number).invoices == [people["invoice"]]
    assert global_search(number[:7].lower()).invoices == [people["invoice"]]
    assert global_search("QUILLX").invoices == []


def test_payment_by_reference_prefix_any_case_and_by_number(people):
    payment = people["payment"]
    assert global_search("sepa-xy").payments == [payment]
    assert global_search("SEPA-XY-9001").payments == [payment]
    assert global_search(f"P-{payment.pk}").payments == [payment]
    assert global_search(f"p{payment.pk}").payments == [payment]


def test_too_short_or_blank_finds_nothing(people):
    assert global_search("").empty and not global_search("").too_short
    short = global_search("m")
    assert short.empty and short.too_short


def test_htmx_gets_the_dropdown_only(as_support, people):
    response = as_support.get(reverse("search"), {"q": "obrien"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'href="{reverse("customer", args=[people["obrien"].pk])}"' in html
    assert f'href="{reverse("search")}?q=obrien"' in html  # "All results"
    assert (
        "Nothing matches"
        in as_support.get(reverse("search"), {"q": "zzzz"}, headers={"HX-Request": "true"}).content.decode()
    )


def test_the_results_page_works_without_javascript(as_support, people):
    response = as_support.get(reverse("search"), {"q": "muller"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'id="search-page-q"' in html and 'value="muller"' in html
    assert f'href="{reverse("customer", args=[people["muller"].pk])}"' in html
    number = as_support.get(reverse("search"), {"q": people["invoice"].number}).content.decode()
    assert f'href="{reverse("invoices:detail", args=[people["invoice"].pk])}"' in number
    reference = as_support.get(reverse("search"), {"q": "sepa-xy"}).content.decode()
    assert f'href="{reverse("payments:detail", args=[people["payment"].pk])}"' in reference


def test_the_search_box_is_in_the_navigation(as_support):
    html = as_support.get(reverse("dashboard")).content.decode()
    assert 'role="search" aria-label="Search everything"' in html
    assert f'action="{reverse("search")}"' in html and 'hx-get="/search/"' in html
    assert '<label for="global-q"' in html and 'aria-controls="search-dropdown"' in html


@pytest.mark.parametrize("role, status", [("support", 200), ("finance", 200), ("nobody", 403)])
def test_roles(client, staff, role, status):
    client.force_login(staff[role])
    assert client.get(reverse("search"), {"q": "ada"}).status_code == status


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(reverse("search"), {"q": "ada"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _queryset_plan(queryset) -> str:
    return _plan(*queryset.query.sql_with_params())


def test_every_branch_can_use_an_index(people):
    """On a test database the planner may prefer a scan of a few rows; with sequential scans
    priced out, each branch's query must be able to use its index (the bench figures are in
    the branch's report). The customers' query is the one global_search runs (a CTE)."""
    from backoffice.search import _CUSTOMERS_SQL
    from billing.search import search_customers

    sql, params = search_customers(Customer.objects.order_by(), "obrien").values("pk").query.sql_with_params()
    assert "customer_search_idx" in _plan(_CUSTOMERS_SQL.format(matching=sql), (*params, 5))
    invoices = Invoice.objects.filter(number__startswith="QUILL-").order_by()[:5]
    assert "invoices_invoice_number" in _queryset_plan(invoices) and "_like" in _queryset_plan(invoices)
    payments = Payment.objects.filter(reference__istartswith="sepa").order_by()[:5]
    assert "Index Cond" in _queryset_plan(payments) and "payment_reference_upper_idx" in _queryset_plan(payments)
