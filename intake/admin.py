from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from intake.models import BankEntry, StatementImport


@admin.register(BankEntry)
class BankEntryAdmin(ReadOnlyAdmin):
    list_display = ["bank_reference", "booking_date", "amount", "currency", "credit", "reversal", "status", "payment"]
    list_filter = ["status", "currency", "credit", "reversal"]
    search_fields = ["bank_reference", "counterparty_name", "remittance_text"]
    raw_id_fields = ["customer", "payment", "chargeback"]


@admin.register(StatementImport)
class StatementImportAdmin(ReadOnlyAdmin):
    """For an administrator looking for an import; /imports/<id>/ is the page to read it on."""

    list_display = ["id", "source_name", "requested_by", "created_at", "status", "done", "total"]
    list_filter = ["status", "dry_run"]
    search_fields = ["source_name"]
