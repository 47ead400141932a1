"""Order pages (namespace "orders")."""

from django.urls import path

from orders import action_views, detail_views, list_views

app_name = "orders"

urlpatterns = [
    path("", list_views.order_list, name="list"),
    path("export.csv", list_views.order_export, name="export"),
    path("new/", detail_views.order_new, name="new"),
    path("<int:pk>/", detail_views.order_detail, name="detail"),
    path("<int:pk>/deliver/", action_views.order_deliver, name="deliver"),
    path("<int:pk>/invoice/", action_views.order_invoice, name="invoice"),
    path("<int:pk>/add-line/", action_views.order_add_line, name="add_line"),
    path("<int:pk>/cancel/", action_views.order_cancel, name="cancel"),
    path("<int:pk>/invoices/<int:invoice_pk>/credit/", action_views.order_credit, name="credit"),
]
