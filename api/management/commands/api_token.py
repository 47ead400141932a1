"""Make or revoke a user's API token from the shell: `api_token create USER NAME`, `api_token revoke ID`."""

from django.core.management.base import BaseCommand, CommandError

from api import tokens
from api.models import ApiToken
from billing.errors import BillingError


class Command(BaseCommand):
    help = "Create an API token for a user (printed once) or revoke one by id."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("name")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action: str, **options):
        if action == "create":
            user = tokens.user_by_name(options["username"])
            if user is None:
                raise CommandError(f"There is no user {options['username']}.")
            try:
                token, text = tokens.create_token(user=user, name=options["name"], by=None)
            except BillingError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Token {token.pk} for {user.get_username()} (shown once, keep it safe):\n{text}")
            return
        found = ApiToken.objects.filter(pk=options["id"]).first()
        if found is None:
            raise CommandError(f"There is no token {options['id']}.")
        tokens.revoke_token(found, by=None)
        self.stdout.write(f"Revoked token {found.pk} ({found.name}) of {found.user}.")
