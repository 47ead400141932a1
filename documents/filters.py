"""The documents list's filters: kind, customer, issue date range, delivered or not."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from billing.listing import Ordering
from billing.search import customer_search
from documents.models import Delivery, DeliveryResult, Document, DocumentKind

# Newest first by id (the primary key index): a document's id grows with its issue time.
DOCUMENT_ORDERING = Ordering("id", descending=True, id_descending=True, nullable=False)

DELIVERED_CHOICES = [("yes", "Delivered"), ("no", "Not delivered")]


class DocumentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DocumentKind.choices, empty_label="All kinds")
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}
        ),
    )
    issued_from = django_filters.DateFilter(
        field_name="created_at__date",
        lookup_expr="gte",
        label="Issued from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    issued_to = django_filters.DateFilter(
        field_name="created_at__date",
        lookup_expr="lte",
        label="Issued to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    delivered = django_filters.ChoiceFilter(
        choices=DELIVERED_CHOICES, method="filter_delivered", label="Delivery", empty_label="Any"
    )

    class Meta:
        model = Document
        fields: list[str] = []

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    def filter_delivered(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Delivered: at least one attempt went through; a document whose sends all failed is not.
        sent = Exists(Delivery.objects.filter(document=OuterRef("pk"), result=DeliveryResult.OK))
        if value == "yes":
            return queryset.filter(sent)
        if value == "no":
            return queryset.filter(~sent)
        return queryset

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(value not in (None, "") for value in data.values())
