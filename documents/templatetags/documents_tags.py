"""`{% statement_button account %}`: the account page's "Statement" form, with its own token.

A tag, so the collections page needs no view change to offer it: the form and its
one-time token come from here.
"""

from __future__ import annotations

from django import template

from billing.models import Account
from documents.forms import StatementForm

register = template.Library()


@register.inclusion_tag("documents/_statement_button.html", takes_context=True)
def statement_button(context, account: Account) -> dict:
    form = StatementForm(
        user=context["request"].user,
        initial={"customer": account.customer_id, "provider": account.provider_id, "currency": account.currency},
    )
    # An inclusion tag renders in a fresh context: {% csrf_token %} needs the token passed on.
    return {"form": form, "csrf_token": context.get("csrf_token")}
