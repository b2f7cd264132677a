"""Domain errors: the typed failures of the business rules, mapped to HTTP in one place per API.

The errors of the ports and use cases (the bank, the queue, conflicting writes, idempotency)
are in shared_kernel/application/errors.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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


class ActionNotFound(DomainError):
    """No capture, void or refund with this id exists for this payment."""


class InvalidTransition(DomainError):
    """The requested status change would leave a final state or move backwards."""


class ActionRefused(DomainError):
    """A capture, void or refund the payment's state does not allow (SPEC §8: 409, nothing
    stored, nothing sent). Each subclass's `code` is the error code the merchant API answers."""

    code: ClassVar[str]


class PaymentUnexpectedState(ActionRefused):
    """The payment's status does not allow this action (e.g. a refund of an authorisation)."""

    code = "payment_unexpected_state"


class ActionInProgress(ActionRefused):
    """A capture or void of this payment is still pending."""

    code = "action_in_progress"


class AuthorizationExpired(ActionRefused):
    """A capture asked for at or after the authorisation's `capture_before`."""

    code = "authorization_expired"


class RefundLimitReached(ActionRefused):
    """The payment already has the most refunds allowed (failed ones count)."""

    code = "refund_limit_reached"


class AmountTooLarge(ActionRefused):
    """A capture above the authorised amount, or a refund above what is still refundable."""

    code = "amount_too_large"


class EndpointNotFound(DomainError):
    """No webhook endpoint with this id exists for this merchant (or it was deleted)."""


class EndpointLimitReached(DomainError):
    """The merchant already has the most webhook endpoints allowed (16)."""
