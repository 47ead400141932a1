"""Where the benchmark sends its requests: the one place to re-point at integration.

Each target names a list page's URL (reversed, so the path follows the project's
urls.py) and the query strings measured on it. The pages are the real views, which read
through the same selectors the benchmark counts with (bench.lists.filtered_count).
"""

from __future__ import annotations

from dataclasses import dataclass

URL_NAMES = {
    "invoice_list": "invoices:list",
    "payment_list": "payments:list",
    "collections": "collections:list",
}


@dataclass(frozen=True)
class Request:
    label: str
    target: str
    query: str
    # Which baseline answers the same question on the fly (None: no baseline).
    baseline: tuple[str, str] | None = None


DEEP_PAGE = 2000  # offset 100,000 rows: a "deep page" of every queue that has one


def requests() -> list[Request]:
    invoice_statuses = ["unpaid", "partially_paid", "paid", "overpaid"]
    payment_statuses = ["unallocated", "partially_allocated", "fully_allocated", "overallocated"]
    listed = [Request(f"invoices {s}", "invoice_list", f"payment_status={s}", ("invoice", s)) for s in invoice_statuses]
    listed += [
        Request("invoices unpaid overdue", "invoice_list", "payment_status=unpaid&overdue=1"),
        Request("invoices overdue (both)", "invoice_list", "overdue=1"),
        Request(f"invoices unpaid p{DEEP_PAGE}", "invoice_list", f"payment_status=unpaid&page={DEEP_PAGE}"),
        Request(f"invoices paid p{DEEP_PAGE}", "invoice_list", f"payment_status=paid&page={DEEP_PAGE}"),
        Request("invoices paid last page", "invoice_list", "payment_status=paid&page=last"),
    ]
    listed += [
        Request(f"payments {s}", "payment_list", f"allocation_status={s}", ("payment", s)) for s in payment_statuses
    ]
    listed += [
        Request(
            f"payments fully_alloc. p{DEEP_PAGE}", "payment_list", f"allocation_status=fully_allocated&page={DEEP_PAGE}"
        ),
        Request("collections by balance", "collections", ""),
        Request("collections by age", "collections", "order=age"),
        Request("collections p100", "collections", "page=100"),
    ]
    return listed


# The orders list (issue 12), filtered by each billing and payment status. Its view may not be
# in this branch yet: bench.orders reports "view not available" when the name does not resolve.
ORDER_LIST_URL_NAME = "orders:list"
ORDER_BILLING_STATUSES = ["not_invoiced", "partially_invoiced", "invoiced"]
ORDER_PAYMENT_STATUSES = ["unpaid", "partially_paid", "paid", "overpaid"]


def order_requests() -> list[Request]:
    listed = [Request(f"orders {s}", "order_list", f"billing_status={s}") for s in ORDER_BILLING_STATUSES]
    listed += [Request(f"orders {s}", "order_list", f"payment_status={s}") for s in ORDER_PAYMENT_STATUSES]
    return listed


# Installment plans (issue 13): the plans list filtered by state and overdue, and a plan's page
# (a Plan pk). Built on another branch: bench.plans reports "not in this branch" when a name
# does not resolve.
PLAN_LIST_URL_NAME = "plans:list"
PLAN_DETAIL_URL_NAME = "plans:detail"
# The list's filters as plans.filters.PlanFilter names them (overdue: "yes" or "no").
PLAN_LIST_QUERIES = ["", "state=active", "state=paid_off", "overdue=yes", "state=active&overdue=yes"]
