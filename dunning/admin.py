from django.contrib import admin

from billing.admin_base import ReadOnlyAdmin
from dunning.models import CollectionNote


@admin.register(CollectionNote)
class CollectionNoteAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "outcome", "promised_date", "promised_amount", "created_by"]
    list_select_related = ["account__customer", "account__provider", "created_by"]
    raw_id_fields = ["account"]
