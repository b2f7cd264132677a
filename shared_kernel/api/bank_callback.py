"""The bank callback API's wire format: signature check and body parsing into a BankUpdate
in one call, its answer, and the mapping of errors to HTTP answers (the one place for this
API)."""

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
from shared_kernel.application.apply_bank_update import BankUpdate
from shared_kernel.domain.errors import InvalidTransition, PaymentNotFound


def verified_update(event: dict[str, Any], secrets: Sequence[str], now: float) -> BankUpdate:
    """The update in a callback request, once its signature and body are checked.

    HttpError 415/413 for the media type and size, 401 for a bad signature or stale
    timestamp (checked before the body is parsed), 400 naming every field breaking the
    contract.
    """
    raw = checked_body(event)
    if not verify(header(event, "X-Bank-Signature"), raw, secrets, now):
        raise HttpError(401, "unauthorized", "missing or invalid signature")
    body = parse_json(raw)
    errors = contracts.validate("bank-payment-update", body)
    if errors:
        raise HttpError(400, "validation_error", "update is invalid", errors)
    assert isinstance(body, dict)
    return BankUpdate(
        payment_id=UUID(body["payment_request_id"]),
        merchant_id=UUID(body["merchant_id"]),
        outcome=outcome_of(body["status"]),
        bank_reference=body["bank_reference"],
        occurred_at=datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")),
    )


def acknowledged() -> dict[str, Any]:
    """The 200 answer: the update is applied (or the payment already had that status)."""
    return respond(200, {"received": True})


# Every error a callback handler can meet, and its HTTP answer (the one place).
http_errors = apigateway.http_errors(
    {
        PaymentNotFound: lambda _: HttpError(404, "not_found", "no such payment"),
        InvalidTransition: lambda error: HttpError(409, "invalid_transition", str(error)),
    }
)
