"""Export profiles: the setting SETTLE_EXPORT_PROFILES read and checked once (DESIGN.md §13).

A profile names the journal entry kinds it carries, the payload format (csv or json) and
where each batch goes: a folder (relative paths live under the var directory: both
"var/outbox/agency" and "outbox/agency" mean VAR_DIR/outbox/agency), or an https:// URL that
receives a POST. Plain http:// is allowed only to this machine (127.0.0.1, ::1, localhost), so
tests and a local relay can use a real server without TLS. A bad setting stops the
application at start (check settle.E005), not at the first night's run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error

from billing.errors import InvalidInput
from ledger.models import EntryKind

FORMATS = ("csv", "json")
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Profile:
    name: str
    kinds: tuple[str, ...]
    format: str
    deliver_to: str  # as written in the setting

    @property
    def is_url(self) -> bool:
        return self.deliver_to.startswith(("https://", "http://"))

    @property
    def folder(self) -> Path:
        """The outbox folder of a folder profile, resolved under the var directory when relative."""
        path = Path(self.deliver_to)
        if path.is_absolute():
            return path
        parts = path.parts[1:] if path.parts and path.parts[0] == "var" else path.parts
        return Path(settings.VAR_DIR).joinpath(*parts)

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8" if self.format == "csv" else "application/json"

    def file_name(self, number: int) -> str:
        return f"{self.name}-{number:06d}.{self.format}"


def _profile(name: object, spec: object) -> Profile:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"Export profile name {name!r} must be 1-40 lower-case letters, digits, '-' or '_'.")
    if not isinstance(spec, dict):
        raise ValueError(f"Export profile {name!r} must be a dict with kinds, format and deliver_to.")
    unknown = set(spec) - {"kinds", "format", "deliver_to"}
    if unknown:
        raise ValueError(f"Export profile {name!r} has unknown keys: {', '.join(sorted(map(str, unknown)))}.")
    kinds = spec.get("kinds")
    if not isinstance(kinds, list | tuple) or not kinds:
        raise ValueError(f"Export profile {name!r}: kinds must be a non-empty list of journal entry kinds.")
    wrong = [kind for kind in kinds if kind not in EntryKind.values]
    if wrong or len(set(kinds)) != len(kinds):
        raise ValueError(
            f"Export profile {name!r}: kinds {wrong or kinds!r} are not distinct journal entry kinds "
            f"({', '.join(EntryKind.values)})."
        )
    fmt = spec.get("format")
    if fmt not in FORMATS:
        raise ValueError(f"Export profile {name!r}: format must be csv or json, not {fmt!r}.")
    target = spec.get("deliver_to")
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"Export profile {name!r}: deliver_to must be a folder or an https:// URL.")
    if "://" in target:
        parts = urlsplit(target)
        if parts.scheme == "https" and parts.hostname:
            pass
        elif parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
            pass
        else:
            raise ValueError(
                f"Export profile {name!r}: deliver_to {target!r} must be an https:// URL "
                "(plain http:// only to 127.0.0.1 or localhost)."
            )
    elif ".." in Path(target).parts:
        raise ValueError(f"Export profile {name!r}: the folder {target!r} must not climb out with '..'.")
    return Profile(name=name, kinds=tuple(kinds), format=fmt, deliver_to=target)


def profiles() -> dict[str, Profile]:
    """Every configured profile by name; ValueError for a bad setting (the check reports it at start)."""
    setting = getattr(settings, "SETTLE_EXPORT_PROFILES", {})
    if not isinstance(setting, dict):
        raise ValueError("SETTLE_EXPORT_PROFILES must be a dict of profile name to profile.")
    return {name: _profile(name, spec) for name, spec in setting.items()}


def get_profile(name: str | Profile) -> Profile:
    """The profile named, for the services; an unknown name is the caller's error, with the known ones."""
    if isinstance(name, Profile):
        return name
    known = profiles()
    if name not in known:
        raise InvalidInput(
            f"There is no export profile {name!r}; the configured ones are: {', '.join(sorted(known)) or 'none'}."
        )
    return known[name]


def check_export_profiles(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        profiles()
    except ValueError as error:
        return [
            Error(
                str(error),
                hint='For example {"agency": {"kinds": ["invoice", "credit_note", "void"], "format": "csv", '
                '"deliver_to": "var/outbox/agency"}}.',
                id="settle.E005",
            )
        ]
    return []
