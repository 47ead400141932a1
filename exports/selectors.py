"""Export reads: the batches list (with each batch's delivery state) and a batch's rows."""

from __future__ import annotations

from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When

from exports.models import BatchState, Delivery, DeliveryResult, ExportBalance, ExportBatch, ExportItem


def _has(result: str) -> Exists:
    return Exists(Delivery.objects.filter(batch_id=OuterRef("pk"), result=result))


def batch_list(*, profile: str | None = None, state: str | None = None) -> QuerySet[ExportBatch]:
    """Newest first, each annotated with `delivery_state` (the model's `state`, in SQL)."""
    batches = ExportBatch.objects.annotate(
        delivery_state=Case(
            When(_has(DeliveryResult.ACKNOWLEDGED), then=Value(BatchState.ACKNOWLEDGED.value)),
            When(_has(DeliveryResult.OK), then=Value(BatchState.DELIVERED.value)),
            When(_has(DeliveryResult.FAILED), then=Value(BatchState.FAILED.value)),
            default=Value(BatchState.SEALED.value),
        )
    ).order_by("-created_at", "-pk")
    if profile:
        batches = batches.filter(profile=profile)
    if state:
        batches = batches.filter(delivery_state=state)
    return batches


def batch_balances(batch: ExportBatch) -> QuerySet[ExportBalance]:
    return batch.balances


def batch_entries(batch: ExportBatch) -> QuerySet[ExportItem]:
    """The batch's entries in journal order, with what the page shows of each."""
    return (
        ExportItem.objects.filter(batch=batch)
        .select_related("entry__customer", "entry__account__provider", "entry__invoice", "entry__credit_note__invoice")
        .order_by("entry_id")
    )
