"""Who did it: the acting user every service takes as its required keyword `by`.

None means the system (a nightly command, the demo seeder); a view always passes
request.user. Required, so a forgotten `by=request.user` is a TypeError, not "system".
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser

Actor: TypeAlias = AbstractBaseUser | None
