"""The counterparty and remittance text of an MT940 ``:86:`` field.

Banks fill ``:86:`` three ways, and the payment's reference to an invoice is
in a different place in each:

* German banks (Sparkasse, Volksbank, Deutsche Bank; the DFÜ agreement of the
  Deutsche Kreditwirtschaft): ``166?00GUTSCHRIFT?20...?21...?32...?33...``,
  a three-digit business code and ``?NN`` subfields.  ``?20``-``?29`` and
  ``?60``-``?63`` are the purpose, which may carry SEPA keywords (``EREF+``,
  ``KREF+``, ``MREF+``, ``CRED+``, ``SVWZ+`` the remittance itself);
  ``?32``/``?33`` the counterparty's name.
* Dutch banks (ABN AMRO, ING, Rabobank) and other SWIFT-style layouts:
  ``/TRTP/SEPA OVERBOEKING/IBAN/.../NAME/.../REMI/.../EREF/...``;
  Rabobank writes ``/ORDP//NAME/...`` and ``/REMI/USTD//text/``, ING
  ``/CNTP/iban/bic/name/city/``; a structured remittance
  ``/REMI/STRD/CUR/RF18.../`` is a creditor reference.
* Free text, taken as it stands.

Banks wrap ``:86:`` every 65 characters, in the middle of words and even of a
``?2`` + ``1`` subfield mark, so structured details are joined without a
separator before they are cut into fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.parsing.common import squash

_GERMAN_RE = re.compile(r"[0-9]{3}\?[0-9]{2}")
_SUBFIELD_RE = re.compile(r"\?([0-9]{2})")
_PURPOSE_FIELDS = {f"{n}" for n in range(20, 30)} | {"60", "61", "62", "63"}
_SEPA_KEYWORD_RE = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_SWIFT_KEYS = "TRTP|IBAN|BIC|NAME|REMI|EREF|ORDP|BENM|MARF|CSID|CNTP|ULTD|ULTC|ULTB|PURP|RTRN|ISDT|SVCL|ADDR|PREF|BUSP|CHGS|EXCH|KREF|SUM"
_SWIFT_KEY_RE = re.compile(rf"/({_SWIFT_KEYS})/")


@dataclass(frozen=True)
class Details:
    counterparty: str = ""
    remittance: str = ""
    creditor_reference: str = ""


def parse_details(text: str) -> Details:
    """The counterparty, remittance text and creditor reference of one ``:86:`` (see module doc)."""
    joined = "".join(line.strip("\r") for line in text.split("\n")).strip()
    if _GERMAN_RE.match(joined):
        return _german(joined)
    if joined.startswith("/") and _SWIFT_KEY_RE.search(joined):
        return _swift(joined)
    return Details(remittance=squash(text))


def _german(joined: str) -> Details:
    parts = _SUBFIELD_RE.split(joined)  # [code, "00", text, "20", text, ...]
    fields = list(zip(parts[1::2], parts[2::2], strict=True))
    purpose = "".join(value for key, value in fields if key in _PURPOSE_FIELDS)
    name = "".join(value for key, value in fields if key in {"32", "33"})
    keywords = list(_SEPA_KEYWORD_RE.finditer(purpose))
    for index, match in enumerate(keywords):
        if match.group(1) == "SVWZ":
            end = keywords[index + 1].start() if index + 1 < len(keywords) else len(purpose)
            purpose = purpose[match.end() : end]
            break
    return Details(counterparty=squash(name), remittance=squash(purpose))


def _swift(joined: str) -> Details:
    values: dict[str, str] = {}
    matches = list(_SWIFT_KEY_RE.finditer(joined))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(joined)
        values.setdefault(match.group(1), joined[match.end() : end].strip("/ "))
    name = values.get("NAME", "")
    if not name and "CNTP" in values:
        parts = values["CNTP"].split("/")  # account / BIC / name / city
        name = parts[2] if len(parts) > 2 else ""
    remittance = values.get("REMI", "")
    creditor_reference = ""
    if remittance.startswith("USTD//"):
        remittance = remittance.removeprefix("USTD//")
    elif remittance.startswith("STRD/"):
        # /REMI/STRD/CUR/RF18539007547034/ : a structured creditor reference, no free text.
        creditor_reference = remittance.rsplit("/", 1)[-1].strip()
        remittance = ""
    return Details(
        counterparty=squash(name), remittance=squash(remittance), creditor_reference=squash(creditor_reference)
    )
