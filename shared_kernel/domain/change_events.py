"""The events of one stored change of a payment (SPEC §10), from the payment and its actions
as they were before the change and as they are after it.

The events recorder reads each change of the payments table from its change stream (old and
new image) and asks this module which events the change makes: `<type>.<succeeded|failed>`
for every action that became final, then `payment.<status>` if the payment entered a status
a merchant is told about (none for pending). A change the merchant cannot see (the
reconciler's schedule, a reservation, a new pending action) makes none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from shared_kernel.domain.action import ActionStatus, ActionType, PaymentAction
from shared_kernel.domain.events import ActionEnded, DomainEvent, PaymentStatusChanged
from shared_kernel.domain.payment import PaymentRequest, PaymentStatus

# The statuses whose entry records `payment.<status>`: every one but pending (the 201 says it).
EVENT_STATUSES = tuple(s for s in PaymentStatus if s is not PaymentStatus.PENDING)
# Every event type a merchant can filter on (`GET .../events?type=`).
EVENT_TYPES = frozenset(
    [f"payment.{s.value}" for s in EVENT_STATUSES]
    + [
        f"{t.value}.{s.value}"
        for t in ActionType
        for s in (ActionStatus.SUCCEEDED, ActionStatus.FAILED)
    ]
)


@dataclass(frozen=True, slots=True)
class PaymentSnapshot:
    """A payment and its actions (by id) as one stored item holds them."""

    payment: PaymentRequest
    actions: Mapping[UUID, PaymentAction]


def events_of_change(before: PaymentSnapshot | None, after: PaymentSnapshot) -> list[DomainEvent]:
    """The events the change from `before` (None: the item is new) to `after` records, in
    the order they are recorded: the ended actions' (oldest action first), then the
    payment's."""
    events: list[DomainEvent] = []
    earlier = {} if before is None else before.actions
    ended = [
        action
        for action in after.actions.values()
        if action.status.is_final
        and (action.id not in earlier or not earlier[action.id].status.is_final)
    ]
    for action in sorted(ended, key=lambda a: (a.created_at, str(a.id))):
        events.append(
            ActionEnded(
                action.id,
                action.payment_id,
                action.merchant_id,
                action.type,
                action.status,
                action.updated_at,
            )
        )
    payment = after.payment
    entered = before is None or before.payment.status is not payment.status
    if entered and payment.status in EVENT_STATUSES:
        events.append(
            PaymentStatusChanged(
                payment.id, payment.merchant_id, payment.status, payment.updated_at
            )
        )
    return events
