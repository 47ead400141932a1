"""`python -m bench [--scale 1.0] [--repeats 30] [--json PATH]`: see bench/__init__.py."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Django is imported once the settings are chosen
    from django.db.models import QuerySet

    from invoices.models import Invoice
    from payments.models import Payment

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M invoices, 1M payments (default 1.0)")
    parser.add_argument("--repeats", type=int, default=30, help="requests per list page (default 30)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    parser.add_argument("--db", default="settle_bench", help="database to create, fill and drop (default settle_bench)")
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards for inspection")
    parser.add_argument("--fill-only", action="store_true", help="fill and check consistency, measure nothing")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database a `--fill-only --keep` run left at the same scale (no new fill; its "
        "invariants are checked again first), so the fill need not share the quiet minutes of the measurement",
    )
    parser.add_argument(
        "--only",
        choices=["all", "lists", "intake", "customer", "plans", "api", "exports", "nightly"],
        default="all",
        help="what to measure: the list pages, baselines, throughput and reconciliation (lists), the bank "
        "statement import (intake), the customer page, search, a statement and dunning (customer), the nightly "
        "penalty assessment, the plans list and a plan's page (plans), the JSON API's payment POST and list "
        "endpoints (api), the nightly export of every journal entry "
        "never exported and an empty night (exports), the nightly window: import, auto-allocation, penalties, "
        "dunning, export and reconciliation one after another (nightly), or all of them (all, the default; the "
        "nightly window last, as it changes the data)",
    )
    parser.add_argument(
        "--plans-scale",
        type=float,
        default=None,
        help="size of the installment plans apart from the rest (default: --scale, 1.0 = 100,000 plans of 10 "
        "installments; 0 = none, the data of the rounds before issue 13, whose invoices they join; "
        "with --only exports the default is 0, so the journal holds ~1M invoice-side entries at scale 1.0)",
    )
    parser.add_argument(
        "--dunning-seconds",
        type=float,
        default=60.0,
        help="time budget of the first dunning run of the customer section; the rest is extrapolated (60)",
    )
    parser.add_argument(
        "--python-repeats", type=int, default=None, help="repeats of the Python baseline (default: 3, 1 from scale 0.5)"
    )
    parser.add_argument(
        "--sql-repeats",
        type=int,
        default=None,
        help="repeats of the on-the-fly SQL baseline (default: 7, 3 from scale 0.5)",
    )
    parser.add_argument("--throughput-seconds", type=float, default=4.0, help="duration of each clerk run (4)")
    parser.add_argument("--throughput-rounds", type=int, default=3, help="runs per clerk count, interleaved (3)")
    parser.add_argument(
        "--hard-case-invoices",
        type=int,
        default=1000,
        help="open invoices of the customer whose one payment is allocated over all of them (1000)",
    )
    parser.add_argument(
        "--invoice-order-repeats",
        type=int,
        default=50,
        help="fresh 20-line orders placed and invoiced, invoice_order timed (default 50)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only == "exports" and args.plans_scale is None:
        args.plans_scale = 0.0
    started = time.perf_counter()
    from bench import database

    database.configure(args.db)
    try:
        return _run(args, started)
    finally:
        if not args.keep:
            database.drop()


def _run(args: argparse.Namespace, started: float) -> int:
    from bench import checks, database, generate, report

    log = functools.partial(print, flush=True)
    if args.reuse:
        log(f"Measuring database {args.db} as a --fill-only --keep run left it ...")
        results: dict = {"machine": report.machine(args.scale, database.server_version())}
        results["fill"] = generate.kept_fill(args.scale)
    else:
        log(f"Creating and migrating database {args.db} ...")
        t = time.perf_counter()
        database.recreate()
        results = {"machine": report.machine(args.scale, database.server_version())}
        results["migrate_seconds"] = round(time.perf_counter() - t, 2)
        log(f"Filling at scale {args.scale} ...")
        t = time.perf_counter()
        results["fill"] = generate.fill(args.scale, seed=args.seed, plans_scale=args.plans_scale, log=log)
        results["fill"]["seconds"] = round(time.perf_counter() - t, 2)
    results["statuses"] = generate.status_counts()
    violations, seconds = checks.invariant_violations()
    missing = checks.missing_statuses(results["statuses"])
    results["consistency"] = {"violations": violations, "seconds": round(seconds, 2), "missing_statuses": missing}
    log(f"Consistency: {sum(violations.values())} violations in {seconds:.1f} s; statuses missing: {missing or 'none'}")
    if sum(violations.values()) or missing:
        report.write_json(results, args.json)
        print(f"Inconsistent data set, not measuring: {violations}, missing {missing}", file=sys.stderr)
        return 1
    if args.fill_only:
        results["seconds_total"] = round(time.perf_counter() - started, 1)
        report.write_json(results, args.json)
        return 0

    if args.only in ("all", "lists"):
        _measure(args, results, log)
    if args.only in ("all", "intake"):
        from bench import intake

        log(f"Bank statement import at scale {args.scale} ...")
        results["intake"] = intake.measure(args.scale, db=args.db, log=log)
    if args.only in ("all", "customer"):  # bench.customer folds them itself
        from bench import customer

        log(f"Customer page, search, statement and dunning at scale {args.scale} ...")
        results["customer"] = customer.measure(
            args.scale, repeats=args.repeats, dunning_seconds=args.dunning_seconds, log=log
        )
    if args.only in ("all", "plans"):
        _between_stages(log)
        from django.contrib.auth import get_user_model

        from bench import lists, plans

        log(f"Plans at scale {args.scale}: assess_penalties twice, the plans list and a plan's page ...")
        user = get_user_model().objects.filter(username="bench").first()
        user = user or get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
        results["plans"] = plans.measure(lists.logged_in_client(user), repeats=args.repeats, log=log)
    if args.only in ("all", "api"):
        _between_stages(log)
        from django.contrib.auth import get_user_model

        from bench import api

        log(f"JSON API at scale {args.scale}: POST payment + auto-allocate, the list endpoints x {args.repeats} ...")
        user = get_user_model().objects.filter(username="bench").first()
        user = user or get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
        results["api"] = api.measure(user, repeats=args.repeats, log=log)
    if args.only in ("all", "exports"):
        from bench import exports

        log(f"Exports at scale {args.scale}: export_batch of every entry never exported, then empty nights ...")
        results["exports"] = exports.measure(db=args.db, log=log)
    if args.only in ("all", "nightly"):
        from django.contrib.auth import get_user_model

        from bench import hard_cases, lists, nightly

        log(f"One payment over {args.hard_case_invoices:,} invoices: allocate_many, then through the allocate page ...")
        user = get_user_model().objects.filter(username="bench").first()
        user = user or get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
        client = lists.logged_in_client(user)
        results["hard_cases"] = hard_cases.measure(client, by=user, invoices=args.hard_case_invoices, log=log)
        big_invoices = max(100, round(hard_cases.BIG_CUSTOMER_INVOICES * args.scale))
        log(f"A customer with {big_invoices:,} open invoices on the allocate page ...")
        results["hard_cases"]["big_customer"] = hard_cases.measure_big_customer(
            client, by=user, invoices=big_invoices, log=log
        )
        big_accounts = max(100, round(hard_cases.BIG_PROVIDER_ACCOUNTS * args.scale))
        log(f"The collections queue of a provider with {big_accounts:,} accounts ...")
        results["hard_cases"]["big_provider"] = hard_cases.measure_big_provider(
            client, by=user, accounts=big_accounts, repeats=args.repeats, log=log
        )
        log(f"Nightly window at scale {args.scale}: each job in its own process, one after another ...")
        results["nightly"] = nightly.measure(args.scale, db=args.db, log=log)
    # Other work on the machine shows here: the figures are only as quiet as the machine was.
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds_total"] = round(time.perf_counter() - started, 1)
    results["verdicts"] = report.verdicts(results) if "lists" in results else []
    text = report.table(results) if "lists" in results else ""
    if "intake" in results:
        from bench import intake

        results["verdicts"] += intake.verdicts(results["intake"])
        text = "\n\n".join(filter(None, [text, intake.table(results["intake"], results["machine"])]))
    if "customer" in results:
        from bench import customer

        text = "\n\n".join(filter(None, [text, customer.table(results["customer"], results["machine"])]))
    if "plans" in results:
        from bench import plans

        results["verdicts"] += plans.verdicts(results["plans"])
        text = "\n\n".join(filter(None, [text, plans.table(results["plans"], results["machine"])]))
    if "api" in results:
        from bench import api

        results["verdicts"] += api.verdicts(results["api"])
        text = "\n\n".join(filter(None, [text, api.table(results["api"], results["machine"])]))
    if "hard_cases" in results:
        from bench import hard_cases

        found = results["hard_cases"]
        results["verdicts"] += hard_cases.verdicts(found)
        text = "\n\n".join(filter(None, [text, hard_cases.table(found)]))
    if "nightly" in results:
        from bench import nightly

        results["verdicts"] += nightly.verdicts(results["nightly"])
        text = "\n\n".join(filter(None, [text, nightly.table(results["nightly"], results["machine"])]))
    if "exports" in results:
        from bench import exports

        results["verdicts"] += exports.verdicts(results["exports"])
        text = "\n\n".join(filter(None, [text, exports.table(results["exports"], results["machine"])]))
    report.write_json(results, args.json)
    print()
    print(text)
    print(f"\nJSON: {args.json}")
    broken = "throughput" in results and (
        results["throughput"]["invariants_after"] or results["reconcile"]["stand_in_sql"]["drift"]
    )
    if "intake" in results:
        from bench import intake

        broken = broken or intake.failed(results["intake"])
    if "customer" in results:
        from bench import customer

        broken = broken or customer.failed(results["customer"])
    if "plans" in results:
        from bench import plans

        broken = broken or plans.failed(results["plans"])
    if "api" in results:
        from bench import api

        broken = broken or api.failed(results["api"])
    if "nightly" in results:
        from bench import nightly

        broken = broken or nightly.failed(results["nightly"])
    if "exports" in results:
        from bench import exports

        broken = broken or exports.failed(results["exports"])
    return 1 if broken else 0


def _between_stages(log) -> None:
    """What production's five-minute job does between the stages: fold the queue-total deltas the
    stages before wrote (as bench.customer does before its pages), so the next stage's lists read
    the totals as a clerk's would, not every delta since the fill."""
    from ledger.queue_totals import fold_queue_totals

    kept = fold_queue_totals()
    log(f"  (queue totals folded, as the 5-minute job does: {sum(kept.values()):,} rows kept)")


def _measure(args: argparse.Namespace, results: dict, log) -> None:
    from django.contrib.auth import get_user_model

    from bench import baselines, checks, lists, orders, reconcile, targets, throughput

    user = get_user_model().objects.create_superuser("bench", "bench@settle.test", "bench")
    paths, sources = lists.resolve_targets()
    results["targets"] = sources
    requests = targets.requests()
    log(f"Measuring {len(requests)} list requests x {args.repeats} ({'; '.join(sorted(set(sources.values())))}) ...")
    client = lists.logged_in_client(user)
    from billing.replicas import replica_alias

    # The list pages read the replica when DATABASE_REPLICA_URL names one (billing/replicas.py).
    results["lists_read_from"] = "replica" if replica_alias() else "primary"
    rows = lists.measure(client, paths, requests, repeats=args.repeats, log=log)
    table_sizes = {
        "invoice_list": results["fill"]["rows"]["invoices_invoice"],
        "payment_list": results["fill"]["rows"]["payments_payment"],
        "collections": results["fill"]["rows"]["billing_account"],
    }
    for row, request in zip(rows, requests, strict=True):
        row["count"] = lists.filtered_count(request.target, request.query.replace("&page=last", ""))
        row["share_of_rows"] = round(row["count"] / max(1, table_sizes[request.target]), 5)
    results["lists"] = rows

    keyed = [r.baseline for r in requests if r.baseline]
    sql_repeats = args.sql_repeats or min(args.repeats, 3 if args.scale >= 0.5 else 7)
    log(f"On-the-fly SQL baseline x {sql_repeats} ...")
    sql_times, sql_answers = baselines.measure_sql(keyed, repeats=sql_repeats, log=log)
    results["baselines"] = {"sql": sql_times}
    results["answers_match"] = _answers_match(sql_answers)
    log(f"  cached answers equal the ledger's: {results['answers_match']}")
    python_repeats = args.python_repeats or (1 if args.scale >= 0.5 else 3)
    log(f"Python baseline x {python_repeats} ...")
    results["baselines"]["python"] = baselines.measure_python(
        [status for kind, status in keyed if kind == "invoice"], repeats=python_repeats, log=log
    )
    results["baselines"]["repeats"] = {"sql": sql_repeats, "python": python_repeats}

    rounds = args.throughput_rounds
    log(f"Allocation throughput, {rounds} rounds of {args.throughput_seconds:.0f} s per clerk count ...")
    pairs = throughput.eligible_pairs()
    distinct = throughput.distinct_rounds([1, 4, 16], pairs, seconds=args.throughput_seconds, rounds=rounds, by=user)
    for run in distinct:
        log(
            f"  {run['threads']:>2} clerks distinct: {run['allocs_per_s']:7.1f} allocs/s (rounds {run['rounds']}), "
            f"p95 {run.get('latency', {}).get('p95_ms', 0):.1f} ms, refused {run['refused']}, "
            f"deadlocks {run['deadlocks']}, errors {run['errors']}"
        )
    hot = throughput.hot(16, seconds=args.throughput_seconds * rounds, by=user)
    hot.pop("_latencies", None)
    log(
        f"  16 clerks hot customer {hot['customer_id']} ({hot['hot_invoices']} invoices): "
        f"{hot['allocs_per_s']:7.1f} allocs/s, p95 {hot.get('latency', {}).get('p95_ms', 0):.1f} ms, "
        f"refused {hot['refused']}, deadlocks {hot['deadlocks']}, errors {hot['errors']}"
    )
    throughput.close_all()
    touched_invoices = [i for _, i, _ in pairs] + hot.pop("touched_invoices")
    touched_payments = [p for p, _, _ in pairs] + hot.pop("touched_payments")
    after, _ = checks.invariant_violations()
    write_path = throughput.write_path_violations(touched_invoices, touched_payments)
    results["throughput"] = {
        "distinct": distinct,
        "hot": hot,
        "eligible_pairs": len(pairs),
        "violations_after": after,
        "write_path_violations": write_path,
        "invariants_after": sum(after.values()) + write_path,
    }
    log(f"  invariants after: {after}, write-path (I4) violations {write_path}")

    log(
        f"Orders: invoice_order of a {orders.ORDER_LINES}-line order x {args.invoice_order_repeats}, "
        f"the orders list by status x {args.repeats} ..."
    )
    results["orders"] = orders.measure(
        client, by=user, repeats=args.repeats, invoice_repeats=args.invoice_order_repeats, log=log
    )

    log("Reconciliation over the whole data set (orders included) ...")
    results["reconcile"] = reconcile.measure()
    stand_in = results["reconcile"]["stand_in_sql"]
    log(
        f"  stand-in SQL {stand_in['seconds']} s (order checks {stand_in['order_checks_seconds']} s, "
        f"the rest {stand_in['without_orders_seconds']} s), drift {stand_in['drift']}"
    )


def _answers_match(on_the_fly: dict[tuple[str, str], tuple[list, list]]) -> dict:
    """The lists' answers (count and totals from the queue-total tables and from the rows,
    first page in the work-queue order) equal the ones derived from the ledger on the fly,
    read through the list selectors the pages use."""
    from billing.listing import currency_totals
    from invoices.selectors import invoice_list, invoice_totals
    from payments.selectors import payment_list, payment_totals

    found = {}
    for (kind, status), (page, totals) in on_the_fly.items():
        if kind == "invoice":
            # Open invoices of the status (the page's default state), oldest due first.
            filters = {"payment_status": status, "sort": "due_date"}
            queryset: QuerySet[Invoice] | QuerySet[Payment] = invoice_list(filters=filters)
            sums = ("balance_due", "total")
            answers = [invoice_totals(filters=filters), currency_totals(queryset, query=None, **{s: s for s in sums})]
        else:
            filters = {"allocation_status": status, "sort": "received"}
            queryset = payment_list(filters=filters)
            sums = ("amount", "unallocated")
            answers = [payment_totals(filters=filters), currency_totals(queryset, query=None, **{s: s for s in sums})]
        derived = {currency: tuple(values) for currency, _n, *values in totals}
        count = sum(n for _currency, n, *_values in totals)
        same = all(
            answer.count == count
            and derived == {row["currency"]: tuple(row[s] for s in sums) for row in answer.by_currency}
            for answer in answers
        )
        same_page = [row[0] for row in page] == list(queryset.values_list("pk", flat=True)[:50])
        found[f"{kind}:{status}"] = bool(same and same_page)
    return found
