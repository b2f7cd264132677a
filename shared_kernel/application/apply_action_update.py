"""Use case: apply an action's outcome the bank sent to the callback endpoint (SPEC §8)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared_kernel.application.action_changes import settle, update_action
from shared_kernel.application.ports import NO_METRICS, Clock, Metrics, PaymentRepository
from shared_kernel.domain.action import ActionType
from shared_kernel.domain.errors import ActionNotFound, PaymentNotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionUpdate:
    """A verified, schema-valid action callback: the action ended succeeded or declined."""

    payment_id: UUID
    merchant_id: UUID
    action_id: UUID
    type: ActionType
    succeeded: bool
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ApplyActionUpdate:
    """End the action and apply its effect on the payment in one conditional write; a
    repeat of the end it has changes nothing; a different end of a final action raises
    InvalidTransition."""

    repository: PaymentRepository
    clock: Clock
    metrics: Metrics = NO_METRICS

    def __call__(self, update: ActionUpdate) -> bool:
        """Apply the update; True if it changed the action, False for a repeat.

        Raises PaymentNotFound (unknown payment or another merchant's), ActionNotFound
        (unknown action, or one of another type) or InvalidTransition.
        """
        payment = self.repository.get(update.payment_id)
        if payment.merchant_id != update.merchant_id:
            raise PaymentNotFound(str(update.payment_id))
        action = self.repository.get_action(update.payment_id, update.action_id)
        if action.type is not update.type:
            raise ActionNotFound(f"action {update.action_id} is not a {update.type}")
        changed = update_action(
            self.repository,
            update.payment_id,
            update.action_id,
            settle(update.succeeded, self.clock.now()),
            first=(payment, action),
        )
        self.metrics.count("ActionUpdatesApplied" if changed else "ActionUpdatesRepeated")
        logger.info(
            "action update applied" if changed else "action update already applied",
            extra={
                "correlation_id": payment.correlation_id,
                "payment_id": str(update.payment_id),
                "action_id": str(update.action_id),
                "succeeded": update.succeeded,
            },
        )
        return changed
