"""Optimistic concurrency for a change of one action and its payment, written together.

An action's end and its effect on its payment are one change (SPEC §8): both are decided on
the same read and saved in one conditional write (`PaymentRepository.save(payment,
[action])`); when someone else wrote the payment first, both are read again and the change
decided again on what they wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from shared_kernel.application.errors import ConcurrentUpdate
from shared_kernel.application.ports import PaymentRepository
from shared_kernel.application.retrying import MAX_ATTEMPTS
from shared_kernel.domain.action import ActionFailureReason, PaymentAction
from shared_kernel.domain.money_movements import settle_action
from shared_kernel.domain.payment import PaymentRequest

# `change(payment, action)`: apply the change to both, say whether anything changed.
ActionChange = Callable[[PaymentRequest, PaymentAction], bool]


def update_action(
    repository: PaymentRepository,
    payment_id: UUID,
    action_id: UUID,
    change: ActionChange,
    first: tuple[PaymentRequest, PaymentAction] | None = None,
) -> bool:
    """Apply `change` to the payment and its action and save both in one conditional write,
    re-reading and re-applying on a concurrent write (at most MAX_ATTEMPTS writes); whether
    anything was saved. Domain errors propagate; ConcurrentUpdate after the last attempt."""
    payment, action = first if first is not None else _read(repository, payment_id, action_id)
    for _ in range(MAX_ATTEMPTS - 1):
        if not change(payment, action):
            return False
        try:
            repository.save(payment, [action])
            return True
        except ConcurrentUpdate:
            payment, action = _read(repository, payment_id, action_id)
    if not change(payment, action):
        return False
    repository.save(payment, [action])
    return True


def settle(
    succeeded: bool, now: datetime, failure_reason: ActionFailureReason | None = None
) -> ActionChange:
    """The change that ends an action (succeeded, or failed for `failure_reason`, by default
    declined by the bank) with its effect on the payment; a repeat changes nothing."""
    reason = failure_reason or ActionFailureReason.DECLINED_BY_BANK

    def change(payment: PaymentRequest, action: PaymentAction) -> bool:
        return settle_action(payment, action, succeeded, now, reason).changed

    return change


def _read(
    repository: PaymentRepository, payment_id: UUID, action_id: UUID
) -> tuple[PaymentRequest, PaymentAction]:
    # Two strongly consistent reads of one item; the save's version condition makes the
    # pair consistent (an action changes only with its payment's version).
    return repository.get(payment_id), repository.get_action(payment_id, action_id)
