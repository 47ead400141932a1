from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatusChange


class LineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["position", "description", "quantity", "unit_price", "amount", "order_line"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "customer", "provider", "total", "balance_due", "state", "payment_status", "due_date"]
    list_filter = ["state", "payment_status", "currency"]
    search_fields = ["number", "customer__name"]
    list_select_related = ["customer", "provider"]
    raw_id_fields = ["customer", "provider", "account", "order"]
    inlines = [LineInline]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "invoice", "amount", "reason", "created_by", "created_at"]
    raw_id_fields = ["invoice"]


@admin.register(InvoiceStatusChange)
class InvoiceStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "invoice", "field", "old", "new", "reason", "created_by", "created_at"]
    list_filter = ["field"]
    raw_id_fields = ["invoice"]
