"""Document pages: /documents/..."""

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("statement/", views.new_statement, name="issue_statement"),
    path("reminder/", views.new_reminder, name="issue_reminder"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/body/", views.document_body, name="body"),
    path("<int:pk>/pdf/", views.document_pdf, name="pdf"),
    path("<int:pk>/pdf/make/", views.make_pdf, name="make_pdf"),
    path("<int:pk>/send/", views.send, name="send"),
]
