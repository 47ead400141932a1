"""Settings of the workers the two-worker test starts: the test settings, plus the test's job."""

from config.settings.test import *  # noqa: F403

PROCRASTINATE_IMPORT_PATHS = ["tests.scaling.jobs"]
