"""Write the API's OpenAPI document to api/openapi.json (or --check that it is up to date)."""

from django.core.management.base import BaseCommand, CommandError

from api.openapi import DOCUMENT, current_schema


class Command(BaseCommand):
    help = "Write api/openapi.json from the API's code; --check exits 1 when the committed one differs."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, check: bool = False, **options):
        text = current_schema()
        if check:
            if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
                raise CommandError(f"{DOCUMENT} is out of date: run 'manage.py api_schema' and commit it.")
            self.stdout.write("api/openapi.json is up to date.")
            return
        DOCUMENT.write_text(text)
        self.stdout.write(f"Wrote {DOCUMENT}.")
