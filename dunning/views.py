"""The collections queue, one account's page, adding a note to it, and the broken promises."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from billing.actors import AuthenticatedHttpRequest
from billing.listing import amount_sort_currency, chosen_sort, keyset_page, only_filtered_by, page_size, render_list
from billing.models import Account
from billing.roles import SUPPORT, role_required
from dunning import selectors
from dunning.filters import AMOUNT_SORTS, COLLECTION_SORTS, DEFAULT_COLLECTION_SORT, AccountFilter
from dunning.forms import CollectionNoteForm
from dunning.selectors import AGING_BUCKETS, account_open_invoices, aging, latest_notes, owing_accounts
from invoices.selectors import busiest_currency
from submissions.flow import perform

NOTES_SHOWN = 50


@role_required(SUPPORT)
def collections_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    sort = chosen_sort(request.GET, COLLECTION_SORTS, DEFAULT_COLLECTION_SORT)
    # The default view ranks by balance: accounts of one currency only (DESIGN.md section 5).
    amount_currency = amount_sort_currency(request, sort, AMOUNT_SORTS, busiest=busiest_currency)
    filterset = AccountFilter(request.GET, queryset=owing_accounts())
    today = timezone.localdate()
    totals = page = None
    rows = []
    if filterset.is_valid():
        totals = selectors.account_totals(filters=filterset)
        page = keyset_page(
            request,
            selectors.account_list(filters=filterset),
            COLLECTION_SORTS[sort],
            per_page=page_size(request),
            total_count=totals.count,
        )
        ids = [account.pk for account in page.rows]
        buckets, notes = aging(ids, today), latest_notes(ids)
        rows = [
            {
                "account": account,
                "aging": [buckets[account.pk][b.key] for b in AGING_BUCKETS],
                "note": notes.get(account.pk),
            }
            for account in page.rows
        ]
    currency_only = (
        bool(amount_currency) and filterset.is_valid() and only_filtered_by(filterset.form.cleaned_data, {"currency"})
    )
    context = {
        "filter": filterset,
        "page": page,
        "rows": rows,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": COLLECTION_SORTS,
        "amount_currency": amount_currency,
        # The currency is the only filter, and it was applied for the balance sort, not chosen.
        "currency_only": currency_only,
        "owing_elsewhere": currency_only and not rows and owing_accounts().exists(),
        "buckets": AGING_BUCKETS,
        "today": today,
        "clear_url": reverse("collections:list"),
        "noun": "accounts",  # the list skeleton's totals label and pagination
    }
    return render_list(request, "collections/list.html", "collections/_list_results.html", context)


def _account_page(
    request: HttpRequest, account: Account, form: CollectionNoteForm, *, status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    buckets = aging([account.pk], today)[account.pk]
    context = {
        "account": account,
        "customer": account.customer,
        "invoices": list(account_open_invoices(account)),
        "aging": [(b, buckets[b.key]) for b in AGING_BUCKETS],
        "notes": list(account.collection_notes.select_related("created_by").order_by("-id")[:NOTES_SHOWN]),
        "notes_shown": NOTES_SHOWN,
        "form": form,
        "today": today,
    }
    return render(request, "collections/account.html", context, status=status)


def _get_account(pk: int) -> Account:
    return get_object_or_404(Account.objects.select_related("customer", "provider"), pk=pk)


@role_required(SUPPORT)
def account_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _get_account(pk)
    return _account_page(request, account, CollectionNoteForm(account=account, user=request.user))


@role_required(SUPPORT)
def add_note(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = _get_account(pk)
    if request.method != "POST":
        return redirect("collections:account", pk=account.pk)
    form = CollectionNoteForm(request.POST, account=account, user=request.user)
    response = perform(
        request,
        form,
        lambda data: form.save(by=request.user),
        done=f"{reverse('collections:account', args=[account.pk])}#notes",
        success=lambda note: f"Note added: {note.get_outcome_display()}.",
    )
    if response is not None:
        return response
    return _account_page(request, account, form, status=400)


#: The promises page lists at most this many, oldest promised date first: a day's calls, not an archive.
PROMISES_SHOWN = 200


@role_required(SUPPORT)
def promises_due(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Promises to pay whose date has passed while the account is still overdue: the calls to
    make first, since run_dunning held these accounts' letters until the promised date."""
    today = timezone.localdate()
    notes = list(selectors.promises_due(today=today)[: PROMISES_SHOWN + 1])
    context = {
        "notes": notes[:PROMISES_SHOWN],
        "more": len(notes) > PROMISES_SHOWN,
        "shown": PROMISES_SHOWN,
        "today": today,
    }
    return render(request, "collections/promises.html", context)
