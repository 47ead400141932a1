"""Installment plans in `make bench` (issue 13): the nightly assessment, the plans list and a plan's page.

The nightly assessment is plans.assessment.run_assessment (what `manage.py
assess_penalties` runs) over every plan as of today: the fill (bench.generate_plans)
left the penalties last night's run charged and its log (so tonight's run looks only at
what moved since), some payments recorded today back-dated, and the periods falling due
today, so the first run writes real penalty invoices and recalculation credit notes. It is
timed with what it wrote; then run again the same day, which must write nothing (I11);
then once more looking at every installment (`--full`), which must write nothing either
(what the first two skipped was settled); each timed, then every invariant is checked.

The plans list (filtered by state and overdue) and the plan page are measured as the
other lists are (bench.lists.measure: the real views through the Django test client, cold
cache, round-robin repeats), at the URL names below. When a name does not resolve (the
pages are built on another branch) or a page answers with an error, the section says so
instead of failing the run, as bench.reconcile does for a missing command.
"""

from __future__ import annotations

import datetime
import time

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from bench import checks, lists, targets

ASSESS_SECONDS = 60
PLAN_PAGES_P95_MS = 50


def measure(client, *, repeats: int, log=print) -> dict:
    result: dict = {"data": plan_counts()}
    result["assess"] = measure_assessment(log=log)
    result["list"] = measure_pages(client, list_requests(), repeats=repeats, what="plans list", log=log)
    result["page"] = measure_pages(client, page_requests(), repeats=repeats, what="plan page", log=log)
    if not (result["list"]["available"] and result["page"]["available"]):
        result["stand_in"] = measure_stand_in(repeats=repeats, log=log)
    return result


def plan_counts() -> dict:
    """How many plans, installments and penalties the run works on, and how many are overdue today."""
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT count(*) FROM plans_plan),
                      count(*) FILTER (WHERE plan_sequence IS NOT NULL),
                      count(*) FILTER (WHERE plan_sequence IS NOT NULL AND state = 'open' AND balance_due > 0
                                       AND due_date < %s),
                      count(*) FILTER (WHERE installment_id IS NOT NULL),
                      (SELECT count(*) FROM plans_penaltywaiver)
               FROM invoices_invoice WHERE plan_id IS NOT NULL""",
            [today],
        )
        plans, installments, overdue, penalties, waivers = cursor.fetchone()
    return {
        "plans": plans,
        "installments": installments,
        "overdue_installments": overdue,
        "penalty_invoices": penalties,
        "waivers": waivers,
    }


# The runs, in order: tonight's (after last night's, logged by the fill: it looks at what moved
# since), the same again (must write nothing), and one looking at every installment (--full).
RUNS = [("first", False), ("second", False), ("full", True)]


def measure_assessment(*, as_of: datetime.date | None = None, log=print) -> dict:
    from plans.assessment import run_assessment
    from plans.models import PenaltyAssessment

    as_of = as_of or timezone.localdate()
    found: dict = {"as_of": as_of.isoformat()}
    for name, full in RUNS:
        started = time.perf_counter()
        result = run_assessment(as_of=as_of, full=full, by=None)
        seconds = time.perf_counter() - started
        logged = PenaltyAssessment.objects.filter(plan__isnull=True).order_by("-started_at", "-id").first()
        run = {
            "seconds": round(seconds, 2),
            "incremental": bool(logged and logged.incremental),
            "candidates": result.candidates,
            "candidates_per_s": round(result.candidates / seconds) if seconds else 0,
            "penalty_invoices": len(result.penalties),
            "credit_notes": len(result.credit_notes),
            # Penalty invoices for what a period comes to more than was charged (penalty_revision > 0).
            "revisions": sum(1 for invoice in result.penalties if invoice.penalty_revision),
        }
        found[name] = run
        log(
            f"  assess_penalties as of {as_of}, {name} run ({'what moved' if run['incremental'] else 'everything'}): "
            f"{seconds:.1f} s, {result.candidates} installments looked "
            f"at ({run['candidates_per_s']}/s), {run['penalty_invoices']} penalty invoices, "
            f"{run['credit_notes']} recalculation credit notes, {run['revisions']} of the penalties revisions"
        )
    found["installments_per_s"] = 0
    counts = plan_counts()
    if found["first"]["seconds"]:
        found["installments_per_s"] = round(counts["installments"] / found["first"]["seconds"])
    started = time.perf_counter()
    violations, _ = checks.invariant_violations()
    found["violations_after"] = {name: n for name, n in violations.items() if n}
    found["invariants_after"] = sum(violations.values())
    log(f"  invariants after the runs: {found['invariants_after']} violations ({time.perf_counter() - started:.1f} s)")
    return found


def list_requests() -> list[targets.Request]:
    return [
        targets.Request(f"plans {query.replace('&', ', ').replace('=', ' ') or 'unfiltered'}", "plan_list", query)
        for query in targets.PLAN_LIST_QUERIES
    ]


def page_requests() -> list[targets.Request]:
    """The page of a few plans: the one with the most penalty invoices, an overdue one, a paid-off one."""
    with connection.cursor() as cursor:
        cursor.execute(
            """(SELECT plan_id, 'most penalties' FROM invoices_invoice WHERE installment_id IS NOT NULL
                GROUP BY plan_id ORDER BY count(*) DESC, plan_id LIMIT 1)
               UNION ALL
               (SELECT plan_id, 'overdue' FROM invoices_invoice
                WHERE plan_sequence IS NOT NULL AND state = 'open' AND balance_due > 0 AND due_date < current_date
                ORDER BY plan_id LIMIT 1)
               UNION ALL
               (SELECT id, 'paid off' FROM plans_plan WHERE state = 'paid_off' ORDER BY id LIMIT 1)"""
        )
        chosen = cursor.fetchall()
    return [targets.Request(f"plan page, {label} ({pk})", f"plan:{pk}", "") for pk, label in chosen]


def _path(target: str) -> str:
    if target.startswith("plan:"):
        return reverse(targets.PLAN_DETAIL_URL_NAME, args=[int(target.split(":", 1)[1])])
    return reverse(targets.PLAN_LIST_URL_NAME)


def measure_pages(client, requests: list[targets.Request], *, repeats: int, what: str, log=print) -> dict:
    try:
        paths = {request.target: _path(request.target) for request in requests}
    except NoReverseMatch as exc:
        log(f"  {what}: not in this branch ({exc})")
        return {"available": False, "reason": f"not in this branch: {exc}"}
    if not requests:
        return {"available": False, "reason": "no plan to show"}
    try:
        rows = lists.measure(client, paths, requests, repeats=repeats, log=log)
    except Exception as exc:  # noqa: BLE001 - a page that errors is reported, the run's other figures kept
        log(f"  {what}: failed ({type(exc).__name__}: {exc})")
        return {"available": False, "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {"available": True, "rows": rows}


def _stand_in_queries(state: str | None, overdue_only: bool) -> None:
    """What a plans list page reads, from what this branch has: a page of 50 plans newest first
    (with their customers) and the count, filtered by state and by an overdue invoice of the plan
    (invoices.models.overdue, asked with EXISTS as the pages' branch does)."""
    from django.db.models import Exists, OuterRef

    from invoices.models import Invoice, overdue
    from plans.models import Plan

    plans = Plan.objects.all()
    if state:
        plans = plans.filter(state=state)
    if overdue_only:
        plans = plans.filter(Exists(Invoice.objects.filter(overdue(timezone.localdate()), plan_id=OuterRef("pk"))))
    list(plans.select_related("customer").order_by("-id")[:50])
    plans.count()


def _stand_in_page(pk: int) -> None:
    """What a plan page reads, from what this branch has: the plan, its rule versions, its
    installments and penalties in schedule order, their credit notes and the waivers."""
    from invoices.models import CreditNote
    from plans.models import PenaltyWaiver, Plan

    plan = Plan.objects.select_related("customer", "provider").get(pk=pk)
    list(plan.penalty_rules.all())
    installments = list(plan.installments)
    list(plan.penalties)
    list(CreditNote.objects.filter(invoice__plan_id=pk))
    list(PenaltyWaiver.objects.filter(installment__in=[i.pk for i in installments]))


def measure_stand_in(*, repeats: int, log=print) -> dict:
    """The pages' queries through the ORM (no view, no template), timed as the pages would be:
    not the pages' figures, an indication of what their data costs at this scale."""
    from bench.stats import summary_ms

    cases = [(f"list {request.query or 'unfiltered'}", _list_case(request.query)) for request in list_requests()] + [
        (request.label, _page_case(int(request.target.split(":", 1)[1]))) for request in page_requests()
    ]
    rows = []
    for label, run in cases:
        run()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            samples.append(time.perf_counter() - started)
        row = {"label": f"stand-in {label}", **summary_ms(samples)}
        rows.append(row)
        log(f"  stand-in (ORM, no view) {label:<34} p50 {row['median_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms")
    return {"rows": rows}


def _list_case(query: str):
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    return lambda: _stand_in_queries(params.get("state"), params.get("overdue") == "yes")


def _page_case(pk: int):
    return lambda: _stand_in_page(pk)


def verdicts(found: dict) -> list[dict]:
    assess = found["assess"]
    checks_: list[dict] = [
        {
            "target": "assess_penalties over every plan, first run, seconds",
            "scope": "what moved since last night's run" if assess["first"]["incremental"] else "everything",
            "value": assess["first"]["seconds"],
            "goal": f"< {ASSESS_SECONDS} s",
            "met": assess["first"]["seconds"] < ASSESS_SECONDS,
        },
        {
            "target": "assess_penalties again the same day: documents written (I11)",
            "value": assess["second"]["penalty_invoices"] + assess["second"]["credit_notes"],
            "goal": "0",
            "met": assess["second"]["penalty_invoices"] + assess["second"]["credit_notes"] == 0,
        },
        {
            # Looking at everything after the runs that looked at what moved: what they skipped was settled.
            "target": "assess_penalties --full after them: documents written",
            "value": assess["full"]["penalty_invoices"] + assess["full"]["credit_notes"],
            "goal": "0",
            "met": assess["full"]["penalty_invoices"] + assess["full"]["credit_notes"] == 0,
        },
        {
            "target": "invariant violations after the assessment",
            "value": assess["invariants_after"],
            "goal": "0",
            "met": assess["invariants_after"] == 0,
        },
    ]
    for section in ("list", "page"):
        for row in found[section].get("rows", []):
            checks_.append(
                {
                    "target": f"p95 {row['label']}",
                    "value": row["p95_ms"],
                    "goal": f"< {PLAN_PAGES_P95_MS} ms",
                    "met": row["p95_ms"] < PLAN_PAGES_P95_MS,
                }
            )
    return checks_


def failed(found: dict) -> bool:
    """What breaks the run (a miss of a speed target does not): broken invariants, or a run after the
    first that writes (the same day again, or --full: what the first skipped should have been settled)."""
    assess = found["assess"]
    later = [assess[name] for name in ("second", "full")]
    return bool(assess["invariants_after"] or any(run["penalty_invoices"] or run["credit_notes"] for run in later))


def table(found: dict, machine: dict | None = None) -> str:
    lines = []
    if machine:
        lines.append(
            f"Plans at scale {machine['scale']}: load average {machine['load_average_start'][0]} at start, "
            f"{machine.get('load_average_end', ['?'])[0]} at end"
        )
    data = found["data"]
    lines.append(
        f"{data['plans']:,} plans, {data['installments']:,} installments ({data['overdue_installments']:,} overdue), "
        f"{data['penalty_invoices']:,} penalty invoices, {data['waivers']:,} waivers"
    )
    assess = found["assess"]
    header = f"{'assess_penalties as of ' + assess['as_of']:<36}{'s':>8}{'looked at':>11}{'/s':>8}{'penalties':>11}"
    header += f"{'credits':>9}{'revis.':>8}"
    lines += ["", header, "-" * len(header)]
    for name, _full in RUNS:
        run = assess[name]
        scope = "what moved" if run["incremental"] else "everything"
        lines.append(
            f"{name + ' run, ' + scope:<36}{run['seconds']:>8.1f}{run['candidates']:>11}{run['candidates_per_s']:>8}"
            f"{run['penalty_invoices']:>11}{run['credit_notes']:>9}{run['revisions']:>8}"
        )
    lines.append(
        f"first run over every installment: {assess['installments_per_s']:,} installments/s (target < "
        f"{ASSESS_SECONDS} s); invariant violations after: {assess['invariants_after']}"
    )
    for section, what in (("list", "plans list"), ("page", "plan page")):
        listed = found[section]
        if not listed.get("available"):
            lines.append(f"{what}: view not available ({listed.get('reason', '')})")
            continue
        header = f"{what + ' (server time, test client)':<44}{'p50 ms':>9}{'p95 ms':>9}{'qs':>4}"
        lines += ["", header, "-" * len(header)]
        for row in listed["rows"]:
            lines.append(f"{row['label']:<44}{row['median_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['queries']:>4}")
    if found.get("stand_in"):
        header = f"{'pages missing: their queries (ORM, no view)':<52}{'p50 ms':>9}{'p95 ms':>9}"
        lines += ["", header, "-" * len(header)]
        for row in found["stand_in"]["rows"]:
            lines.append(f"{row['label']:<52}{row['median_ms']:>9.1f}{row['p95_ms']:>9.1f}")
    return "\n".join(lines)
