"""One-time form tokens: one is issued with every rendered money form and claimed on POST.

Issuing writes nothing: the token is a random nonce signed for the signed-in user
(TimestampSigner), so a page view costs no session write and a token cannot be
forged or used by another user. Claiming inserts the nonce into FormSubmission
inside the caller's transaction, next to the service's ledger rows:

- the write commits: the nonce is taken for good, a replay finds it and writes nothing;
- the service raises: both roll back, the clerk fixes the form and submits the same token;
- two POSTs at once: the second INSERT waits on the unique key until the first commits,
  then fails, so the service never runs twice.
"""

from __future__ import annotations

import uuid

from django.core import signing
from django.db import IntegrityError, connection, transaction

from submissions.models import FormSubmission

TOKEN_MAX_AGE = 12 * 60 * 60  # seconds: a form left open overnight must be reloaded.
_SALT = "settle.submissions.form-token"


class InvalidToken(Exception):
    """Expired, tampered with, or issued to someone else."""


class AlreadySubmitted(Exception):
    def __init__(self, submission: FormSubmission | None):
        super().__init__("This form was already submitted.")
        self.submission = submission


def _signer(user) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{_SALT}:{user.pk}")


def issue_token(user) -> str:
    return _signer(user).sign(uuid.uuid4().hex)


def nonce_of(user, token: str) -> str:
    """The token's nonce if it was issued to this user and has not expired."""
    try:
        return _signer(user).unsign(token, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidToken("This form was open too long and has expired; check the figures and submit again.") from None
    except signing.BadSignature:
        raise InvalidToken("This form's one-time token is not valid; check the figures and submit again.") from None


def find_submission(token: str) -> FormSubmission | None:
    """The submission that already used this token, if any (signature not checked: a lookup only)."""
    nonce = (token or "").split(":", 1)[0]
    if not nonce:
        return None
    return FormSubmission.objects.filter(token=nonce).first()


def claim(request, token: str) -> FormSubmission:
    """Take the token for this request. Call inside the transaction that does the write."""
    if not connection.in_atomic_block:
        raise RuntimeError("claim() must run in the transaction of the write it guards.")
    nonce = nonce_of(request.user, token)
    try:
        with transaction.atomic():
            return FormSubmission.objects.create(token=nonce, user=request.user, path=request.path[:300])
    except IntegrityError:
        raise AlreadySubmitted(FormSubmission.objects.filter(token=nonce).first()) from None
