"""EventStore's contract, against InMemoryEventStore and DynamoEventStore (the events table
made from the resources template on moto): stored once, the merchant's own, 30 days, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.events import DynamoEventStore
from shared_kernel.application.list_events import RETENTION
from shared_kernel.application.webhook_ports import (
    EventPageQuery,
    EventPosition,
    EventStore,
    StoredEvent,
)
from tests.unit.event_fakes import InMemoryEventStore
from tests.unit.fakes import FixedClock

from .conftest import BOTH, FAKE, moto_tables

MERCHANT = uuid4()
OTHER = uuid4()
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LONG_AGO = T0 - RETENTION


@pytest.fixture
def clock() -> FixedClock:
    """The store's clock, a day after T0."""
    return FixedClock(T0 + timedelta(days=1))


@pytest.fixture(params=BOTH)
def store(request: pytest.FixtureRequest, clock: FixedClock) -> EventStore:
    """An empty store: the fake, or DynamoEventStore on a fresh events table."""
    if request.param == FAKE:
        return InMemoryEventStore(clock.now)
    tables = moto_tables(request)
    return DynamoEventStore(tables.dynamodb(), tables.events, clock.now)


def event(at: datetime, merchant: UUID = MERCHANT, kind: str = "payment.succeeded") -> StoredEvent:
    """A new event at `at` (its body names its id, as a real body does)."""
    event_id = uuid4()
    return StoredEvent(event_id, kind, merchant, at, f'{{"id":"{event_id}"}}'.encode())


def query(
    limit: int,
    kind: str | None = None,
    after: EventPosition | None = None,
    before: EventPosition | None = None,
) -> EventPageQuery:
    """A page of MERCHANT's events of the last 30 days (of T0 + 1 day)."""
    return EventPageQuery(MERCHANT, limit, LONG_AGO + timedelta(days=1), kind, after, before)


def test_an_event_is_stored_once_with_its_exact_bytes(store: EventStore) -> None:
    """The first add stores it; a second add of the same id stores nothing and says so; the
    body comes back byte for byte."""
    first = event(T0)
    second = StoredEvent(first.id, first.type, MERCHANT, T0, b'{"other":"bytes"}')

    assert (True, False) == (store.add(first), store.add(second))
    assert first == store.get(MERCHANT, first.id)


def test_another_merchants_event_is_none(store: EventStore) -> None:
    """get answers None for another merchant's event and for an unknown id."""
    theirs = event(T0, OTHER)
    store.add(theirs)

    assert (None, None) == (store.get(MERCHANT, theirs.id), store.get(MERCHANT, uuid4()))


def test_an_expired_event_is_neither_got_nor_listed(store: EventStore, clock: FixedClock) -> None:
    """30 days after its created_at an event is gone from get and from pages, even if the
    table's TTL has not removed it yet."""
    old, recent = event(T0), event(T0 + timedelta(hours=1))
    store.add(old)
    store.add(recent)
    clock.set(T0 + RETENTION)

    page = store.page(EventPageQuery(MERCHANT, 10, not_before=T0 + timedelta(microseconds=1)))

    assert None is store.get(MERCHANT, old.id)
    assert [recent.id] == [e.id for e in page.events]


def test_pages_of_events_within_one_second_never_repeat_or_skip(store: EventStore) -> None:
    """Seven events within one second (and another merchant's): pages of three, newest
    first, by starting_after then back by ending_before, cover each once; has_more tells."""
    mine = [event(T0 + timedelta(microseconds=n)) for n in range(7)]
    for e in [*mine, event(T0, OTHER)]:
        store.add(e)
    newest_first = [e.id for e in reversed(mine)]

    pages = [store.page(query(3))]
    while pages[-1].has_more:
        pages.append(store.page(query(3, after=EventPosition.of(pages[-1].events[-1]))))
    back = store.page(query(3, before=EventPosition.of(pages[-1].events[0])))

    assert newest_first == [e.id for p in pages for e in p.events]
    assert [True, True, False] == [p.has_more for p in pages]
    assert (newest_first[3:6], True) == ([e.id for e in back.events], back.has_more)


def test_the_type_filter_serves_full_pages(store: EventStore) -> None:
    """Among many events of other types, a type's page is full whenever has_more."""
    wanted = [event(T0 + timedelta(seconds=n), kind="refund.failed") for n in range(0, 30, 10)]
    for n in range(30):
        store.add(event(T0 + timedelta(seconds=n, microseconds=5)))
    for e in wanted:
        store.add(e)

    first = store.page(query(2, "refund.failed"))
    rest = store.page(query(2, "refund.failed", after=EventPosition.of(first.events[-1])))

    assert ([wanted[2].id, wanted[1].id], True) == ([e.id for e in first.events], first.has_more)
    assert ([wanted[0].id], False) == ([e.id for e in rest.events], rest.has_more)
