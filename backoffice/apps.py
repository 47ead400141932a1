from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The pages that compose every domain: the dashboard and the navigation."""

    name = "backoffice"
