"""Transports of a sealed batch: a file in an outbox folder, or an HTTP POST.

Both send exactly the stored chunks, streamed, and check them against the batch's sha256
on the way (a mismatch is a failed delivery, never a silent one). A POST carries the
header `Idempotency-Key: <profile>-<number>`, the same on every attempt, so an agency
that got a batch whose answer was lost takes the retry as the same batch.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from exports.models import ExportBatch


@dataclass
class Attempt:
    ok: bool
    to: str
    error: str = ""
    reference: str = ""


class TamperedPayload(Exception):
    pass


def _checked(batch: ExportBatch) -> Iterator[bytes]:
    digest = hashlib.sha256()
    size = 0
    for chunk in batch.iter_payload():
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size != batch.payload_bytes or digest.hexdigest() != batch.sha256:
        raise TamperedPayload(f"the stored payload of {batch} no longer matches its sha256 {batch.sha256}")


def to_folder(batch: ExportBatch, folder: str | os.PathLike) -> Attempt:
    """Write <profile>-<number>.<format> into the folder, whole or not at all (a temporary file renamed)."""
    target = os.path.join(folder, batch.file_name)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".part-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in _checked(batch):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, TamperedPayload) as error:
        return Attempt(ok=False, to=target, error=f"{type(error).__name__}: {error}")
    return Attempt(ok=True, to=target)


def to_url(batch: ExportBatch, url: str, *, content_type: str) -> Attempt:
    """POST the bytes; any 2xx is delivered, anything else (or no answer) a failure with the reason."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    timeout = getattr(settings, "SETTLE_EXPORT_HTTP_TIMEOUT", 60)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=_checked(batch),
            headers={
                "Content-Type": content_type,
                "Content-Length": str(batch.payload_bytes),
                "Idempotency-Key": batch.idempotency_key,
                "X-Settle-Profile": batch.profile,
                "X-Settle-Batch": str(batch.number),
                "X-Settle-Sha256": batch.sha256,
            },
        )
        response = conn.getresponse()
        body = response.read(500).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException, TamperedPayload) as error:
        return Attempt(
            ok=False, to=url, error=f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        )
    finally:
        conn.close()
    if 200 <= response.status < 300:
        return Attempt(ok=True, to=url, reference=f"HTTP {response.status}")
    return Attempt(
        ok=False,
        to=url,
        error=f"HTTP {response.status} {response.reason}" + (f": {body}" if body else ""),
        reference=f"HTTP {response.status}",
    )
