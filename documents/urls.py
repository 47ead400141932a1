"""Document pages: /documents/..."""

app_name = "documents"

urlpatterns: list = []
