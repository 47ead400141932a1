"""The domain errors. Each is a ValidationError whose message a clerk can act on.

Services raise them before writing anything (or inside the transaction, which then
rolls back), so a BillingError always means the database is unchanged.
"""

from django.core.exceptions import ValidationError


class BillingError(ValidationError):
    """Base of every error the services raise on bad input."""

    default_code = "billing"

    def __init__(self, message: str, code: str | None = None, params=None):
        super().__init__(message, code=code or self.default_code, params=params)

    def __str__(self) -> str:
        return " ".join(self.messages)


class InvalidAmount(BillingError):
    default_code = "invalid_amount"


class InsufficientFunds(BillingError):
    """More than the payment has left to allocate or refund."""

    default_code = "insufficient_funds"


class ExceedsBalance(BillingError):
    """More than the invoice still has due, or more than can be credited or deallocated."""

    default_code = "exceeds_balance"


class PartyMismatch(BillingError):
    """Payment and invoice belong to different customers or currencies (I5)."""

    default_code = "party_mismatch"


class InvalidState(BillingError):
    """The action is not allowed in the object's lifecycle state."""

    default_code = "invalid_state"


class DuplicateReference(BillingError):
    default_code = "duplicate_reference"


class InvalidInput(BillingError):
    default_code = "invalid_input"
