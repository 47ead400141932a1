from django.urls import path

from intake import views as import_views

app_name = "imports"

urlpatterns = [
    path("", import_views.upload, name="upload"),
    path("entries/", import_views.entries, name="entries"),
    path("entries/<int:pk>/assign/", import_views.assign, name="assign"),
    path("entries/<int:pk>/dismiss/", import_views.dismiss, name="dismiss"),
]
