"""Template helpers of the staff lists: sortable column headers and the overdue test.

`{% sort_th "due_date" "Due" %}` reads `request`, `sorts` (the whitelist) and `sort`
(the current choice) from the context; `first="-"` makes a column sort descending on
its first click (amounts, dates), `num=True` right-aligns it.
"""

from __future__ import annotations

import datetime

from django import template
from django.utils.html import format_html

from billing.listing import list_url

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_th(context, key: str, label: str, first: str = "", num: bool = False) -> str:
    sorts, current, request = context["sorts"], context["sort"], context["request"]
    ascending, descending = key, f"-{key}"
    options = [o for o in ((descending, ascending) if first == "-" else (ascending, descending)) if o in sorts]
    css = "num" if num else ""
    if not options:
        return format_html('<th scope="col" class="{}">{}</th>', css, label)
    if current in options:
        others = [o for o in options if o != current]
        target = others[0] if others else current
        is_desc = sorts[current].descending
        aria, arrow = ("descending", " ▼") if is_desc else ("ascending", " ▲")
        direction = "descending" if sorts[target].descending else "ascending"
        title = f"Sorted {aria}; sort {direction}" if target != current else f"Sorted {aria}"
    else:
        target, aria, arrow = options[0], "", ""
        direction = "descending" if sorts[target].descending else "ascending"
        title = f"Sort by {label.lower()}, {direction}"
    url = list_url(request, sort=target)
    aria_attr = format_html(' aria-sort="{}"', aria) if aria else ""
    return format_html(
        '<th scope="col" class="{}"{}><a href="{}" hx-get="{}" title="{}">{}<span aria-hidden="true">{}</span></a></th>',
        css,
        aria_attr,
        url,
        url,
        title,
        label,
        arrow,
    )


@register.filter
def overdue(invoice, today: datetime.date) -> bool:
    """Open, unpaid or partially paid, and due before today (DESIGN.md §3): Invoice.is_overdue."""
    return invoice.is_overdue(today)


@register.filter
def days_past(date: datetime.date | None, today: datetime.date) -> int:
    """Whole days `date` lies before `today` (0 when not past)."""
    if date is None:
        return 0
    return max(0, (today - date).days)


@register.simple_tag(takes_context=True)
def list_link(context, **changes) -> str:
    """This list with the same filters and `changes` (first page): `{% list_link sort="age" %}`."""
    return list_url(context["request"], **changes)
