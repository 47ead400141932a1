"""The periodic jobs on the Procrastinate worker: the README's cron lines, each locked against a second run."""

import pytest
from procrastinate.contrib.django import app

from backoffice import tasks
from reconciliation.models import ReconciliationRun

NIGHTLY = {
    "jobs.reconcile_statuses": "15 2 * * *",
    "jobs.auto_allocate": "30 2 * * *",
    "jobs.assess_penalties": "45 2 * * *",
    "jobs.compact_queue_totals": "*/5 * * * *",
    "jobs.retry_stalled_jobs": "* * * * *",
    "jobs.remove_old_jobs": "0 4 * * *",
    "jobs.run_dunning": "0 3 * * *",
    "jobs.export_batch": "30 3 * * *",
}


def test_the_cron_jobs_are_periodic_tasks_that_never_run_twice_at_once():
    periodic = {p.task.name: p for p in app.periodic_registry.periodic_tasks.values()}
    assert {name: p.cron for name, p in periodic.items() if name in NIGHTLY} == NIGHTLY
    for name in NIGHTLY:
        task = app.tasks[name]
        # queueing_lock: a run never waits twice; lock: two workers never run one at once.
        assert task.queueing_lock == name
        if name not in ("jobs.retry_stalled_jobs", "jobs.remove_old_jobs"):  # harmless twice
            assert task.lock == name


@pytest.mark.django_db(transaction=True)  # a job closes its connection when done, as on a worker's thread
def test_each_job_runs_its_command():
    assert "rows" in tasks.compact_queue_totals(timestamp=0)
    assert "reconcile run" in tasks.reconcile_statuses(timestamp=0)
    assert ReconciliationRun.objects.get().fix
    tasks.auto_allocate(timestamp=0)
    assert "Penalties assessed as of" in tasks.assess_penalties(timestamp=0)
    assert "letters as of" in tasks.run_dunning(timestamp=0)


@pytest.mark.django_db
def test_a_failing_command_fails_its_job(monkeypatch):
    def drift(*args, **kwargs):
        raise SystemExit(1)

    monkeypatch.setattr(tasks, "call_command", drift)
    with pytest.raises(RuntimeError, match="reconcile_statuses exited 1"):
        tasks.reconcile_statuses(timestamp=0)
