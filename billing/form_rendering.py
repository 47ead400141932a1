"""The project's form renderer: Django's templates, with aria-required on required fields.

`required` alone is announced inconsistently by screen readers; aria-required="true" is not.
Radio buttons and checkboxes are left alone (ARIA does not allow aria-required on them)."""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates

NO_ARIA_REQUIRED = (forms.RadioSelect, forms.CheckboxInput, forms.CheckboxSelectMultiple)


class AccessibleBoundField(forms.BoundField):
    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        # required_by_service: optional for the form, so the service's own message explains the refusal.
        required = attrs.get("required") is True or getattr(self.field, "required_by_service", False)
        if required and not isinstance(widget or self.field.widget, NO_ARIA_REQUIRED):
            attrs["aria-required"] = "true"
        return attrs


class SettleFormRenderer(DjangoTemplates):
    bound_field_class = AccessibleBoundField
