"""POST /merchant/{merchant_id}/payments — accept a payment and answer 201 at once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared_kernel.adapters.apigateway import read_json_object
from shared_kernel.api.merchant import (
    authorise,
    correlation_id,
    created_answer,
    http_errors,
    idempotency_key,
    path_ids,
    respond_answer,
    submission_errors,
)
from shared_kernel.application.ports import StoredAnswer
from shared_kernel.bootstrap import gateway
from shared_kernel.domain.errors import PaymentNotFound, ValidationError
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, validate every field and the Idempotency-Key, submit (once per key),
    answer with the payment resource (or the first answer to the key, rebuilt from its
    payment and replayed)."""
    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    _, body = read_json_object(event)
    app = gateway()
    key, key_errors = idempotency_key(event)
    errors = submission_errors(body, app.clock.now().date()) + key_errors
    if errors:
        raise ValidationError(errors)
    assert isinstance(body, dict)
    correlation = correlation_id(event)
    logger.append_keys(merchant_id=str(merchant_id), correlation_id=correlation)

    def submit(payment_id: UUID | None = None, resume: bool = False) -> StoredAnswer:
        payment = app.submit_payment(
            merchant_id, body, correlation, payment_id=payment_id, resume=resume
        )
        logger.info("payment accepted", extra={"payment_id": str(payment.id)})
        return created_answer(payment)

    def replay(payment_id: UUID) -> StoredAnswer | None:
        try:
            return created_answer(app.get_payment(merchant_id, payment_id))
        except PaymentNotFound:
            return None

    if key is None:
        return respond_answer(submit())
    return respond_answer(app.idempotent_submit(merchant_id, key, body, submit, replay))
