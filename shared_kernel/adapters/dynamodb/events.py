"""EventStore on DynamoDB: the events table, one immutable item per event (docs/events.md).

`add` is a PutItem conditioned on `attribute_not_exists(event_id)`: the recorder's ids are
derived from the change, so a redelivered change finds its event there and writes nothing.
An item keeps the event's exact JSON bytes (`body`, what every delivery sends and signs), its
type, merchant and time, and `expires_at` (the table's TTL, 30 days on). DynamoDB removes an
expired item within days, not at once, so reads leave out what has expired themselves: `get`
by its `expires_at`, `page` by a key condition (`created_key` after 30 days ago).

A merchant's list is one Query of `events-by-merchant` (or `events-by-merchant-type` for the
`type` filter, hash key `<merchant>#<type>`), range key `<created_at µs>#<event id>`, with the
payments list's cursor paging (paging.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from pynamodb.attributes import BinaryAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.models import TimestampAttribute, format_timestamp
from shared_kernel.adapters.dynamodb.paging import HIGHEST_KEY, page_entries
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.application.list_events import RETENTION
from shared_kernel.application.webhook_ports import (
    EventPage,
    EventPageQuery,
    EventPosition,
    StoredEvent,
)

EVENTS_BY_MERCHANT_INDEX = "events-by-merchant"
EVENTS_BY_TYPE_INDEX = "events-by-merchant-type"
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"


def event_key(position: EventPosition) -> str:
    """The lists' range key of an event: `<created_at, microseconds, UTC>#<event id>`."""
    return f"{format_timestamp(position.created_at)}#{position.event_id}"


class EventsByMerchantIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["EventModel"]
):
    """A merchant's events, newest first when queried backwards."""

    class Meta:
        index_name = EVENTS_BY_MERCHANT_INDEX
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class EventsByTypeIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["EventModel"]
):
    """A merchant's events of one type (`merchant_type` = `<merchant>#<type>`)."""

    class Meta:
        index_name = EVENTS_BY_TYPE_INDEX
        projection = AllProjection()

    merchant_type = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class EventModel(Model):
    """One event, keyed by its id (storage type, bound to no table: see `tables.py`)."""

    event_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    created_at = TimestampAttribute()
    # The event object's exact JSON bytes, never re-serialised.
    body = BinaryAttribute(legacy_encoding=False)
    expires_at = TTLAttribute()
    created_key = UnicodeAttribute()
    merchant_type = UnicodeAttribute()

    events_by_merchant = EventsByMerchantIndex()
    events_by_type = EventsByTypeIndex()


def to_item(event: StoredEvent) -> EventModel:
    """The item of an event, kept 30 days from its `created_at`."""
    return EventModel(
        event_id=str(event.id),
        type=event.type,
        merchant_id=str(event.merchant_id),
        created_at=event.created_at,
        body=event.body,
        expires_at=event.created_at + RETENTION,
        created_key=event_key(EventPosition.of(event)),
        merchant_type=f"{event.merchant_id}#{event.type}",
    )


def to_event(item: EventModel) -> StoredEvent:
    """The event an item holds."""
    return StoredEvent(
        id=UUID(item.event_id),
        type=item.type,
        merchant_id=UUID(item.merchant_id),
        created_at=item.created_at,
        body=bytes(item.body),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DynamoEventStore:
    """The merchants' events in the events table."""

    def __init__(
        self, tables: DynamoTables, table_name: str, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._table = tables.table(EventModel, table_name)
        self._clock = clock

    def add(self, event: StoredEvent) -> bool:
        """PutItem if attribute_not_exists(event_id); False when the event is already there."""
        try:
            self._table.put(to_item(event), condition=EventModel.event_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True

    def get(self, merchant_id: UUID, event_id: UUID) -> StoredEvent | None:
        """The merchant's event (strongly consistent read); None if unknown, expired or
        another merchant's."""
        item = self._table.get(str(event_id))
        if item is None or item.merchant_id != str(merchant_id):
            return None
        if item.expires_at <= self._clock():
            return None
        return to_event(item)

    def page(self, query: EventPageQuery) -> EventPage:
        """One Query of the index that serves the type filter, newest first, from the page's
        position, none older than `query.not_before`."""
        index, hash_key = EVENTS_BY_MERCHANT_INDEX, str(query.merchant_id)
        if query.type is not None:
            index, hash_key = EVENTS_BY_TYPE_INDEX, f"{hash_key}#{query.type}"
        entries, has_more = page_entries(
            self._table,
            index,
            hash_key,
            EventModel.created_key,
            (format_timestamp(query.not_before), HIGHEST_KEY),
            query.limit,
            after=None if query.after is None else event_key(query.after),
            before=None if query.before is None else event_key(query.before),
        )
        return EventPage([to_event(EventModel.from_raw_data(e)) for e in entries], has_more)
