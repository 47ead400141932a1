"""Two app servers that share nothing but PostgreSQL: a clerk's requests alternate between them,
as a round-robin load balancer sends them, through a whole allocate flow.

Signing in on one server and acting on the other needs the session in the database; a form
rendered by one and posted to the other needs the same signing key and CSRF cookie; a replay
refused by the other server needs the form token in the database; the nav counts one server
caches, the other reads from the database cache.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from allocations.models import Allocation
from billing.roles import FINANCE
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.scaling.processes import Browser, production_env, start_app_server, wait_until_ready
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_servers(tmp_path, served_var_dir):
    env = production_env(served_var_dir)
    servers = [start_app_server(env, tmp_path / f"server-{n}.log") for n in (1, 2)]
    try:
        for server in servers:
            wait_until_ready(server)
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_a_clerk_alternating_between_two_servers_allocates_once(two_servers):
    a, b = (server.url for server in two_servers)
    clerk = user_with_role(FINANCE, "fin")
    # The servers run the production settings, which check passwords with PBKDF2 (tests use MD5).
    clerk.password = PBKDF2PasswordHasher().encode("pw", PBKDF2PasswordHasher().salt())
    clerk.save(update_fields=["password"])
    ada = CustomerFactory(name="Ada Lovelace")
    invoice = make_invoice(customer=ada, provider=ProviderFactory(code="ACME"), total="100.00")
    payment = make_payment(customer=ada, amount="60.00", reference="BANK-ADA-60")
    browser = Browser()

    for url in (a, b):
        assert browser.get(url + "/healthz").status == 200
        assert browser.get(url + "/readyz").status == 200

    sign_in = browser.get(a + "/login/")  # the CSRF cookie comes from A ...
    signed_in = browser.post(  # ... and B accepts it, and writes the session to the database
        b + "/login/",
        {"csrfmiddlewaretoken": sign_in.hidden("csrfmiddlewaretoken"), "username": "fin", "password": "pw"},
    )
    assert signed_in.status == 302, signed_in.text[:2000]

    allocate_path = f"/payments/{payment.pk}/allocate/"
    form = browser.get(a + allocate_path)  # A knows the session B started
    assert form.status == 200, form.text[:2000]
    typed = {
        "csrfmiddlewaretoken": form.hidden("csrfmiddlewaretoken"),
        "form_token": form.hidden("form_token"),  # signed by A
        f"amount_{invoice.pk}": "60.00",
    }
    done = browser.post(b + allocate_path, typed)  # B checks A's token and claims it in the database
    assert done.status == 302 and done.headers["Location"] == f"/payments/{payment.pk}/"

    detail = browser.get(a + f"/payments/{payment.pk}/")
    assert detail.status == 200 and str(invoice) in detail.text and "60.00" in detail.text

    replay = browser.post(a + allocate_path, typed)  # Back and submit again, reaching the other server
    assert replay.status == 302
    shown = browser.get(a + replay.headers["Location"])
    assert "already submitted" in shown.text
    assert list(Allocation.objects.filter(payment=payment).values_list("amount", flat=True)) == [Decimal("60.00")]
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("40.00")

    # The nav counts are cached once, in the database, for both servers.
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM settle_cache")
        keys = [key for (key,) in cursor.fetchall()]
    assert any(key.endswith("settle:nav-counts") for key in keys), keys

    # Static files: hashed names, served by WhiteNoise from either server, cached for good.
    stylesheet = re.search(r'href="(/static/settle\.[0-9a-f]{12}\.css)"', detail.text)
    assert stylesheet, "the page links its stylesheet by a hashed name"
    for url in (a, b):
        served = browser.get(url + stylesheet.group(1))
        assert served.status == 200 and "immutable" in served.headers["Cache-Control"]


def test_readyz_says_not_ready_until_the_database_answers(tmp_path, served_var_dir):
    """A server pointed at a database that is not there is up (healthz) but not ready (readyz)."""
    env = production_env(served_var_dir, DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")
    server = start_app_server(env, tmp_path / "server.log")
    browser = Browser()
    try:
        deadline = time.monotonic() + 90
        while (health := browser_status(browser, server.url + "/healthz")) != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert health == 200, server.tail()
        ready = browser.get(server.url + "/readyz")
        assert ready.status == 503 and '"database": "unreachable"' in ready.text
    finally:
        server.stop()


def browser_status(browser: Browser, url: str) -> int | None:
    try:
        return browser.get(url).status
    except OSError:
        return None
