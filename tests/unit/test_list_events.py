"""The events API's requests and use cases (SPEC §10 with §9's cursors): parameters checked
together, cursors that must be the merchant's own events, 30 days kept, 404 for others'."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.api.events import event_listing, event_lookup
from shared_kernel.application.errors import EventNotFound
from shared_kernel.application.list_events import RETENTION, EventListing, GetEvent, ListEvents
from shared_kernel.application.webhook_ports import StoredEvent
from shared_kernel.domain.errors import FieldError, ValidationError

from .builders import CREATED_AT, MERCHANT_ID, OTHER_MERCHANT_ID
from .event_fakes import InMemoryEventStore
from .fakes import FixedClock

pytestmark = pytest.mark.unit

NOW = CREATED_AT + timedelta(days=1)


def request(query: dict[str, str] | None = None, caller: UUID = MERCHANT_ID) -> dict[str, Any]:
    """A GET /merchant/{MERCHANT_ID}/events request, authorised for `caller`."""
    return {
        "pathParameters": {"merchant_id": str(MERCHANT_ID)},
        "queryStringParameters": query,
        "requestContext": {"authorizer": {"merchant_id": str(caller)}},
    }


def stored(n: int, merchant: UUID = MERCHANT_ID, kind: str = "payment.succeeded") -> StoredEvent:
    """Event number `n`, `n` seconds after CREATED_AT (all in the same second for n < 1)."""
    return StoredEvent(UUID(int=n), kind, merchant, CREATED_AT + timedelta(seconds=n), b"{}")


def store_with(*events: StoredEvent) -> tuple[InMemoryEventStore, FixedClock]:
    """A store holding `events`, and the clock it and the use cases read."""
    clock = FixedClock(NOW)
    store = InMemoryEventStore(clock.now)
    for event in events:
        store.add(event)
    return store, clock


def test_the_listing_parameters_are_parsed() -> None:
    """limit, type and a cursor become the listing; no parameter is the default first page."""
    after = UUID(int=7)

    listing = event_listing(
        request({"limit": "3", "type": "refund.failed", "starting_after": str(after)})
    )

    assert EventListing(MERCHANT_ID, 3, "refund.failed", after, None) == listing
    assert EventListing(MERCHANT_ID) == event_listing(request())


def test_every_bad_parameter_is_named_at_once() -> None:
    """A bad limit, an unknown type, a cursor that is no UUID and both cursors are 400s,
    named together."""
    with pytest.raises(ValidationError) as caught:
        event_listing(
            request(
                {
                    "limit": "101",
                    "type": "payment.pending",
                    "starting_after": "x",
                    "ending_before": str(UUID(int=1)),
                }
            )
        )

    assert [
        FieldError("limit", "must be an integer from 1 to 100"),
        FieldError("starting_after", "must be an event id (UUID)"),
        FieldError("ending_before", "cannot be given with starting_after"),
        FieldError("type", "must be a known event type"),
    ] == caught.value.details


@pytest.mark.parametrize(("caller", "status"), [(OTHER_MERCHANT_ID, 403), (None, 401)])
def test_only_the_paths_merchant_may_list_or_read(caller: UUID | None, status: int) -> None:
    """Another merchant's key is 403, none 401, on the list and on one event."""
    event = request(caller=caller or MERCHANT_ID)
    if caller is None:
        event["requestContext"] = {}
    event["pathParameters"]["event_id"] = str(UUID(int=1))

    for parse in (event_listing, event_lookup):
        with pytest.raises(HttpError) as caught:
            parse(event)
        assert status == caught.value.status


def test_pages_run_newest_first_both_ways_with_cursors() -> None:
    """Five events: pages of two after the newest's cursor, and before the oldest's."""
    store, clock = store_with(*(stored(n) for n in range(5)))
    list_events = ListEvents(store, clock)

    first = list_events(EventListing(MERCHANT_ID, 2))
    second = list_events(EventListing(MERCHANT_ID, 2, starting_after=first.events[-1].id))
    back = list_events(EventListing(MERCHANT_ID, 2, ending_before=second.events[0].id))

    assert ([4, 3], True) == ([e.id.int for e in first.events], first.has_more)
    assert ([2, 1], True) == ([e.id.int for e in second.events], second.has_more)
    assert ([4, 3], False) == ([e.id.int for e in back.events], back.has_more)


@pytest.mark.parametrize("name", ["starting_after", "ending_before"])
def test_a_cursor_of_another_merchant_or_unknown_is_a_validation_error(name: str) -> None:
    """Another merchant's event and an unknown id are answered alike: 400 naming the cursor."""
    store, clock = store_with(stored(1), stored(2, OTHER_MERCHANT_ID))
    list_events = ListEvents(store, clock)

    for cursor in (UUID(int=2), UUID(int=99)):
        with pytest.raises(ValidationError) as caught:
            list_events(EventListing(MERCHANT_ID, **{name: cursor}))
        assert [FieldError(name, "must be the id of one of this merchant's events")] == (
            caught.value.details
        )


def test_the_type_filter_keeps_only_that_type() -> None:
    """type=refund.succeeded lists only those."""
    store, clock = store_with(stored(1), stored(2, kind="refund.succeeded"), stored(3))

    page = ListEvents(store, clock)(EventListing(MERCHANT_ID, type="refund.succeeded"))

    assert [2] == [e.id.int for e in page.events]


def test_events_older_than_thirty_days_are_gone() -> None:
    """At 30 days after an event it is neither listed nor shown."""
    store, clock = store_with(stored(0))
    clock.set(CREATED_AT + RETENTION)

    assert [] == ListEvents(store, clock)(EventListing(MERCHANT_ID)).events
    with pytest.raises(EventNotFound):
        GetEvent(store)(MERCHANT_ID, UUID(int=0))


def test_another_merchants_event_is_not_found() -> None:
    """GET of an event that exists for another merchant raises EventNotFound (404)."""
    store, _ = store_with(stored(1, OTHER_MERCHANT_ID))

    with pytest.raises(EventNotFound):
        GetEvent(store)(MERCHANT_ID, UUID(int=1))
    assert UUID(int=1) == GetEvent(store)(OTHER_MERCHANT_ID, UUID(int=1)).id
