"""Domain errors: the typed failures the core can raise, mapped to HTTP in one place per API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: its name (dotted for nested fields) and why it is invalid."""

    field: str
    message: str


class DomainError(Exception):
    """Base class of every error the domain and the use cases raise on purpose."""


class ValidationError(DomainError):
    """Input broke one or more rules; carries every failing field, not just the first."""

    def __init__(self, details: list[FieldError]) -> None:
        super().__init__("; ".join(f"{d.field}: {d.message}" for d in details))
        self.details = details


class PaymentNotFound(DomainError):
    """No payment with this id exists for this merchant."""


class InvalidTransition(DomainError):
    """The requested status change would leave a final state or move backwards."""


class ConcurrentUpdate(DomainError):
    """Someone else changed the payment between our read and our conditional write."""


class BankUnavailable(DomainError):
    """The bank's answer is unknown (5xx, timeout, connection error): retry or query."""


class BankRejected(DomainError):
    """The bank said the request is invalid (400/422): never retry it."""


class IdempotencyInProgress(DomainError):
    """A request with the same Idempotency-Key is still being processed: retry later."""


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was used before with a different request body."""
