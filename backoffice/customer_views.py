"""The customer page (/customers/<id>/) and the global search (/search/): support reads both."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from backoffice.customers import (
    HISTORY_PAGE,
    Cursor,
    HistoryFilters,
    customer_currencies,
    customer_history,
    customer_notes,
    customer_position,
)
from backoffice.search import DROPDOWN_LIMIT, PAGE_LIMIT, global_search
from billing.actors import AuthenticatedHttpRequest
from billing.models import Customer
from billing.roles import SUPPORT, role_required
from documents.forms import ReminderForm, StatementForm
from documents.selectors import customer_documents
from dunning.selectors import AGING_BUCKETS
from ledger.models import EntryKind
from orders.selectors import CUSTOMER_ORDERS_SHOWN, customer_orders


class HistoryFilterForm(forms.Form):
    currency = forms.ChoiceField(required=False, label="Currency")
    kind = forms.MultipleChoiceField(
        required=False, label="Kind", choices=EntryKind.choices, widget=forms.CheckboxSelectMultiple
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currency.choices = [("", "All currencies"), *((c, c) for c in currencies)]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> HistoryFilters:
        data = self.cleaned_data
        return HistoryFilters(
            currency=data.get("currency") or None,
            kinds=tuple(data.get("kind") or ()),
            start=data.get("start"),
            end=data.get("end"),
        )


@role_required(SUPPORT)
def customer_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    today = timezone.localdate()
    form = HistoryFilterForm(request.GET or None, currencies=customer_currencies(customer))
    page = None
    next_url = first_url = ""
    filtered = form.is_bound and form.is_valid()
    if not form.is_bound or filtered:
        cursor = Cursor.parse(request.GET.get("before", ""))
        page = customer_history(
            customer, filters=form.filters() if filtered else HistoryFilters(), cursor=cursor, per_page=HISTORY_PAGE
        )
        kept = [(k, v) for k, values in request.GET.lists() if k != "before" for v in values]
        first_url = f"?{urlencode(kept)}#history" if cursor else ""
        if page.next_cursor:
            next_url = f"?{urlencode([*kept, ('before', str(page.next_cursor))])}#history"
    position = customer_position(customer, today)
    context = {
        "customer": customer,
        "today": today,
        "position": position,
        # The dunning letter each overdue account is due (documents.views.new_reminder picks the level).
        "reminders": [
            (row, ReminderForm(user=request.user, initial={"account": row.account.pk}) if row.overdue else None)
            for row in position.accounts
        ],
        "buckets": AGING_BUCKETS,
        "notes": list(customer_notes(customer)),
        "documents": customer_documents(customer),
        "orders": customer_orders(customer.pk),
        "orders_shown": CUSTOMER_ORDERS_SHOWN,
        "form": form,
        "history": page,
        "next_url": next_url,
        "first_url": first_url,
        # The whole customer, one section per currency (documents.issue_statement).
        "statement_form": StatementForm(user=request.user, initial={"customer": customer.pk}),
    }
    return render(request, "customers/detail.html", context)


@role_required(SUPPORT)
def search(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The results page without JavaScript, or for htmx (the navigation's box) the dropdown only."""
    query = request.GET.get("q", "")
    htmx = getattr(request, "htmx", None)  # django-htmx's details; false for a plain request
    if htmx and not htmx.history_restore_request:
        results = global_search(query, limit=DROPDOWN_LIMIT)
        return render(request, "search/_dropdown.html", {"results": results})
    results = global_search(query, limit=PAGE_LIMIT)
    return render(request, "search/results.html", {"results": results, "query": query})
