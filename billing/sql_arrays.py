"""Array parameters for the set-based statements (`unnest(%s::type[])`), written as one literal.

psycopg dumps a list parameter element by element, testing each one with a regular
expression for whether it needs quotes: for a chunk of the bank import (a few thousand
values per statement) that was the largest single cost in Python after waiting for the
database (bench/RESULTS.md, stop 28). `array_param` writes the array's text form at once
instead: numbers bare, text, dates and times always quoted and escaped, NULL for None.
PostgreSQL reads it back through the statement's cast exactly as it reads psycopg's form.

Only values whose text form is plain are written so (str, int, Decimal, bool, date,
datetime); a list holding anything else (JSON, bytes...) is passed on as it is, for psycopg
to dump. A NUL character is refused by psycopg either way (a DataError, as before).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal


def array_param(values: Sequence[object]) -> str | list:
    """The array literal of `values` for a `%s::type[]` parameter, or the list itself when a
    value is of a type this does not write."""
    parts: list[str] = []
    append = parts.append
    for value in values:
        if value is None:
            append("NULL")
        elif isinstance(value, str):
            append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif value is True or value is False:
            append("t" if value else "f")
        elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            append(str(value))
        elif isinstance(value, (datetime.date, datetime.datetime)):
            append('"' + value.isoformat() + '"')
        else:
            return list(values)
    return "{" + ",".join(parts) + "}"
