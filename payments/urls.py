"""Payment pages: /payments/..."""

from django.urls import path

from payments import list_views

app_name = "payments"

urlpatterns = [
    # --- Lists and exports (branch web-lists) ---
    path("", list_views.payment_list, name="list"),
    path("export.csv", list_views.payment_export, name="export"),
    # --- end lists ---
]
