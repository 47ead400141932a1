"""One Procrastinate worker on the mail queue, in a process of its own (bench.step's send_letters
starts one per core). A module of its own: "spawn" cannot reach a function of the __main__
module bench.step runs as."""

from __future__ import annotations


def run_mail_worker(database: dict) -> None:
    """Work the mail queue until no job is left (billing.processes.set_up: the parent's database)."""
    from billing import processes

    processes.set_up(database)
    from procrastinate.contrib.django import app

    worker_app = app.with_connector(app.connector.get_worker_connector())  # type: ignore[attr-defined]
    worker_app.run_worker(queues=["mail"], wait=False, install_signal_handlers=False, listen_notify=False)
