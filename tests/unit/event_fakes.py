"""In-memory EventStore and WebhookQueue (shared_kernel/application/webhook_ports.py) for the
unit tests of the events recorder and the events API; held to the adapters' behaviour by
tests/port_contracts/test_event_store.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.list_events import RETENTION
from shared_kernel.application.webhook_ports import (
    EndpointDelivery,
    EventPage,
    EventPageQuery,
    EventPosition,
    FanOut,
    StoredEvent,
)


def _position_key(position: EventPosition) -> tuple[datetime, str]:
    return position.created_at, str(position.event_id)


class InMemoryEventStore:
    """Events by id; `writes` counts the events stored (a repeat stores nothing)."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.stored: dict[UUID, StoredEvent] = {}
        self.writes = 0
        self.clock = clock

    def add(self, event: StoredEvent) -> bool:
        """Keep the event unless its id is stored already."""
        if event.id in self.stored:
            return False
        self.stored[event.id] = event
        self.writes += 1
        return True

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """The merchant's event, unless expired (30 days after its created_at)."""
        event = self.stored.get(event_id)
        if event is None or event.merchant_id != merchant_id:
            return None
        if event.created_at + RETENTION <= self.clock():
            return None
        return event

    def page(self, query: EventPageQuery) -> EventPage:
        """The page, computed from every matching event in order (newest first)."""
        matching = sorted(
            (
                e
                for e in self.stored.values()
                if e.merchant_id == query.merchant_id
                and (query.type is None or e.type == query.type)
                and e.created_at >= query.not_before
            ),
            key=lambda e: _position_key(EventPosition.of(e)),
            reverse=True,
        )
        if query.after is not None:
            after = _position_key(query.after)
            older = [e for e in matching if _position_key(EventPosition.of(e)) < after]
            return EventPage(older[: query.limit], len(older) > query.limit)
        if query.before is not None:
            before = _position_key(query.before)
            newer = [e for e in matching if _position_key(EventPosition.of(e)) > before]
            return EventPage(newer[-query.limit :], len(newer) > query.limit)
        return EventPage(matching[: query.limit], len(matching) > query.limit)


class RecordingWebhookQueue:
    """The messages queued, in order; `failures` makes the next that many sends raise
    QueueUnavailable (each raise counted in `refused`)."""

    def __init__(self, failures: int = 0) -> None:
        self.fanned_out: list[FanOut] = []
        self.deliveries: list[tuple[EndpointDelivery, float]] = []
        self.failures = failures
        self.refused = 0

    def fan_out(self, message: FanOut) -> None:
        """Record the fan-out, or refuse it while failures are left."""
        self._maybe_refuse()
        self.fanned_out.append(message)

    def deliver(self, message: EndpointDelivery, delay_s: float = 0) -> None:
        """Record the delivery and its delay, or refuse it while failures are left."""
        self._maybe_refuse()
        self.deliveries.append((message, delay_s))

    def _maybe_refuse(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            raise QueueUnavailable("webhook queue is down (fake)")
