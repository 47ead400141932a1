"""Numbering, rendering and fingerprinting documents: one way for every kind and every path.

A document's body is its kind's template over its number, kind and figures, nothing else, so
the clerk's button and the nightly run (documents.reminder_letters) store the same bytes for
the same figures, and `render_document` reproduces them years later.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import connection
from django.template.loader import get_template

from documents.models import NUMBER_PREFIX, NUMBER_SEQUENCE, Document, DocumentKind


def next_numbers(kind: str, count: int) -> list[str]:
    """`count` new numbers of `kind` from its sequence, in one statement, in ascending order."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [NUMBER_SEQUENCE[kind], count])
        values = sorted(value for (value,) in cursor.fetchall())
    prefix = NUMBER_PREFIX[DocumentKind(kind)]
    return [f"{prefix}-{value:06d}" for value in values]


def next_number(kind: str) -> str:
    (number,) = next_numbers(kind, 1)
    return number


def sha256_of(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def template_of(kind: str) -> Any:
    """The kind's template, loaded once by a caller that renders many documents of it."""
    return get_template(f"documents/{kind}.html")


def render_figures(template: Any, *, kind: str, number: str, figures: dict[str, Any]) -> str:
    """The body of a document of `kind` numbered `number` printing `figures`."""
    context = {"number": number, "kind": kind, "title": DocumentKind(kind).label, "figures": figures}
    return template.render(context)


def render_document(document: Document) -> str:
    """The document's body from its stored figures: what issuing stored, byte for byte.

    Only the kind, the number and the figures go in (not today's date, not the database),
    so the same figures through the same template give the same sha256, today or in ten years.
    """
    return render_figures(
        template_of(document.kind), kind=document.kind, number=document.number, figures=document.figures
    )


def seal(document: Document) -> None:
    """Render a new document's figures and fingerprint the body (before its one insert)."""
    document.html = render_document(document)
    document.sha256 = sha256_of(document.html)
