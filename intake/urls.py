from django.urls import path

from intake import views as import_views

app_name = "imports"

urlpatterns = [
    path("", import_views.upload, name="upload"),
    path("<int:pk>/", import_views.detail, name="detail"),
    path("<int:pk>/progress/", import_views.progress, name="progress"),
    path("<int:pk>/run-again/", import_views.run_again, name="run_again"),
    path("<int:pk>/for-real/", import_views.for_real, name="for_real"),
    path("entries/", import_views.entries, name="entries"),
    path("entries/<int:pk>/assign/", import_views.assign, name="assign"),
    path("entries/<int:pk>/dismiss/", import_views.dismiss, name="dismiss"),
]
