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
        from billing.status import PaymentStatus
        from invoices.models import INVOICE_QUEUE_FIGURES, InvoiceQueueTotal, InvoiceState
        from payments.filters import NEEDS_WORK
        from payments.models import NEEDS_WORK_STATES, NEEDS_WORK_STATUSES, PAYMENT_QUEUE_FIGURES, PaymentQueueTotal

        # From the trigger-kept queue totals: a few thousand rows, whatever the books' size.
        invoices = dict(
            InvoiceQueueTotal.objects.filter(state=InvoiceState.OPEN)
            .values_list("payment_status")
            .annotate(n=Sum(INVOICE_QUEUE_FIGURES.count))
            .values_list("payment_status", "n")
        )
        payments = dict(
            PaymentQueueTotal.objects.filter(state__in=NEEDS_WORK_STATES)
            .values_list("allocation_status")
            .annotate(n=Sum(PAYMENT_QUEUE_FIGURES.count))
            .values_list("allocation_status", "n")
        )
        invoice_queues = (PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID, PaymentStatus.OVERPAID)
        counts = {str(name): int(invoices.get(name) or 0) for name in invoice_queues}
        counts.update({str(name): int(payments.get(name) or 0) for name in NEEDS_WORK_STATUSES})
        counts[NEEDS_WORK] = sum(counts[str(name)] for name in NEEDS_WORK_STATUSES)
        cache.set("settle:nav-counts", counts, NAV_COUNTS_TTL)
    return counts


def current_nav_item(request) -> str:
    """Which main-navigation item the page belongs to (marked aria-current="page").

    The Overdue and To allocate items are filtered views of the invoice and payment lists:
    the list with that filter is that item, not the plain list."""
    from invoices.filters import InvoiceFilter
    from payments.filters import NEEDS_WORK

    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if match.url_name == "dashboard":
        return "dashboard"
    area = match.namespace
    if area == "invoices" and match.url_name == "list" and InvoiceFilter.only_overdue(request.GET):
        return "overdue"
    if area == "payments" and match.url_name == "list" and request.GET.get("queue") == NEEDS_WORK:
        return "to_allocate"
    return area


def settle(request) -> dict:
    context = roles_context(request)
    context["nav_current"] = current_nav_item(request)
    if context["can_read"]:
        context["nav_counts"] = work_queue_counts()
    return context
