"""Registrations pages (namespace "registrations", under /workshops/)."""

from django.urls import path

from registrations import views

app_name = "registrations"

urlpatterns = [
    path("", views.workshops, name="list"),
    path("new/", views.workshop_new, name="new"),
    path("register/", views.register_cart, name="register"),
    path("<int:pk>/", views.workshop_detail, name="workshop"),
    path("registrations/<int:pk>/", views.registration_detail, name="registration"),
    path("registrations/<int:pk>/cancel/", views.registration_cancel, name="cancel"),
]
