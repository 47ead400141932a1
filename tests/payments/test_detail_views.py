"""The payment detail page: figures, badges, allocations (net and raw), refunds, chargebacks, timeline."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from allocations.services import allocate_many, deallocate
from payments.services import record_chargeback, record_payment, refund_payment
from tests.factories import make_invoice, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    admin,
    finance,
    finance_user,
    superuser,
    support,
    support_user,
    text,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def story(customer, provider, finance_user, settings):
    """P of 200 (ref BANK-1): 80 to A, 70 to B, 20 taken back from B, refund 30, chargeback 10."""
    settings.SETTLE_CHARGEBACK_REVERSAL = "newest_first"
    a = make_invoice(customer=customer, provider=provider, total="80.00")
    b = make_invoice(customer=customer, provider=provider, total="70.00")
    payment = make_payment(customer=customer, amount="200.00", reference="BANK-1", method="card")
    allocate_many(payment, [(a, "80.00"), (b, "70.00")], by=finance_user)
    deallocate(payment, b, "20.00", by=finance_user, reason="B was partly paid in cash")
    refund_payment(payment, amount="30.00", by=finance_user, reason="customer asked")
    record_chargeback(payment, amount="10.00", by=finance_user, reason="disputed")
    payment.refresh_from_db()
    return payment, a, b


def test_figures_and_badges(finance, story):
    payment, a, b = story
    page = text(finance.get(f"/payments/{payment.pk}/"))
    assert f"Payment P-{payment.pk}" in page
    assert '<span class="badge charged_back"' in page
    # available 200 - 30 - 10 = 160; allocated 80 + 50 = 130; unallocated 30
    assert payment.available == D("160.00") and payment.allocated_total == D("130.00")
    # A charged-back payment shows its state, not its allocation status (issue 8).
    assert '<span class="badge partially_allocated"' not in page
    facts = page[page.index("<h2>Money</h2>") : page.index("</section>", page.index("<h2>Money</h2>"))]
    assert re.findall(r'<dd class="num[^"]*"[^>]*>([^<]+)</dd>', facts) == [
        "200.00 EUR",
        "30.00 EUR",
        "10.00 EUR",
        "160.00 EUR",
        "130.00 EUR",
        "30.00 EUR",
    ]
    assert "BANK-1" in page and "Card" in page and "Ada Lovelace" in page


def test_net_per_invoice_and_raw_rows(finance, story):
    payment, a, b = story
    page = text(finance.get(f"/payments/{payment.pk}/"))
    pairs = page[page.index('id="pairs"') : page.index("</table>", page.index('id="pairs"'))]
    row_b = pairs[pairs.index(f">{b.number}<") :]
    row_b = row_b[: row_b.index("</tr>")]
    assert re.findall(r'<td class="num[^"]*">([^<]+)</td>', row_b) == ["70.00 EUR", "-20.00 EUR", "50.00 EUR"]
    assert f'href="/payments/{payment.pk}/deallocate/?invoice={b.pk}"' in pairs
    raw = page[page.index('id="allocations"') :]
    reversal = b.allocations.get(amount__lt=0)
    assert f'<tr id="allocation-{reversal.pk}" class="reversal">' in raw
    assert f'Reversal of <a class="in-text" href="#allocation-{reversal.reverses_id}">' in raw
    assert "B was partly paid in cash" in raw


def test_refunds_chargebacks_and_timeline(finance, story):
    payment, a, b = story
    page = text(finance.get(f"/payments/{payment.pk}/"))
    assert 'id="refunds"' in page and "customer asked" in page
    assert 'id="chargebacks"' in page and "disputed" in page
    timeline = page[page.index('<ol class="timeline events">') :]
    for expected in (
        "Recorded (card)",
        "State: Settled → Charged back",
        "Allocation status: Unallocated → Partially allocated",
        "Refund #",
        "Chargeback #",
        "Allocation #",
        f"money back from invoice {b.number}",
    ):
        assert expected in timeline, expected
    kinds = re.findall(r'<li class="event (\w+)">', timeline)
    assert kinds[-1] == "created"  # oldest last


def test_finance_actions_follow_the_state(finance, story, customer):
    payment, *_ = story
    page = text(finance.get(f"/payments/{payment.pk}/"))
    # charged back: no allocate (only settled payments allocate), no cancel; refund and chargeback yes
    assert f"/payments/{payment.pk}/allocate/" not in page
    assert f"/payments/{payment.pk}/cancel/" not in page
    assert f"/payments/{payment.pk}/refund/" in page and f"/payments/{payment.pk}/chargeback/" in page

    pending = record_payment(customer=customer, amount="5.00", currency="EUR", method="cash", pending=True, by=None)
    page = text(finance.get(f"/payments/{pending.pk}/"))
    assert f'action="/payments/{pending.pk}/settle/"' in page and '<span class="badge pending"' in page
    assert f"/payments/{pending.pk}/cancel/" in page and f"/payments/{pending.pk}/allocate/" not in page


def test_support_sees_the_page_without_actions(support, story):
    payment, *_ = story
    response = support.get(f"/payments/{payment.pk}/")
    page = text(response)
    assert response.status_code == 200 and "160.00 EUR" in page
    for action in ("allocate", "refund", "chargeback", "cancel", "deallocate"):
        assert f"/payments/{payment.pk}/{action}/" not in page
    assert "form_token" not in page


def test_superuser_sees_actions(admin, customer):
    payment = make_payment(customer=customer, amount="10.00")
    page = text(admin.get(f"/payments/{payment.pk}/"))
    assert f"/payments/{payment.pk}/allocate/" in page and f"/payments/{payment.pk}/cancel/" in page


def test_anonymous_goes_to_login(customer):
    payment = make_payment(customer=customer)
    response = Client().get(f"/payments/{payment.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_unknown_payment_is_404(finance):
    assert finance.get("/payments/999999/").status_code == 404
