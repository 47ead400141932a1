"""Template context shared by every page: roles and the work-queue counts in the nav bar."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Sum

from billing.roles import roles_context

NAV_COUNTS_TTL = 30  # seconds: the nav is a hint; the queues themselves are always exact.


def work_queue_counts() -> dict[str, int]:
    """Counts of each work queue, cached briefly so every page load does not count millions of rows."""
    counts = cache.get("settle:nav-counts")
    if counts is None:
        from invoices.models import InvoiceQueueTotal
        from payments.models import PaymentQueueTotal

        # From the trigger-kept queue totals: a few thousand rows, whatever the books' size.
        invoices = dict(
            InvoiceQueueTotal.objects.filter(state="open")
            .values_list("payment_status")
            .annotate(n=Sum("invoices"))
            .values_list("payment_status", "n")
        )
        payments = dict(
            PaymentQueueTotal.objects.filter(state__in=["settled", "charged_back"])
            .values_list("allocation_status")
            .annotate(n=Sum("payments"))
            .values_list("allocation_status", "n")
        )
        counts = {name: int(invoices.get(name) or 0) for name in ("unpaid", "partially_paid", "overpaid")}
        counts.update(
            {name: int(payments.get(name) or 0) for name in ("unallocated", "partially_allocated", "overallocated")}
        )
        counts["needs_work"] = counts["unallocated"] + counts["partially_allocated"] + counts["overallocated"]
        cache.set("settle:nav-counts", counts, NAV_COUNTS_TTL)
    return counts


def current_nav_item(request) -> str:
    """Which main-navigation item the page belongs to (marked aria-current="page").

    The Overdue and To allocate items are filtered views of the invoice and payment lists:
    the list with that filter is that item, not the plain list."""
    from billing.queues import flag

    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if match.url_name == "dashboard":
        return "dashboard"
    area = match.namespace
    if area == "invoices" and match.url_name == "list" and flag(request.GET.get("overdue")):
        return "overdue"
    if area == "payments" and match.url_name == "list" and request.GET.get("queue") == "needs_work":
        return "to_allocate"
    return area


def settle(request) -> dict:
    context = roles_context(request)
    context["nav_current"] = current_nav_item(request)
    if context["can_read"]:
        context["nav_counts"] = work_queue_counts()
    return context
