"""The bank callback API's wire format: signature check, body parsing into a BankUpdate,
and the mapping of errors to HTTP answers (the one place for this API)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import wraps
from typing import Any
from uuid import UUID

from shared_kernel import contracts
from shared_kernel.adapters.apigateway import (
    MAX_BODY_BYTES,
    HttpError,
    header,
    internal_error,
    raw_body,
    read_json_object,
    respond_error,
)
from shared_kernel.adapters.bank.signature import verify
from shared_kernel.adapters.bank.transformers import outcome_of
from shared_kernel.application.apply_bank_update import BankUpdate
from shared_kernel.domain.errors import InvalidTransition, PaymentNotFound

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def verified_update(event: dict[str, Any], secrets: Sequence[str], now: float) -> BankUpdate:
    """The update in a callback request, once its signature and body are checked.

    HttpError 415/413 for the media type and size, 401 for a bad signature or stale
    timestamp (checked before the body is parsed), 400 naming every field breaking the
    contract.
    """
    content_type = (header(event, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = raw_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise HttpError(413, "payload_too_large", f"body is over {MAX_BODY_BYTES} bytes")
    if not verify(header(event, "X-Bank-Signature"), raw, secrets, now):
        raise HttpError(401, "unauthorized", "missing or invalid signature")
    _, body = read_json_object(event)
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


def http_errors(handler: Handler) -> Handler:
    """Map every error a callback handler can meet to its HTTP answer."""

    @wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handler(event, context)
        except HttpError as error:
            return respond_error(error)
        except PaymentNotFound:
            return respond_error(HttpError(404, "not_found", "no such payment"))
        except InvalidTransition as error:
            return respond_error(HttpError(409, "invalid_transition", str(error)))
        except Exception:
            logger.exception("unhandled error")
            return internal_error()

    return wrapper
