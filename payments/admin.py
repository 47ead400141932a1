from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from payments.models import Chargeback, Payment, PaymentStatusChange, Refund


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "customer", "amount", "currency", "unallocated", "state", "allocation_status"]
    list_filter = ["state", "allocation_status", "currency", "method"]
    search_fields = ["reference", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "amount", "reason", "created_by", "created_at"]
    raw_id_fields = ["payment"]


@admin.register(Chargeback)
class ChargebackAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "amount", "reason", "created_by", "created_at"]
    raw_id_fields = ["payment"]


@admin.register(PaymentStatusChange)
class PaymentStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "field", "old", "new", "reason", "created_by", "created_at"]
    list_filter = ["field"]
    raw_id_fields = ["payment"]
