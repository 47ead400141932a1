"""Administrators make and revoke anyone's API tokens here; the token is shown once, in the message."""

from django.contrib import admin, messages

from api import tokens
from api.models import ApiToken, WebhookDelivery, WebhookSubscription


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "name", "prefix", "created_at", "revoked_at"] if obj else []

    def get_fields(self, request, obj=None):
        return ["user", "name", "prefix", "created_at", "revoked_at"] if obj else ["user", "name"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, text = tokens.create_token(user=obj.user, name=obj.name, by=request.user)
        obj.pk = token.pk
        messages.warning(request, f"The token for {obj.user}: {text} — copy it now; it is not shown again.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row says when

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            tokens.revoke_token(token, by=request.user)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "events", "active", "created_at"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "event_id", "subscription", "attempt", "status_code", "succeeded", "created_at"]
    list_filter = ["succeeded", "event"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
