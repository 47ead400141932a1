"""Invoice reads shared by views, exports, commands and the benchmark."""

from __future__ import annotations

from django.db.models import QuerySet

from invoices.models import Invoice, InvoiceState
from payments.models import Payment


def allocatable_invoices(payment: Payment) -> QuerySet[Invoice]:
    """Invoices a payment may go to: open, same customer and currency, something due; oldest first."""
    return Invoice.objects.filter(
        customer_id=payment.customer_id,
        currency=payment.currency,
        state=InvoiceState.OPEN,
        balance_due__gt=0,
    ).order_by("due_date", "issue_date", "id")
