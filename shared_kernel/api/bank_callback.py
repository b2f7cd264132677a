"""The bank callback API's wire format: signature check and body parsing into a BankUpdate
(or, for an action, an ActionUpdate) in one call, its answer, and the mapping of errors to
HTTP answers (the one place for this API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from shared_kernel import contracts
from shared_kernel.adapters import apigateway
from shared_kernel.adapters.apigateway import HttpError, checked_body, header, parse_json, respond
from shared_kernel.adapters.bank.signature import verify
from shared_kernel.adapters.bank.transformers import outcome_of
from shared_kernel.application.apply_action_update import ActionUpdate
from shared_kernel.application.apply_bank_update import BankUpdate
from shared_kernel.domain.action import ActionType
from shared_kernel.domain.errors import ActionNotFound, InvalidTransition, PaymentNotFound


def verified_update(event: dict[str, Any], secrets: Sequence[str], now: float) -> BankUpdate:
    """The payment update in a callback request, once its signature and body are checked.

    HttpError 415/413 for the media type and size, 401 for a bad signature or stale
    timestamp (checked before the body is parsed), 400 naming every field breaking the
    contract.
    """
    body = _verified_body(event, secrets, now, "bank-payment-update")
    return BankUpdate(
        payment_id=UUID(body["payment_request_id"]),
        merchant_id=UUID(body["merchant_id"]),
        outcome=outcome_of(body["status"]),
        bank_reference=body["bank_reference"],
        occurred_at=_timestamp(body["occurred_at"]),
    )


def verified_action_update(
    event: dict[str, Any], secrets: Sequence[str], now: float
) -> ActionUpdate:
    """The action update in a callback request (SPEC §8), checked as `verified_update`
    checks a payment update."""
    body = _verified_body(event, secrets, now, "bank-action-update")
    return ActionUpdate(
        payment_id=UUID(body["payment_request_id"]),
        merchant_id=UUID(body["merchant_id"]),
        action_id=UUID(body["action_id"]),
        type=ActionType(body["type"]),
        succeeded=body["status"] == "SUCCEEDED",
        occurred_at=_timestamp(body["occurred_at"]),
    )


def _verified_body(
    event: dict[str, Any], secrets: Sequence[str], now: float, contract: str
) -> dict[str, Any]:
    # The signature is checked on the raw bytes before anything is parsed.
    raw = checked_body(event)
    if not verify(header(event, "X-Bank-Signature"), raw, secrets, now):
        raise HttpError(401, "unauthorized", "missing or invalid signature")
    body = parse_json(raw)
    errors = contracts.validate(contract, body)
    if errors:
        raise HttpError(400, "validation_error", "update is invalid", errors)
    assert isinstance(body, dict)
    return body


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def acknowledged() -> dict[str, Any]:
    """The 200 answer: the update is applied (or the payment or action already had it)."""
    return respond(200, {"received": True})


# Every error a callback handler can meet, and its HTTP answer (the one place).
http_errors = apigateway.http_errors(
    {
        PaymentNotFound: lambda _: HttpError(404, "not_found", "no such payment"),
        ActionNotFound: lambda _: HttpError(404, "not_found", "no such action"),
        InvalidTransition: lambda error: HttpError(409, "invalid_transition", str(error)),
    }
)
