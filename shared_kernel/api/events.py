"""The events' wire format (SPEC §10): the event object the recorder stores as bytes (its
`data.object` rendered by the merchant API's own resource renderers), and the events routes'
requests and answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared_kernel.adapters.apigateway import respond
from shared_kernel.api.merchant import (
    QueryParameters,
    action_resource,
    authorise,
    path_ids,
    payment_resource,
    timestamp,
)
from shared_kernel.domain.change_events import EVENT_TYPES
from shared_kernel.domain.payment import PaymentRequest

if TYPE_CHECKING:
    from shared_kernel.application.list_events import EventListing
    from shared_kernel.application.record_events import EventDraft
    from shared_kernel.application.webhook_ports import EventPage, StoredEvent


def event_body(draft: EventDraft) -> bytes:
    """The event object's exact bytes (compact JSON, UTF-8): what is stored, listed, and
    delivered and signed as it is."""
    resource = draft.resource
    rendered = (
        payment_resource(resource)
        if isinstance(resource, PaymentRequest)
        else action_resource(resource)
    )
    document = {
        "id": str(draft.id),
        "type": draft.type,
        "created_at": timestamp(draft.created_at),
        "merchant_id": str(draft.merchant_id),
        "data": {"object": rendered},
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_listing(event: Mapping[str, Any]) -> EventListing:
    """The page a GET /merchant/{merchant_id}/events request asks for, checked in order: the
    path (400), the caller (401, 403), then every query parameter together (400)."""
    from shared_kernel.application.list_events import EventListing
    from shared_kernel.application.list_payments import DEFAULT_LIMIT

    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    query = QueryParameters(event)
    limit, after, before = query.page("an event")
    kind = query.check(
        "type", lambda t: t if t in EVENT_TYPES else None, "must be a known event type"
    )
    query.raise_errors()
    return EventListing(
        merchant_id=merchant_id,
        limit=DEFAULT_LIMIT if limit is None else limit,
        type=kind,
        starting_after=after,
        ending_before=before,
    )


def event_lookup(event: Mapping[str, Any]) -> tuple[UUID, UUID]:
    """The (merchant id, event id) a GET /merchant/{merchant_id}/events/{event_id} request
    reads: 400 for a path id that is not a UUID, 401/403 for the caller."""
    merchant_id, event_id = path_ids(event, "merchant_id", "event_id")
    authorise(event, merchant_id)
    return merchant_id, event_id


def event_object(stored: StoredEvent) -> Any:
    """The stored event object (its bytes parsed back, unchanged)."""
    return json.loads(stored.body)


def event_response(stored: StoredEvent) -> dict[str, Any]:
    """The 200 answer: the event object."""
    return respond(200, event_object(stored))


def event_page_response(page: EventPage) -> dict[str, Any]:
    """The 200 answer: `{"data": [event objects, newest first], "has_more": bool}`."""
    return respond(200, {"data": [event_object(e) for e in page.events], "has_more": page.has_more})
