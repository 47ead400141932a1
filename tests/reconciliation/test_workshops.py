"""Reconciliation checks the workshops' seat caches against their registrations: drift is
reported, repaired with --fix by a recount under the workshop's lock; over-capacity and a
wait list with gaps are reported and left to a person."""

import pytest

from reconciliation import reconcile
from reconciliation.models import ReconciliationRun
from reconciliation.workshops import find_seat_drift
from registrations.models import Registration, Workshop
from registrations.services import register
from tests.factories import CustomerFactory
from tests.invariants import assert_invariants, violations
from tests.reconciliation.test_reconcile import diffs, sql
from tests.registrations.helpers import make_workshop

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_workshop(provider):
    """Two seats taken, two on the wait list (positions 1 and 2)."""
    workshop = make_workshop(provider, seats=2)
    for n in range(4):
        register(customer=CustomerFactory(name=f"Baker {n}"), workshops=[workshop], by=None)
    workshop.refresh_from_db()
    assert (workshop.seats_taken, workshop.waitlist_length) == (2, 2)
    assert_invariants()
    return workshop


def test_clean_workshops_have_no_drift(full_workshop):
    assert find_seat_drift(fix=False) == []
    run = reconcile.run_reconciliation()
    assert (run.outcome, run.drift_found) == ("clean", 0)


def test_drifted_seat_caches_are_reported_and_repaired(full_workshop, provider):
    other = make_workshop(provider, title="Pasta", seats=3)
    sql("UPDATE registrations_workshop SET seats_taken = 1, waitlist_length = 3 WHERE id = %s", [full_workshop.pk])
    sql("UPDATE registrations_workshop SET seats_taken = 2 WHERE id = %s", [other.pk])
    assert any(v.startswith("I10") for v in violations())

    looked = reconcile.run_reconciliation()  # without --fix: reported only
    assert ("workshop", full_workshop.pk, "seats_taken", "1", "2") in diffs(looked)
    assert Workshop.objects.get(pk=full_workshop.pk).seats_taken == 1

    run = reconcile.run_reconciliation(fix=True)

    found = diffs(run)
    assert ("workshop", full_workshop.pk, "seats_taken", "1", "2") in found
    assert ("workshop", full_workshop.pk, "waitlist_length", "3", "2") in found
    assert ("workshop", other.pk, "seats_taken", "2", "0") in found
    assert (run.outcome, run.drift_found, run.drift_fixed) == ("fixed", 2, 2)
    assert [(w.seats_taken, w.waitlist_length) for w in Workshop.objects.order_by("id")] == [(2, 2), (0, 0)]
    assert find_seat_drift(fix=False) == []
    assert_invariants()


def test_a_wait_list_with_a_gap_is_reported_and_not_renumbered(full_workshop):
    last = Registration.objects.filter(workshop=full_workshop, waitlist_position=2).get()
    sql("UPDATE registrations_registration SET waitlist_position = 3 WHERE id = %s", [last.pk])

    run = reconcile.run_reconciliation(fix=True)

    assert ("workshop", full_workshop.pk, "waitlist_positions", "3", "2") in diffs(run)
    assert (run.outcome, run.drift_found, run.drift_fixed) == ("partly_fixed", 1, 0)
    assert Registration.objects.get(pk=last.pk).waitlist_position == 3  # a person decides who is next


def test_the_run_page_links_each_drifted_workshop_to_its_page(full_workshop, client):
    from django.urls import reverse

    from tests.web_users import user_with_role

    sql("UPDATE registrations_workshop SET seats_taken = 1 WHERE id = %s", [full_workshop.pk])
    run = reconcile.run_reconciliation(fix=True)
    client.force_login(user_with_role("finance", "auditor"))
    page = client.get(reverse("reconciliation:run", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Workshop seats" in html
    assert f'href="{reverse("registrations:workshop", args=[full_workshop.pk])}"' in html


def test_each_workshop_difference_names_the_workshop_and_says_what_was_repaired(full_workshop, provider):
    # The full workshop: a seat count off and a gap in its wait list (left whole to a person);
    # the other: only its seat count off (repaired).
    other = make_workshop(provider, title="Pasta", seats=3)
    last = Registration.objects.filter(workshop=full_workshop, waitlist_position=2).get()
    sql("UPDATE registrations_registration SET waitlist_position = 3 WHERE id = %s", [last.pk])
    sql("UPDATE registrations_workshop SET seats_taken = 1 WHERE id = %s", [full_workshop.pk])
    sql("UPDATE registrations_workshop SET seats_taken = 2 WHERE id = %s", [other.pk])

    looked = reconcile.run_reconciliation()
    run = reconcile.run_reconciliation(fix=True)

    full, pasta = (str(Workshop.objects.get(pk=w.pk)) for w in (full_workshop, other))
    for checked, repaired in ((looked, False), (run, True)):
        rows = {(d.object_id, d.field): (d.object_label, d.fixed) for d in checked.differences.all()}
        assert rows == {
            (full_workshop.pk, "seats_taken"): (full, False),
            (full_workshop.pk, "waitlist_positions"): (full, False),  # a person decides who is next
            (other.pk, "seats_taken"): (pasta, repaired),
        }
    assert (looked.drift_found, looked.drift_fixed) == (2, 0)
    assert (run.drift_found, run.drift_fixed) == (2, 1)


def test_a_long_workshop_title_is_cut_to_what_a_difference_row_holds(provider):
    # 199 characters of title: the 201st of the label is not a space (PostgreSQL cuts trailing spaces to fit).
    workshop = make_workshop(provider, title="W" * 199, seats=2)
    sql("UPDATE registrations_workshop SET seats_taken = 1 WHERE id = %s", [workshop.pk])
    run = reconcile.run_reconciliation()
    (difference,) = run.differences.all()
    assert difference.object_label == str(Workshop.objects.get(pk=workshop.pk))[:200] == "W" * 199 + " "


def test_the_workshop_check_says_how_many_drifted_and_were_repaired(provider):
    workshops = [make_workshop(provider, title=f"Bread {n}", seats=2) for n in range(2)]
    sql("UPDATE registrations_workshop SET seats_taken = 1 WHERE id = ANY(%s)", [[w.pk for w in workshops]])
    said: list[str] = []
    assert reconcile.check_workshop_seats(ReconciliationRun.objects.create(), fix=False, progress=said.append) == 2
    assert (
        reconcile.check_workshop_seats(ReconciliationRun.objects.create(fix=True), fix=True, progress=said.append) == 2
    )
    assert (
        reconcile.check_workshop_seats(ReconciliationRun.objects.create(fix=True), fix=True, progress=said.append) == 0
    )
    assert said == [
        "Workshop seats: 2 workshops drifted.",
        "Workshop seats: 2 workshops drifted (2 repaired).",
        "Workshop seats: 0 workshops drifted.",
    ]
    assert set(Workshop.objects.values_list("seats_taken", flat=True)) == {0}
