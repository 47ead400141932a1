"""Accepted form submissions: the record that makes every money form submit-once.

A row is inserted in the same transaction as the service call the form triggers,
so it exists if and only if the write committed. Its unique token is what stops a
double click, a browser resubmit or a replayed POST from writing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FormSubmission(models.Model):
    token = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=300)
    # Where the first submission led (the new payment, the invoice): a replay goes there too.
    result_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.path} by {self.user_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
