from django.apps import AppConfig


class DemoConfig(AppConfig):
    """seed_demo: deterministic demo books through the services, and the demo users."""

    name = "demo"
