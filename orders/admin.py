from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from orders.models import Order, OrderLine


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = [
        "position",
        "kind",
        "description",
        "quantity",
        "unit_price",
        "delivered_quantity",
        "canceled_quantity",
        "invoiced_quantity",
        "invoiceable_quantity",
    ]
    exclude = ["created_by"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "provider", "invoiced_total", "balance_due", "state", "billing_status"]
    list_filter = ["state", "billing_status", "payment_status", "currency"]
    search_fields = ["number", "customer__name"]
    list_select_related = ["customer", "provider"]
    raw_id_fields = ["customer", "provider", "account"]
    inlines = [LineInline]
