"""Named CSV layouts ("profiles") of bank exports, and how a header row is fitted to one.

A bank's CSV export differs from Settle's own layout in column names, delimiter,
decimal separator, date format, encoding and the title lines above the header.
A :class:`CsvProfile` names all of that for one layout so a clerk picks "ING
Netherlands" on upload instead of editing the file. :data:`CSV_PROFILES` is the
table of built-in profiles, keyed by the name the upload form and the API use.

Column names are matched case-insensitively, ignoring surrounding spaces. A name
that occurs more than once in a header is numbered from its second occurrence
(ING Germany has "Währung" for the balance and again for the amount: the second
one is ``währung#2``). Each field lists alternative names; the first one present
wins, so one profile reads both the older and the newer export of a bank.

Sources of the built-in layouts are cited in tests/intake/samples/csv/README.md.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

#: Date layouts a profile may name, as a regex with day, month and year groups.
DATE_FORMATS: dict[str, re.Pattern[str]] = {
    "YYYY-MM-DD": re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"),
    "YYYYMMDD": re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
    "DD-MM-YYYY": re.compile(r"(?P<d>[0-9]{2})-(?P<m>[0-9]{2})-(?P<y>[0-9]{4})"),
    "DD.MM.YYYY": re.compile(r"(?P<d>[0-9]{2})\.(?P<m>[0-9]{2})\.(?P<y>[0-9]{4})"),
    "DD/MM/YYYY": re.compile(r"(?P<d>[0-9]{2})/(?P<m>[0-9]{2})/(?P<y>[0-9]{4})"),
}

#: The fields a profile maps to header names (see :class:`CsvProfile`).
FIELDS = (
    "booking_date",
    "amount",
    "debit",
    "credit",
    "direction",
    "currency",
    "bank_reference",
    "counterparty",
    "remittance",
    "customer_reference",
    "account",
    "reversal",
)


@dataclass(frozen=True)
class CsvProfile:
    """One bank's CSV layout.

    ``columns`` maps a field of :data:`FIELDS` to the header names that may hold
    it (alternatives, first present wins); ``required`` lists the fields whose
    column must be present. The direction of money comes from the sign of
    ``amount``, or from a ``direction`` indicator column (``credit_words`` /
    ``debit_words``, e.g. ING's "Af"/"Bij") with an unsigned ``amount``, or from
    separate ``debit`` and ``credit`` amount columns.
    """

    key: str
    label: str
    description: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    #: Candidate delimiters; the one that makes the header row fit is used.
    delimiters: tuple[str, ...] = (",",)
    decimal_comma: bool = False
    thousands_separator: str = ""
    date_formats: tuple[str, ...] = ("YYYY-MM-DD",)
    #: Tried in order for every line: UTF-8 first, so a UTF-8 export of a bank that
    #: usually sends ISO-8859-1 still reads right.
    encodings: tuple[str, ...] = ("utf-8",)
    #: How many lines from the top may hold title lines before the header row;
    #: 1 means the header is the first non-empty line.
    header_search_lines: int = 1
    #: A fixed number of lines before the header (skipped unread), or None.
    header_offset: int | None = None
    fixed_currency: str = ""
    #: A title line whose first cell is this label gives the account (ING Germany: "IBAN").
    account_title: str = ""
    credit_words: frozenset[str] = field(default_factory=frozenset)
    debit_words: frozenset[str] = field(default_factory=frozenset)

    def expected(self) -> str:
        """The columns this profile reads, for an error a clerk can act on."""
        required = [_shown(self.columns[f][0]) for f in self.required]
        optional = [_shown(names[0]) for f, names in self.columns.items() if f not in self.required]
        text = ", ".join(required)
        if optional:
            text += " and optionally " + ", ".join(optional)
        return text


def _shown(name: str) -> str:
    return name.split("#")[0]


def header_names(row: list[str]) -> list[str]:
    """Normalised header names, repeated names numbered (``währung``, ``währung#2``)."""
    names: list[str] = []
    counts: dict[str, int] = {}
    for cell in row:
        name = cell.strip().lstrip("\ufeff").strip().lower()
        if not name:
            names.append("")
            continue
        counts[name] = counts.get(name, 0) + 1
        names.append(name if counts[name] == 1 else f"{name}#{counts[name]}")
    return names


@dataclass(frozen=True)
class HeaderFit:
    """How a header row fits a profile: the column index of each field, or what is missing."""

    indexes: dict[str, int]
    missing: list[str]
    ambiguous: list[str]

    @property
    def fits(self) -> bool:
        return not self.missing and not self.ambiguous


def fit_header(profile: CsvProfile, names: list[str]) -> HeaderFit:
    """Resolve the profile's fields against a header row (see :func:`header_names`)."""
    position = {name: index for index, name in enumerate(names) if name}
    indexes: dict[str, int] = {}
    missing: list[str] = []
    ambiguous: list[str] = []
    for field_name, alternatives in profile.columns.items():
        for alternative in alternatives:
            key = alternative.lower()
            if key in position:
                indexes[field_name] = position[key]
                # A plain name that repeats cannot say which column is meant.
                if "#" not in key and f"{key}#2" in position:
                    ambiguous.append(key)
                break
        else:
            if field_name in profile.required:
                missing.append(_shown(alternatives[0]))
    return HeaderFit(indexes, missing, ambiguous)


def parse_date(text: str, formats: tuple[str, ...]) -> datetime.date | None:
    for name in formats:
        match = DATE_FORMATS[name].fullmatch(text)
        if match:
            try:
                return datetime.date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
    return None


def get_profile(key: str) -> CsvProfile:
    """The built-in profile named ``key``; ValueError naming the known ones otherwise."""
    try:
        return CSV_PROFILES[key]
    except KeyError:
        known = ", ".join(f"'{k}'" for k in CSV_PROFILES)
        raise ValueError(f"unknown CSV profile {key!r}; known profiles: {known}") from None


_LEGACY = ("utf-8", "cp1252", "latin-1")

SETTLE = CsvProfile(
    key="settle",
    label="Settle CSV",
    description="Settle's own layout: comma-separated UTF-8, dates YYYY-MM-DD, amounts with a decimal dot.",
    columns={
        "booking_date": ("booking_date",),
        "amount": ("amount",),
        "currency": ("currency",),
        "counterparty": ("counterparty",),
        "remittance": ("remittance",),
        "bank_reference": ("bank_reference",),
        "customer_reference": ("customer_ref",),
        "reversal": ("reversal",),
        "account": ("account",),
    },
    required=("booking_date", "amount", "currency", "counterparty", "remittance"),
)

ING_NL = CsvProfile(
    key="ing-nl",
    label="ING Netherlands",
    description=(
        'ING NL "Af- en bijschrijvingen" export: Datum (YYYYMMDD), "Af Bij" gives the direction, '
        '"Bedrag (EUR)" with a decimal comma; semicolon- or comma-separated; no bank reference.'
    ),
    columns={
        "booking_date": ("Datum",),
        "amount": ("Bedrag (EUR)",),
        "direction": ("Af Bij",),
        "counterparty": ("Naam / Omschrijving",),
        "remittance": ("Mededelingen",),
        "account": ("Rekening",),
    },
    required=("booking_date", "amount", "direction", "counterparty", "remittance"),
    delimiters=(";", ","),
    decimal_comma=True,
    # ING writes 1250,00; a dot can only be a thousands separator in a decimal-comma file.
    thousands_separator=".",
    date_formats=("YYYYMMDD",),
    encodings=_LEGACY,
    fixed_currency="EUR",
    credit_words=frozenset({"bij"}),
    debit_words=frozenset({"af"}),
)

KNAB = CsvProfile(
    key="knab",
    label="Knab",
    description=(
        'Knab "transactieoverzicht" export: a "KNAB EXPORT" title line, semicolons, dates DD-MM-YYYY, '
        "CreditDebet C/D with an unsigned amount and a decimal comma, Referentie as bank reference."
    ),
    columns={
        "booking_date": ("Boekdatum", "Transactiedatum"),
        "amount": ("Bedrag",),
        "direction": ("CreditDebet",),
        "currency": ("Valutacode",),
        "counterparty": ("Tegenrekeninghouder",),
        "remittance": ("Omschrijving",),
        "bank_reference": ("Referentie",),
        "account": ("Rekeningnummer",),
    },
    required=("booking_date", "amount", "direction", "currency", "counterparty", "remittance"),
    delimiters=(";",),
    decimal_comma=True,
    thousands_separator=".",
    date_formats=("DD-MM-YYYY",),
    encodings=_LEGACY,
    header_search_lines=5,
    credit_words=frozenset({"c"}),
    debit_words=frozenset({"d"}),
)

ING_DE = CsvProfile(
    key="ing-de",
    label="ING Germany",
    description=(
        'ING Deutschland "Umsatzanzeige": title lines before the header, ISO-8859-1, semicolons, '
        "dates DD.MM.YYYY, signed amounts like 1.234,56; no bank reference."
    ),
    columns={
        "booking_date": ("Buchung",),
        "amount": ("Betrag",),
        # With a "Saldo" column the amount's currency is the second "Währung".
        "currency": ("Währung#2", "Währung"),
        "counterparty": ("Auftraggeber/Empfänger",),
        "remittance": ("Verwendungszweck",),
    },
    required=("booking_date", "amount", "currency", "counterparty", "remittance"),
    delimiters=(";",),
    decimal_comma=True,
    thousands_separator=".",
    date_formats=("DD.MM.YYYY",),
    encodings=_LEGACY,
    header_search_lines=30,
    account_title="IBAN",
)

#: The built-in profiles by key, in the order the upload form lists them.
CSV_PROFILES: dict[str, CsvProfile] = {p.key: p for p in (SETTLE, ING_NL, KNAB, ING_DE)}
DEFAULT_PROFILE = "settle"
