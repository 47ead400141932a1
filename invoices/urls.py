"""Invoice pages: /invoices/..."""

from django.urls import path

from invoices import list_views

app_name = "invoices"

urlpatterns = [
    # --- Lists and exports (branch web-lists) ---
    path("", list_views.invoice_list, name="list"),
    path("export.csv", list_views.invoice_export, name="export"),
    # --- end lists ---
]
