"""The merchant API's wire format for a payment's captures, voids and refunds (SPEC §8):
each request parsed (path ids, the authorised merchant, the body against its route's
contract, Idempotency-Key, correlation id) into one typed request in one call, and each
result mapped to its answer (the action resource, the list of them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared_kernel.adapters.apigateway import read_json_object, respond
from shared_kernel.api.merchant import (
    authorise,
    correlation_id,
    first_answer,
    idempotency_key,
    path_ids,
    timestamp,
)
from shared_kernel.domain.action import ActionStatus, PaymentAction, RefundReason
from shared_kernel.domain.errors import ValidationError

if TYPE_CHECKING:
    from shared_kernel.application.request_action import ActionAccepted, ActionRequest

# The contract of each POST route's body, by its last path segment.
REQUEST_CONTRACTS = {
    "capture": "capture-request",
    "void": "void-request",
    "refunds": "refund-request",
}


def action_resource(action: PaymentAction) -> dict[str, Any]:
    """The action as merchants see it."""
    return {
        "id": str(action.id),
        "payment_id": str(action.payment_id),
        "merchant_id": str(action.merchant_id),
        "type": action.type.value,
        "status": action.status.value,
        "amount": action.money.amount,
        "currency": action.money.currency,
        "reason": None if action.reason is None else action.reason.value,
        "failure_reason": None if action.failure_reason is None else action.failure_reason.value,
        "created_at": timestamp(action.created_at),
        "updated_at": timestamp(action.updated_at),
    }


def accepted_resource(action: PaymentAction) -> dict[str, Any]:
    """The action resource as it was when the action was accepted (pending, unchanged since
    `created_at`), whatever has happened to it since: the first answer, replayed."""
    return {
        **action_resource(action),
        "status": ActionStatus.PENDING.value,
        "failure_reason": None,
        "updated_at": timestamp(action.created_at),
    }


def action_location(action: PaymentAction) -> str:
    """The action's path, for the Location header."""
    return f"/merchant/{action.merchant_id}/payment/{action.payment_id}/actions/{action.id}"


def action_request(event: Mapping[str, Any], route: str) -> ActionRequest:
    """The request a POST /merchant/{merchant_id}/payment/{payment_id}/<route> makes
    (`route`: capture, void or refunds), checked in order: the path (400), the caller (401,
    403), the media type, size and JSON syntax (415, 413, 400), then every field of the body
    and the Idempotency-Key together (ValidationError, 400)."""
    # Imported here: only the action routes build one, and they all validate a body.
    from shared_kernel import contracts
    from shared_kernel.application.request_action import ActionRequest

    merchant_id, payment_id = path_ids(event, "merchant_id", "payment_id")
    authorise(event, merchant_id)
    _, body = read_json_object(event)
    key, key_errors = idempotency_key(event)
    errors = contracts.validate(REQUEST_CONTRACTS[route], body) + key_errors
    if errors:
        raise ValidationError(errors)
    assert isinstance(body, dict)
    amount, reason = body.get("amount"), body.get("reason")
    return ActionRequest(
        merchant_id=merchant_id,
        payment_id=payment_id,
        correlation_id=correlation_id(event),
        amount=amount if isinstance(amount, int) else None,
        reason=None if reason is None else RefundReason(reason),
        body=body,
        idempotency_key=key,
    )


def accepted_response(accepted: ActionAccepted) -> dict[str, Any]:
    """The 202 answer, the same first and on every replay: the action as accepted and its
    Location; a replay also says `Idempotent-Replayed: true`."""
    action = accepted.action
    return first_answer(202, accepted_resource(action), action_location(action), accepted.replayed)


def action_lookup(event: Mapping[str, Any]) -> tuple[UUID, UUID, UUID]:
    """The (merchant, payment, action) ids a GET .../actions/{action_id} reads: 400 for a
    path id that is not a UUID, 401/403 for the caller."""
    merchant_id, payment_id, action_id = path_ids(event, "merchant_id", "payment_id", "action_id")
    authorise(event, merchant_id)
    return merchant_id, payment_id, action_id


def action_response(action: PaymentAction) -> dict[str, Any]:
    """The 200 answer: the action resource."""
    return respond(200, action_resource(action))


def action_list_response(actions: Sequence[PaymentAction]) -> dict[str, Any]:
    """The 200 answer: `{"data": [action resources, oldest first]}`."""
    return respond(200, {"data": [action_resource(a) for a in actions]})
