"""The Content-Security-Policy: sent on every page, strict, and nothing in the templates needs it loosened."""

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# What a strict policy (script-src/style-src 'self', no unsafe-inline, no unsafe-eval) blocks.
BLOCKED = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "inline style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+=", re.IGNORECASE),
    "htmx inline handler": re.compile(r"\shx-on[:-]", re.IGNORECASE),
    "htmx eval (trigger filter or js: value)": re.compile(
        r"hx-trigger=\"(?:[^\"]*,\s*)?[\w:.-]+\[|hx-vals=[\"']js:", re.IGNORECASE
    ),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_every_page_sends_a_strict_policy(as_support, client):
    for response in (client.get("/login/"), as_support.get("/"), as_support.get("/invoices/")):
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["img-src"] == "'self' data:"
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
        assert policy["base-uri"] == "'none'" and policy["object-src"] == "'none'"


# Documents sent to customers (statements, reminders) are standalone HTML: an email carries
# its style inside it. They are shown only in a sandboxed frame under their own policy
# (documents.views.BODY_CSP: inline style, nothing else), so a <style> element is theirs alone.
DOCUMENT_BODIES = {"documents/statement.html", "documents/reminder.html", "documents/installment_notice.html"}


def test_no_template_needs_inline_script_style_or_eval():
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for what, pattern in BLOCKED.items()
        if pattern.search(path.read_text())
        and not (what == "inline style element" and str(path.relative_to(TEMPLATES)) in DOCUMENT_BODIES)
    ]
    assert not found, found


def test_document_bodies_may_style_themselves_and_nothing_more():
    from documents.views import BODY_CSP

    assert BODY_CSP["default-src"] == ["'none'"] and BODY_CSP["style-src"] == ["'unsafe-inline'"]
    assert "script-src" not in BODY_CSP
    for name in DOCUMENT_BODIES:
        assert (TEMPLATES / name).exists(), name


def test_htmx_injects_no_inline_style_and_evaluates_nothing(as_support):
    page = as_support.get("/").content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>""" in page
    css = (Path(settings.BASE_DIR) / "static" / "settle.css").read_text()
    assert ".htmx-request .htmx-indicator" in css  # the indicator style htmx no longer injects
