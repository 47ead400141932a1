"""SETTLE_CHARGEBACK_REVERSAL is checked at start (manage.py check, runserver, migrate), and a
chargeback under a bad value writes nothing."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from payments.models import Chargeback
from payments.services import record_chargeback
from tests.factories import make_payment


@pytest.mark.parametrize("rule", ["newest_first", "manual"])
def test_the_known_rules_pass_the_check(settings, rule):
    settings.SETTLE_CHARGEBACK_REVERSAL = rule
    call_command("check")


def test_a_bad_rule_stops_the_application_at_start(settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "oldest_first"
    with pytest.raises(SystemCheckError, match="settle.E001.*must be newest_first or manual, not 'oldest_first'"):
        call_command("check")


@pytest.mark.django_db
def test_a_chargeback_under_a_bad_rule_writes_nothing(settings, customer):
    payment = make_payment(customer=customer, amount="50.00")
    settings.SETTLE_CHARGEBACK_REVERSAL = "sometimes"
    with pytest.raises(ValueError, match="not 'sometimes'"):
        record_chargeback(payment, amount="10.00", by=None, reason="dispute")
    assert not Chargeback.objects.exists()
    payment.refresh_from_db()
    assert payment.state == "settled"
