from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from reconciliation.models import ReconciliationDifference, ReconciliationRun


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "started_at",
        "finished_at",
        "fix",
        "objects_checked",
        "drift_found",
        "drift_fixed",
        "outcome",
    ]
    list_filter = ["outcome", "fix"]


@admin.register(ReconciliationDifference)
class ReconciliationDifferenceAdmin(ReadOnlyAdmin):
    list_display = ["run", "object_kind", "object_label", "field", "cached_value", "ledger_value", "fixed"]
    list_filter = ["object_kind", "field", "fixed"]
    raw_id_fields = ["run"]
