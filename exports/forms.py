"""The one form that writes on the export pages: resend a batch (submit-once, after a confirmation)."""

from __future__ import annotations

from submissions.forms import SubmitOnceForm


class ResendForm(SubmitOnceForm):
    """No fields: the POST that sends the stored bytes again (a GET never writes)."""
