from django.contrib import admin

from allocations.models import Allocation
from billing.admin_base import ReadOnlyAdmin


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "invoice", "amount", "reverses", "reason", "created_by", "created_at"]
    raw_id_fields = ["payment", "invoice", "reverses"]
