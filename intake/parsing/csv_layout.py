"""Finding a CSV export's header row, delimiter and encoding for a profile, or saying why not.

Only the first lines of the file are read here (the title lines a bank puts
above its header), so the rows after them can still be streamed. When the
header does not fit the chosen profile the one file error says what was found
and what was expected, and names another built-in profile that fits.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from intake.parsing.common import StatementError
from intake.parsing.csv_profiles import CSV_PROFILES, CsvProfile, HeaderFit, fit_header, header_names

_SNIFFED_DELIMITERS = (",", ";", "\t", "|")
_ANY_ENCODING = ("utf-8", "cp1252", "latin-1")
_TOP_LINES = 30
_ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "ISO-8859-1"}


class LineDecoder:
    """Decodes lines one at a time with the first of the profile's encodings that fits.

    A line no encoding fits is decoded with replacement characters and remembered,
    so that only the row on it is refused (an export edited in another program can
    mix encodings) and the rest of the file still reads.
    """

    def __init__(self, raw_lines: Iterable[bytes], encodings: tuple[str, ...]) -> None:
        self._raw_lines = raw_lines
        self._encodings = encodings
        self.bad: dict[int, str] = {}
        self.used: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._raw_lines, 1):
            yield self.decode(number, raw)

    def decode(self, number: int, raw: bytes) -> str:
        text: str | None = None
        failure: UnicodeDecodeError | None = None
        for encoding in self._encodings:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                failure = failure or exc
                continue
            if encoding not in self.used and not raw.isascii():
                self.used.append(encoding)
            break
        if text is None:
            assert failure is not None
            names = " or ".join(_ENCODING_NAMES.get(e, e) for e in self._encodings)
            self.bad[number] = (
                f"line {number} is not valid {names} (byte 0x{raw[failure.start]:02x}); export the statement as {names}"
            )
            text = raw.decode(self._encodings[0], errors="replace")
        return text.removeprefix("\ufeff") if number == 1 else text

    def bad_line_between(self, first: int, last: int) -> str:
        for number in range(first, last + 1):
            if number in self.bad:
                return self.bad[number]
        return ""

    @property
    def encoding_name(self) -> str:
        """The encoding the lines so far needed (UTF-8 when they are plain ASCII)."""
        used = [e for e in self.used if e != "utf-8"] or ["utf-8"]
        return _ENCODING_NAMES.get(used[0], used[0])


@dataclass
class Layout:
    """Where a profile's header is and how the file is cut: what the row parser needs."""

    profile: CsvProfile
    delimiter: str
    header_line: int
    names: list[str]
    fit: HeaderFit
    head: list[bytes]
    rest: Iterator[bytes]
    titles: list[str] = field(default_factory=list)
    title_account: str = ""
    width: int = field(init=False)

    def __post_init__(self) -> None:
        self.width = len(self.names)

    def shown_name(self, index: int) -> str:
        """The column's name as the file writes it, for errors."""
        return self.titles[index] if index < len(self.titles) else f"#{index + 1}"


@dataclass
class _Candidate:
    line: int
    delimiter: str
    cells: list[str]
    fit: HeaderFit


def _split(text: str, delimiter: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter), [])


def _head_lines(head: list[bytes], profile: CsvProfile) -> tuple[list[tuple[int, str]], LineDecoder]:
    """The non-empty lines where the profile's header may be, numbered from 1."""
    decoder = LineDecoder([], profile.encodings)
    lines: list[tuple[int, str]] = []
    first = (profile.header_offset or 0) + 1
    for number, raw in enumerate(head, 1):
        text = decoder.decode(number, raw)
        if number < first or not text.strip():
            continue
        lines.append((number, text))
        if len(lines) >= (1 if profile.header_offset is not None else profile.header_search_lines):
            break
    return lines, decoder


def _find_header(profile: CsvProfile, head: list[bytes]) -> _Candidate | None:
    lines, _ = _head_lines(head, profile)
    for number, text in lines:
        for delimiter in profile.delimiters:
            cells = _split(text, delimiter)
            fit = fit_header(profile, header_names(cells))
            if not fit.missing:
                return _Candidate(number, delimiter, cells, fit)
    return None


def _fitting_profiles(head: list[bytes], but: CsvProfile) -> list[CsvProfile]:
    fitting = []
    for other in CSV_PROFILES.values():
        if other.key != but.key:
            found = _find_header(other, head)
            if found is not None and found.fit.fits:
                fitting.append(other)
    return fitting


def _looks_like(profiles: list[CsvProfile]) -> str:
    if not profiles:
        return ""
    choices = " or ".join(f"{p.label} ('{p.key}')" for p in profiles)
    if len(profiles) == 1:
        article = "an" if profiles[0].label[0] in "AEIOU" else "a"
        return f"; this looks like {article} {profiles[0].label} export: choose the '{profiles[0].key}' profile"
    return f"; this looks like {choices}: choose one of these profiles"


def _layout_error(profile: CsvProfile, head: list[bytes]) -> str:
    """What was found (header names, delimiter, encoding), what the profile expects, and a better profile."""
    # Read the top as any bank's file might be, whatever the chosen profile says.
    lines, decoder = _head_lines(head, replace(profile, encodings=_ANY_ENCODING, header_search_lines=_TOP_LINES))
    # The widest line is the likeliest header: title lines above it have a cell or two.
    delimiter, cells = ",", [""]
    for _, text in lines:
        for candidate in _SNIFFED_DELIMITERS:
            split = _split(text, candidate)
            if sum(bool(c.strip()) for c in split) > sum(bool(c.strip()) for c in cells):
                delimiter, cells = candidate, split
    encoding = decoder.encoding_name
    missing = fit_header(profile, header_names(cells)).missing
    shown = ", ".join(c.strip() for c in cells if c.strip()) or "nothing"
    hint = _looks_like(_fitting_profiles(head, profile))
    readable = encoding in {_ENCODING_NAMES.get(e, e) for e in profile.encodings}
    if (
        missing
        and not hint
        and readable
        and delimiter in profile.delimiters
        and 2 * len(missing) <= len(profile.required)
    ):
        # The profile's own layout with a column or two missing: the short message says it all.
        return f"missing required column(s): {', '.join(missing)} (the header row has: {shown})"
    expected_delimiters = " or ".join(f"'{d}'" for d in profile.delimiters)
    found = f"the header row has: {shown}; delimiter '{delimiter}', encoding {encoding}"
    if missing:
        reason = f"missing required column(s): {', '.join(missing)} ({found})"
    else:
        reason = f"the file is separated by '{delimiter}' but the profile expects {expected_delimiters} ({found})"
    reason += f"; the '{profile.key}' profile ({profile.label}) expects {profile.expected()}"
    if not hint and profile.delimiters == (",",) and delimiter == ";":
        hint = " (the file looks semicolon-separated; use commas)"
    return reason + hint


def locate_layout(profile: CsvProfile | None, lines: Iterator[bytes]) -> Layout | StatementError:
    """The layout of the file for ``profile`` (None: the one built-in profile that fits), or the file error."""
    search = max([p.header_search_lines + (p.header_offset or 0) for p in CSV_PROFILES.values()] + [_TOP_LINES])
    if profile is not None:
        search = max(search, profile.header_search_lines + (profile.header_offset or 0))
    head: list[bytes] = []
    non_empty = 0
    for raw in lines:
        head.append(raw)
        non_empty += bool(raw.strip())
        if non_empty >= search:
            break
    if not any(raw.strip().removeprefix(b"\xef\xbb\xbf").strip() for raw in head):
        return StatementError("file", "file is empty; a header row is required")

    if profile is None:
        profile = CSV_PROFILES["settle"]
        if _find_header(profile, head) is None:
            fitting = _fitting_profiles(head, profile)
            if len(fitting) == 1:
                profile = fitting[0]
            elif fitting:
                return StatementError("file", "the header fits several profiles" + _looks_like(fitting))
    found = _find_header(profile, head)
    if found is None:
        return StatementError("file", _layout_error(profile, head))
    if found.fit.ambiguous:
        return StatementError("file", f"header has duplicate column(s): {', '.join(found.fit.ambiguous)}")

    title_account = ""
    if profile.account_title:
        decoder = LineDecoder([], profile.encodings)
        for number, raw in enumerate(head[: found.line - 1], 1):
            cells = _split(decoder.decode(number, raw), found.delimiter)
            if len(cells) > 1 and cells[0].strip().lower() == profile.account_title.lower():
                title_account = "".join(cells[1].split())
    return Layout(
        profile=profile,
        delimiter=found.delimiter,
        header_line=found.line,
        names=header_names(found.cells),
        titles=[cell.strip() for cell in found.cells],
        fit=found.fit,
        head=head,
        rest=lines,
        title_account=title_account,
    )
