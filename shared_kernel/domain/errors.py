"""Domain errors: the typed failures of the business rules, mapped to HTTP in one place per API.

The errors of the ports and use cases (the bank, the queue, conflicting writes, idempotency)
are in shared_kernel/application/errors.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: its name (dotted for nested fields) and why it is invalid."""

    field: str
    message: str


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""


class ValidationError(DomainError):
    """Input broke one or more rules; carries every failing field, not just the first."""

    def __init__(self, details: list[FieldError]) -> None:
        super().__init__("; ".join(f"{d.field}: {d.message}" for d in details))
        self.details = details


class PaymentNotFound(DomainError):
    """No payment with this id exists for this merchant."""


class InvalidTransition(DomainError):
    """The requested status change would leave a final state or move backwards."""
