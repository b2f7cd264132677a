"""The errors of the ports and the use cases: what the outside world (the bank, the queue, the
tables) can answer, and what the idempotency use case refuses. Domain errors (invalid input,
a forbidden transition, an unknown payment) are in shared_kernel/domain/errors.py."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of every error a port or a use case raises on purpose."""


class ConcurrentUpdate(ApplicationError):
    """Someone else changed the payment between our read and our conditional write."""


class DuplicatePayment(ApplicationError):
    """A payment with this id is already stored (`PaymentRepository.add`)."""


class QueueUnavailable(ApplicationError):
    """The payment queue could not take a message right now."""


class BankUnavailable(ApplicationError):
    """The bank's answer is unknown (5xx, timeout, connection error): retry or query."""


class BankRejected(ApplicationError):
    """The bank said the request is invalid (400/422): never retry it."""


class BankUnknownPayment(BankRejected):
    """The bank does not know the payment an action names (404): never retry it."""


class IdempotencyInProgress(ApplicationError):
    """A request with the same Idempotency-Key is still being processed: retry later."""


class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key was used before with a different request body."""


class EventNotFound(ApplicationError):
    """The merchant has no such event (unknown, expired, or another merchant's)."""


class EndpointNotFound(ApplicationError):
    """The merchant has no such webhook endpoint (unknown, deleted, or another merchant's)."""
