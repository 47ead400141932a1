"""Reading the staff pages in tests: row ids in page order, CSV rows."""

from __future__ import annotations

import csv
import io
import re

ROW = re.compile(r'<tr data-id="(\d+)"')


def row_ids(response) -> list[int]:
    """Ids of the rows of the page's results table, in order."""
    assert response.status_code == 200, response.status_code
    return [int(pk) for pk in ROW.findall(response.content.decode())]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))
