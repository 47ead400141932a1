"""Settings of the export benchmark's child process: the project's, plus the bench profile.

The profile carries the invoice side of the journal (what the agency is sent) into the
folder named by SETTLE_BENCH_OUTBOX.
"""

import os

from config.settings import *  # noqa: F403

SETTLE_EXPORT_PROFILES = {
    "bench": {
        "kinds": ["invoice", "credit_note", "void"],
        "format": os.environ.get("SETTLE_BENCH_EXPORT_FORMAT", "csv"),
        "deliver_to": os.environ.get("SETTLE_BENCH_OUTBOX", "/tmp/settle-bench-outbox"),
    },
}
