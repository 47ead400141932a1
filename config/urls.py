"""Top-level URLs. Each area has its own namespace."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.api import urls as api_urls
from backoffice import customer_views, views
from backoffice.sign_in import SignInView
from billing import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", views.dashboard, name="dashboard"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("resubmit/", views.resubmit_form, name="resubmit"),
    path("customers/<int:pk>/", customer_views.customer_detail, name="customer"),
    path("search/", customer_views.search, name="search"),
    path("reconciliation/", include("reconciliation.urls")),
    path("imports/", include("intake.urls")),
    path("admin/", admin.site.urls),
    path("invoices/", include("invoices.urls")),
    path("payments/", include("payments.urls")),
    path("orders/", include("orders.urls")),
    path("plans/", include("plans.urls")),
    path("workshops/", include("registrations.urls")),
    path("collections/", include("dunning.urls")),
    path("documents/", include("documents.urls")),
    path("exports/", include("exports.urls")),
    path("api/v1/", api_urls()),
]
