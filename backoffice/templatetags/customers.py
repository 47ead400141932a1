"""`{% customer_link customer %}`: every customer name in the app, as a link to the customer page.

One definition, so the page's address and the link's look change in one place; `strong=True`
for a list's main column.
"""

from __future__ import annotations

import functools

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_SENTINEL = 9_876_543_210_123  # a pk no customer has: stands in for the pk in the resolved address


@functools.cache
def _customer_url_template(script_prefix: str) -> str:
    """The customer page's address with "{pk}" for the pk, resolved once per script prefix: a list
    page links 50 names, and reverse() per name cost more than the rest of the cell."""
    return reverse("customer", args=[_SENTINEL]).replace(str(_SENTINEL), "{pk}")


def customer_url(pk: int) -> str:
    return _customer_url_template(get_script_prefix()).format(pk=int(pk))


@register.simple_tag
def customer_link(customer, strong: bool = False) -> SafeString:
    if customer is None:
        return format_html("{}", "—")
    url = customer_url(customer.pk)
    if strong:
        return format_html('<a class="customer-link" href="{}"><strong>{}</strong></a>', url, customer.name)
    return format_html('<a class="customer-link" href="{}">{}</a>', url, customer.name)
