"""`{% customer_link customer %}`: every customer name in the app, as a link to the customer page.

One definition, so the page's address and the link's look change in one place; `strong=True`
for a list's main column.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def customer_link(customer, strong: bool = False) -> SafeString:
    if customer is None:
        return format_html("{}", "—")
    url = reverse("customer", args=[customer.pk])
    if strong:
        return format_html('<a class="customer-link" href="{}"><strong>{}</strong></a>', url, customer.name)
    return format_html('<a class="customer-link" href="{}">{}</a>', url, customer.name)
