"""Payment pages (namespace "payments")."""

from django.urls import path

from payments import detail_views, list_views, reviewed_views

app_name = "payments"

urlpatterns = [
    path("", list_views.payment_list, name="list"),
    path("export.csv", list_views.payment_export, name="export"),
    path("new/", detail_views.payment_new, name="new"),
    path("<int:pk>/", detail_views.payment_detail, name="detail"),
    path("<int:pk>/allocate/", detail_views.payment_allocate, name="allocate"),
    path("<int:pk>/allocate/remaining/", detail_views.payment_remaining, name="remaining"),
    path("<int:pk>/deallocate/", detail_views.payment_deallocate, name="deallocate"),
    path("<int:pk>/refund/", reviewed_views.payment_refund, name="refund"),
    path("<int:pk>/chargeback/", reviewed_views.payment_chargeback, name="chargeback"),
    path("<int:pk>/cancel/", detail_views.payment_cancel, name="cancel"),
    path("<int:pk>/correct/", reviewed_views.payment_correct, name="correct"),
    path("<int:pk>/settle/", detail_views.payment_settle, name="settle"),
]
