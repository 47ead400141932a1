"""Template context shared by every page: roles and the work-queue counts in the nav bar."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count, Q

from billing.roles import roles_context

NAV_COUNTS_TTL = 30  # seconds: the nav is a hint; the queues themselves are always exact.


def work_queue_counts() -> dict[str, int]:
    """Counts of each work queue, cached briefly so every page load does not count millions of rows."""
    counts = cache.get("settle:nav-counts")
    if counts is None:
        from invoices.models import Invoice
        from payments.models import Payment

        counts = Invoice.objects.filter(state="open").aggregate(
            unpaid=Count("id", filter=Q(payment_status="unpaid")),
            partially_paid=Count("id", filter=Q(payment_status="partially_paid")),
            overpaid=Count("id", filter=Q(payment_status="overpaid")),
        )
        counts.update(
            Payment.objects.filter(state__in=["settled", "charged_back"]).aggregate(
                unallocated=Count("id", filter=Q(allocation_status="unallocated")),
                partially_allocated=Count("id", filter=Q(allocation_status="partially_allocated")),
                overallocated=Count("id", filter=Q(allocation_status="overallocated")),
            )
        )
        counts["needs_work"] = counts["unallocated"] + counts["partially_allocated"] + counts["overallocated"]
        cache.set("settle:nav-counts", counts, NAV_COUNTS_TTL)
    return counts


def settle(request) -> dict:
    context = roles_context(request)
    if context["can_read"]:
        context["nav_counts"] = work_queue_counts()
    return context
