"""Export pages (namespace "exports") and the agency's acknowledgement callback."""

from django.urls import path

from exports import callback_views, views

app_name = "exports"

urlpatterns = [
    path("", views.batch_list, name="list"),
    path("<int:pk>/", views.batch_detail, name="detail"),
    path("<int:pk>/payload/", views.batch_payload, name="payload"),
    path("<int:pk>/resend/", views.batch_resend, name="resend"),
    path("callback/<slug:profile>/<int:number>/acknowledge/", callback_views.acknowledge, name="acknowledge"),
]
