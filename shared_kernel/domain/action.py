"""The PaymentAction aggregate: a capture, void or refund of a payment, and its state machine.

An action is sent to the bank on its own (its id is the Idempotency-Key) and ends `succeeded`
or `failed`; a final status never changes. The rules that tie an action to its payment (what
may be asked for, what it reserves, what its end does to the payment) are in
`money_movements`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shared_kernel.domain.errors import InvalidTransition
from shared_kernel.domain.events import ActionEnded, DomainEvent
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import CancellationReason


class ActionType(StrEnum):
    """What an action does to its payment."""

    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class ActionStatus(StrEnum):
    """Where an action stands: pending until the bank's answer, then final."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """Final statuses never change again."""
        return self is not ActionStatus.PENDING


class RefundReason(StrEnum):
    """Why the merchant refunds (refunds only; optional)."""

    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"


class ActionFailureReason(StrEnum):
    """Why an action failed, in the merchant's words."""

    DECLINED_BY_BANK = "declined_by_bank"
    REJECTED_BY_BANK = "rejected_by_bank"
    UNKNOWN_AT_BANK = "unknown_at_bank"


@dataclass(slots=True)
class PaymentAction:
    """A capture, void or refund of one payment, from its request to its end.

    Invariants: everything but status, failure reason and `updated_at` is fixed at creation;
    a final status is final; `failure_reason` is set exactly when failed; `reason` belongs
    to refunds only and `cancellation_reason` (which void: the merchant's or the expiry's)
    to voids only.
    """

    id: UUID
    payment_id: UUID
    merchant_id: UUID
    type: ActionType
    money: Money
    created_at: datetime
    updated_at: datetime
    status: ActionStatus = ActionStatus.PENDING
    reason: RefundReason | None = None
    failure_reason: ActionFailureReason | None = None
    cancellation_reason: CancellationReason | None = None
    # When the bank acknowledged the action (its 202): from then on it is never sent again,
    # only asked about. Bookkeeping, not shown to the merchant.
    sent_at: datetime | None = None
    version: int = 0
    # The events recorded since the aggregate was built, oldest first (not compared).
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.reason is not None and self.type is not ActionType.REFUND:
            raise ValueError("only a refund has a reason")
        if (self.type is ActionType.VOID) != (self.cancellation_reason is not None):
            raise ValueError("a cancellation reason goes with, and only with, a void")
        if (self.status is ActionStatus.FAILED) != (self.failure_reason is not None):
            raise ValueError("a failure reason goes with, and only with, a failed action")

    def end(
        self,
        status: ActionStatus,
        at: datetime,
        failure_reason: ActionFailureReason | None = None,
    ) -> bool:
        """End the action `succeeded`, or `failed` for `failure_reason`; False when it has
        already ended so (nothing changes).

        Raises InvalidTransition for a different end of a final action, ValueError for a
        move to pending or a failure reason that does not go with `status`.
        """
        if status is ActionStatus.PENDING:
            raise ValueError("an action cannot be moved to pending")
        if (status is ActionStatus.FAILED) != (failure_reason is not None):
            raise ValueError("a failure reason goes with, and only with, a failed action")
        if self.status.is_final:
            if (status, failure_reason) == (self.status, self.failure_reason):
                return False
            raise InvalidTransition(f"{self.type} is already final ({self.status})")
        self.status = status
        self.failure_reason = failure_reason
        self.updated_at = at
        self.events.append(
            ActionEnded(self.id, self.payment_id, self.merchant_id, self.type, status, at)
        )
        return True

    def record_bank_acceptance(self, at: datetime) -> bool:
        """The bank has the action (it answered 202, or reports it): never send it again.
        False (nothing changes) if that is already recorded or the action has ended."""
        if self.sent_at is not None or self.status.is_final:
            return False
        self.sent_at = at
        return True

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded so far, oldest first, leaving none (for the repository)."""
        events, self.events = self.events, []
        return events

    def copy(self) -> PaymentAction:
        """An independent copy (used by in-memory fakes to mimic storage)."""
        return replace(self, events=list(self.events))
