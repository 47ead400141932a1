"""The void confirmation's preview: the real void rehearsed and rolled back (ledger.previews)."""

from __future__ import annotations

from billing.actors import Actor
from billing.rehearse import rehearse
from invoices.models import Invoice
from invoices.services import void_invoice
from ledger.previews import PREVIEW_REASON, Preview, become, last_allocation_id, reversals_since


class VoidPreview(Preview):
    def summary(self) -> str:
        if not self.reversals:
            return f"Invoice {self.invoice} will be void. {self.reversal_sentence()}"
        freed = become(
            "payment", [(str(r.payment), r.payment.get_allocation_status_display().lower()) for r in self.reversals]
        )
        return f"{self.reversal_sentence()}; {freed}."


def preview_void(invoice: Invoice, *, by: Actor) -> VoidPreview:
    def act() -> VoidPreview:
        last = last_allocation_id()
        fresh = Invoice.objects.get(pk=invoice.pk)
        void_invoice(fresh, by=by, reason=PREVIEW_REASON)
        return VoidPreview(invoice.currency, reversals_since(last, invoice_id=invoice.pk), invoice=fresh)

    return rehearse(act)
