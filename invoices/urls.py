"""Invoice pages (namespace "invoices")."""

from django.urls import path

from invoices import detail_views, list_views

app_name = "invoices"

urlpatterns = [
    path("", list_views.invoice_list, name="list"),
    path("export.csv", list_views.invoice_export, name="export"),
    path("new/", detail_views.invoice_new, name="new"),
    path("<int:pk>/", detail_views.invoice_detail, name="detail"),
    path("<int:pk>/issue/", detail_views.invoice_issue, name="issue"),
    path("<int:pk>/void/", detail_views.invoice_void, name="void"),
    path("<int:pk>/credit/", detail_views.invoice_credit, name="credit"),
]
