"""Call notes: what happened when someone chased an account (append-only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import Account, money_field


class CollectionOutcome(models.TextChoices):
    REACHED = "reached", "Reached"
    PROMISED = "promised_to_pay", "Promised to pay"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DISPUTED = "disputed", "Disputed"
    OTHER = "other", "Other"


class CollectionNote(models.Model):
    """What happened when someone chased an account: never edited, a correction is a new note."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="collection_notes", db_index=False)
    outcome = models.CharField(max_length=20, choices=CollectionOutcome.choices)
    promised_date = models.DateField(null=True, blank=True)
    promised_amount = money_field(null=True, blank=True)
    text = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "billing_collectionnote"  # moved from billing; the table kept its name
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(promised_amount__isnull=True) | Q(promised_amount__gt=0),
                name="collection_note_promise_positive",
            ),
        ]
        indexes = [
            # The latest note of each account on a queue page: DISTINCT ON (account_id) ... ORDER BY id DESC.
            models.Index(fields=["account", "-id"], name="collection_note_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.account})"
