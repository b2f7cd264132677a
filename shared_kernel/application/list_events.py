"""Use cases: one page of a merchant's events, and one event (SPEC §10), with the cursors of
the payments list (SPEC §9): a cursor is one of the merchant's own events, wherever it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from shared_kernel.application.errors import EventNotFound
from shared_kernel.application.list_payments import DEFAULT_LIMIT, cursor_target
from shared_kernel.application.ports import Clock
from shared_kernel.application.webhook_ports import (
    EventPage,
    EventPageQuery,
    EventPosition,
    EventStore,
    StoredEvent,
)

# How long events are kept, listed and shown (SPEC §10); the table's TTL removes them later.
RETENTION = timedelta(days=30)
NOT_THIS_MERCHANTS_EVENT = "must be the id of one of this merchant's events"


@dataclass(frozen=True, slots=True)
class EventListing:
    """A merchant's request for one page of its events: its size, an exact type (None:
    every type) and at most one cursor (an event id)."""

    merchant_id: UUID
    limit: int = DEFAULT_LIMIT
    type: str | None = None
    starting_after: UUID | None = None
    ending_before: UUID | None = None


@dataclass(frozen=True, slots=True)
class ListEvents:
    """A page of the merchant's events of the last 30 days, newest first."""

    events: EventStore
    clock: Clock

    def __call__(self, listing: EventListing) -> EventPage:
        """The page; raises ValidationError naming a cursor that is not the merchant's."""

        def position(name: str, cursor: UUID | None) -> EventPosition | None:
            event = cursor_target(
                name,
                cursor,
                lambda event_id: self.events.get(listing.merchant_id, event_id),
                NOT_THIS_MERCHANTS_EVENT,
            )
            return None if event is None else EventPosition.of(event)

        return self.events.page(
            EventPageQuery(
                merchant_id=listing.merchant_id,
                limit=listing.limit,
                # An event expires at created_at + 30 days exactly (as `get` has it).
                not_before=self.clock.now() - RETENTION + timedelta(microseconds=1),
                type=listing.type,
                after=position("starting_after", listing.starting_after),
                before=position("ending_before", listing.ending_before),
            )
        )


@dataclass(frozen=True, slots=True)
class GetEvent:
    """One of the merchant's events."""

    events: EventStore

    def __call__(self, merchant_id: UUID, event_id: UUID) -> StoredEvent:
        """The event; raises EventNotFound if unknown, expired or another merchant's."""
        event = self.events.get(merchant_id, event_id)
        if event is None:
            raise EventNotFound(str(event_id))
        return event
