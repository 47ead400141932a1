"""The development SECRET_KEY: generated once per checkout under var/, never committed.

Production settings require DJANGO_SECRET_KEY and never read this file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def development_secret_key(path: Path) -> str:
    """Read the key at path, creating it (mode 0600) on first use; concurrent first uses agree on one key."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then link it into place: the link fails if another
    # process got there first, and nobody ever reads a half-written key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text().strip()
