"""Collections pages: /collections/..."""

from django.urls import path

from dunning import views as collections_views

app_name = "collections"

urlpatterns = [
    path("", collections_views.collections_list, name="list"),
    path("promises/", collections_views.promises_due, name="promises"),
    path("<int:pk>/", collections_views.account_detail, name="account"),
    path("<int:pk>/notes/", collections_views.add_note, name="add_note"),
]
