from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from plans.models import PenaltyRule, PenaltyWaiver, Plan


class RuleInline(admin.TabularInline):
    model = PenaltyRule
    extra = 0
    can_delete = False
    readonly_fields = ["effective_from", "kind", "rate", "amount", "grace_days", "frequency", "cap", "created_at"]
    exclude = ["created_by", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "provider", "principal", "currency", "installment_count", "state"]
    list_filter = ["state", "currency"]
    search_fields = ["customer__name", "description"]
    list_select_related = ["customer", "provider"]
    raw_id_fields = ["customer", "provider", "account"]
    inlines = [RuleInline]


@admin.register(PenaltyWaiver)
class PenaltyWaiverAdmin(ReadOnlyAdmin):
    list_display = ["installment", "reason", "created_by", "created_at"]
    raw_id_fields = ["installment"]
