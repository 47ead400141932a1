from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from intake.models import BankEntry


@admin.register(BankEntry)
class BankEntryAdmin(ReadOnlyAdmin):
    list_display = ["bank_reference", "booking_date", "amount", "currency", "credit", "reversal", "status", "payment"]
    list_filter = ["status", "currency", "credit", "reversal"]
    search_fields = ["bank_reference", "counterparty_name", "remittance_text"]
    raw_id_fields = ["customer", "payment", "chargeback"]
