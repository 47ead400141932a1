"""Reads of background imports: the recent imports and an import's lines, for the pages."""

from __future__ import annotations

from django.db.models import QuerySet

from intake.models import StatementImport, StatementImportLine


def recent_imports() -> QuerySet[StatementImport]:
    return StatementImport.objects.select_related("requested_by").order_by("-created_at", "-id")


def import_lines(statement_import: StatementImport, *, needs_a_person: bool = False) -> QuerySet[StatementImportLine]:
    """An import's lines in file order, with the payment each one links to."""
    lines = statement_import.lines.select_related("payment")
    if needs_a_person:
        lines = lines.filter(needs_a_person=True)
    return lines.order_by("sequence", "id")
