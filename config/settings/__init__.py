"""Settings are chosen by DJANGO_ENV: production, test, or (default) development."""

import os

_env = os.environ.get("DJANGO_ENV", "development")
if _env == "production":
    from .production import *  # noqa: F403
elif _env == "test":
    from .test import *  # noqa: F403
else:
    from .base import *  # noqa: F403
