"""Invoice pages (namespace "invoices")."""

from django.urls import path

from invoices import detail_views

app_name = "invoices"

urlpatterns = [
    # --- Detail page and actions (branch web-actions) ---
    path("<int:pk>/", detail_views.invoice_detail, name="detail"),
    path("<int:pk>/issue/", detail_views.invoice_issue, name="issue"),
    path("<int:pk>/void/", detail_views.invoice_void, name="void"),
    path("<int:pk>/credit/", detail_views.invoice_credit, name="credit"),
    path("new/", detail_views.invoice_new, name="new"),
    # --- end of detail page and actions ---
]
