"""The sign-in page, which names the demo accounts while the demo data is loaded (never in production)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView

# (username, password hash) -> does the demo password still open it; a changed password changes the hash.
_still_demo: dict[tuple[str, str], bool] = {}


def demo_sign_ins() -> list[tuple[str, str]]:
    """(username, password) of each demo account seed_demo created that still has its demo password."""
    if not settings.SETTLE_DEMO_ALLOWED:
        return []
    from demo.management.commands.seed_demo import DEMO_USERS

    passwords = {username: password for username, password, *_ in DEMO_USERS}
    users = get_user_model().objects.filter(username__in=passwords, is_active=True)
    found = []
    for user in users:
        key = (user.username, user.password)
        if key not in _still_demo:  # hashing is slow on purpose: once per process and password
            _still_demo[key] = user.check_password(passwords[user.username])
        if _still_demo[key]:
            found.append((user.username, passwords[user.username]))
    order = list(passwords)
    return sorted(found, key=lambda pair: order.index(pair[0]))


class SignInView(LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(demo_accounts=demo_sign_ins(), **kwargs)
