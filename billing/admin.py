from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from billing.models import Account, Customer, Provider


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "reference"]
    search_fields = ["name", "email", "reference"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "last_invoice_number"]
    readonly_fields = ["last_invoice_number"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "provider", "currency", "balance_due", "open_invoice_count", "oldest_due_date"]
    list_select_related = ["customer", "provider"]
    raw_id_fields = ["customer", "provider"]
