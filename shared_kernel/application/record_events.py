"""Use case: record the events of one stored change of a payment (SPEC §10) and hand each to
the webhook queue.

The events recorder runs it for each record of the payments table's change stream. Each
event is stored under an id derived from the change (the payment, the item's version after
the change, the event's type and, for an action's event, the action), so a redelivered
stream batch finds its events already stored and records nothing twice; it is fanned out
again all the same (at least once: the first delivery may have crashed before the fan-out).
Only a change whose events are all stored and fanned out counts as done: any error is
raised, and the stream redelivers the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid5

from shared_kernel.application.ports import NO_METRICS, Metrics
from shared_kernel.application.webhook_ports import EventStore, FanOut, StoredEvent, WebhookQueue
from shared_kernel.domain.action import PaymentAction
from shared_kernel.domain.change_events import PaymentSnapshot, events_of_change
from shared_kernel.domain.events import ActionEnded, DomainEvent
from shared_kernel.domain.payment import PaymentRequest

# The namespace of the events' name-based (version 5) ids; never change it: an id must come
# out the same for every delivery of one change.
EVENT_ID_NAMESPACE = UUID("6f1d3c52-7a0e-4b8f-9c41-2e5d8a7b0c13")
# The events of one change share its time; each next one is a microsecond later, so that the
# list (newest first, by created_at then id) shows them in the order they were recorded.
WITHIN_CHANGE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PaymentChange:
    """One stored change of a payment item: before (None when the item is new) and after."""

    before: PaymentSnapshot | None
    after: PaymentSnapshot


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before it is rendered: its id, type, merchant, time and the resource (the
    payment or the action) as it is right after the change."""

    id: UUID
    type: str
    merchant_id: UUID
    created_at: datetime
    resource: PaymentRequest | PaymentAction


class EventRenderer(Protocol):
    """Renders an event object as the exact JSON bytes stored, listed and delivered."""

    def __call__(self, draft: EventDraft) -> bytes:
        """The event object's bytes."""


def event_id(payment_id: UUID, version: int, event: DomainEvent) -> UUID:
    """The id of `event` of the change that left payment `payment_id` at `version`: the same
    for every delivery of the change, different for every other event."""
    name = f"{payment_id}#{version}#{event.type}"
    if isinstance(event, ActionEnded):
        name += f"#{event.action_id}"
    return uuid5(EVENT_ID_NAMESPACE, name)


@dataclass(frozen=True, slots=True)
class RecordEvents:
    """Stores the events of a change (each once) and fans each out (at least once)."""

    events: EventStore
    queue: WebhookQueue
    render: EventRenderer
    metrics: Metrics = NO_METRICS

    def __call__(self, change: PaymentChange) -> list[StoredEvent]:
        """The change's events, stored and queued; raises whatever the table or the queue
        raises (the change is then to be delivered again)."""
        recorded: list[StoredEvent] = []
        for index, event in enumerate(events_of_change(change.before, change.after)):
            draft = self.draft(change.after, event, event.occurred_at + index * WITHIN_CHANGE)
            stored = StoredEvent(
                draft.id, draft.type, draft.merchant_id, draft.created_at, self.render(draft)
            )
            outcome = "recorded" if self.events.add(stored) else "already_recorded"
            self.metrics.count("EventsRecorded", outcome=outcome)
            self.queue.fan_out(FanOut(stored.id, stored.merchant_id))
            recorded.append(stored)
        return recorded

    @staticmethod
    def draft(after: PaymentSnapshot, event: DomainEvent, created_at: datetime) -> EventDraft:
        """The draft of `event` of the change that left the payment as `after` holds it."""
        payment = after.payment
        resource: PaymentRequest | PaymentAction = (
            after.actions[event.action_id] if isinstance(event, ActionEnded) else payment
        )
        return EventDraft(
            event_id(payment.id, payment.version, event),
            event.type,
            payment.merchant_id,
            created_at,
            resource,
        )
