"""Plan pages (namespace "plans")."""

from django.urls import path

from plans import action_views, detail_views, list_views

app_name = "plans"

urlpatterns = [
    path("", list_views.plan_list, name="list"),
    path("export.csv", list_views.plan_export, name="export"),
    path("waivers/", list_views.waiver_report, name="waivers"),
    path("waivers/export.csv", list_views.waiver_export, name="waivers_export"),
    path("new/", detail_views.plan_new, name="new"),
    path("<int:pk>/", detail_views.plan_detail, name="detail"),
    path("<int:pk>/assess/", action_views.assess, name="assess"),
    path("<int:pk>/rule/", action_views.change_rule, name="change_rule"),
    path("<int:pk>/penalties/<int:penalty_pk>/waive/", action_views.waive, name="waive"),
    path("<int:pk>/installments/<int:installment_pk>/waive-future/", action_views.waive_future, name="waive_future"),
    path("<int:pk>/installments/<int:installment_pk>/notice/", action_views.notice, name="notice"),
]
