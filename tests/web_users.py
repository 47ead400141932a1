"""Signed-in users of each role for view tests (the groups come from billing's data migration)."""

from django.contrib.auth.models import Group

from tests.factories import UserFactory


def user_with_role(role: str | None, username: str | None = None):
    user = UserFactory(username=username or f"{role or 'nobody'}-user")
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user
