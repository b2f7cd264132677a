"""Domain events: values the aggregates record when a transition a merchant can see happens.

A payment records `payment.<status>` each time it enters a status other than pending; an
action records `<type>.<succeeded|failed>` when it ends (SPEC §10). When one change ends an
action and moves its payment, the action's event comes first (`capture.succeeded`, then
`payment.succeeded`). The aggregates only collect them; storing them with the change and
delivering them are the adapters' jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class PaymentStatusChanged:
    """A payment entered `status` at `occurred_at`."""

    payment_id: UUID
    merchant_id: UUID
    status: str
    occurred_at: datetime

    @property
    def type(self) -> str:
        """The event type a merchant filters on, e.g. `payment.succeeded`."""
        return f"payment.{self.status}"


@dataclass(frozen=True, slots=True)
class ActionEnded:
    """A capture, void or refund of a payment ended `succeeded` or `failed`."""

    action_id: UUID
    payment_id: UUID
    merchant_id: UUID
    action_type: str
    status: str
    occurred_at: datetime

    @property
    def type(self) -> str:
        """The event type a merchant filters on, e.g. `capture.succeeded`."""
        return f"{self.action_type}.{self.status}"


DomainEvent = PaymentStatusChanged | ActionEnded
