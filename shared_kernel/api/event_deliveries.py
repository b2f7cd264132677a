"""The merchant API's wire side of an event's deliveries (SPEC §10): the requests of
`GET /merchant/{merchant_id}/events/{event_id}/deliveries` and `POST .../resend` parsed into
ids, and their answers (the attempts, oldest first; the endpoints a resend was queued for)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from shared_kernel.adapters.apigateway import raw_body, read_json_object, respond
from shared_kernel.api.merchant import authorise, path_ids, timestamp
from shared_kernel.application.webhook_ports import DeliveryAttempt
from shared_kernel.domain.errors import ValidationError


def event_lookup(event: Mapping[str, Any]) -> tuple[UUID, UUID]:
    """The (merchant id, event id) of the path: 400 for a path id that is not a UUID, then
    401/403 for the caller."""
    merchant_id, event_id = path_ids(event, "merchant_id", "event_id")
    authorise(event, merchant_id)
    return merchant_id, event_id


def attempt_resource(attempt: DeliveryAttempt) -> dict[str, Any]:
    """One attempt as merchants see it (contracts/delivery-attempt-list)."""
    return {
        "endpoint_id": str(attempt.endpoint_id),
        "attempt": attempt.attempt,
        "at": timestamp(attempt.at),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }


def deliveries_response(attempts: Sequence[DeliveryAttempt]) -> dict[str, Any]:
    """The 200 answer: `{"data": [attempts, oldest first]}`."""
    return respond(200, {"data": [attempt_resource(a) for a in attempts]})


def resend_request(event: Mapping[str, Any]) -> tuple[UUID, UUID, UUID | None]:
    """(merchant id, event id, endpoint id or None) of a resend, checked in order: the path
    (400), the caller (401, 403), then a body if there is one (415, 413, 400; the
    resend-request contract). No body at all means every subscribed endpoint."""
    from shared_kernel import contracts

    merchant_id, event_id = event_lookup(event)
    if not raw_body(event):
        return merchant_id, event_id, None
    _, body = read_json_object(event)
    problems = contracts.validate("resend-request", body)
    if problems:
        raise ValidationError(problems)
    assert isinstance(body, dict)
    endpoint = body.get("endpoint_id")
    return merchant_id, event_id, None if endpoint is None else UUID(endpoint)


def resend_response(endpoint_ids: Sequence[UUID]) -> dict[str, Any]:
    """The 202 answer: the endpoints a new attempt was queued for."""
    return respond(202, {"endpoint_ids": [str(e) for e in endpoint_ids]})
