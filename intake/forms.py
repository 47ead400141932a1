"""The statement upload form: the file, its format and, for CSV, the bank's layout (profile)."""

from __future__ import annotations

from django import forms

from intake.parsing.csv_profiles import CSV_PROFILES

#: camt.053 of 100,000 entries is 60-100 MB; the request limit for the upload path
#: (SETTLE_MAX_REQUEST_BYTES_BY_PATH) leaves room for the form around it.
MAX_STATEMENT_BYTES = 120 * 1024 * 1024
MAX_STATEMENT_LABEL = "120 MB"

FORMAT_CHOICES = [
    ("", "Detect from the file"),
    ("csv", "CSV"),
    ("camt053", "camt.053 XML"),
    ("mt940", "MT940"),
]


def csv_profile_choices() -> list[tuple[str, str]]:
    """The CSV layouts a clerk may pick (intake.parsing.csv_profiles), after "detect from the header"."""
    return [("", "Detect from the header")] + [
        (key, f"{profile.label}: {profile.description}") for key, profile in CSV_PROFILES.items()
    ]


class StatementUploadForm(forms.Form):
    statement = forms.FileField(help_text=f"CSV, camt.053 XML or MT940, at most {MAX_STATEMENT_LABEL}.")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False)
    profile = forms.ChoiceField(
        label="CSV layout",
        choices=csv_profile_choices,
        required=False,
        help_text="For CSV files: the bank whose export this is (detected from the header when it fits one). "
        "Ignored for camt.053 and MT940.",
    )
    dry_run = forms.BooleanField(required=False, label="Dry run: show what would happen, save nothing")

    def clean_statement(self):
        upload = self.cleaned_data["statement"]
        if upload.size > MAX_STATEMENT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.0f} MB, larger than {MAX_STATEMENT_LABEL}; split the statement."
            )
        return upload
