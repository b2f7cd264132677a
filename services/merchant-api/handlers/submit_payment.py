"""POST /merchant/{merchant_id}/payments — accept a payment and answer 201 at once."""

from __future__ import annotations

from typing import Any

from shared_kernel.adapters.apigateway import read_json_object, respond
from shared_kernel.api.merchant import (
    authorise,
    correlation_id,
    http_errors,
    path_ids,
    payment_location,
    payment_resource,
    submission_errors,
)
from shared_kernel.bootstrap import gateway
from shared_kernel.domain.errors import ValidationError
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, validate every field, submit, answer with the payment resource."""
    (merchant_id,) = path_ids(event, "merchant_id")
    authorise(event, merchant_id)
    _, body = read_json_object(event)
    app = gateway()
    errors = submission_errors(body, app.clock.now().date())
    if errors:
        raise ValidationError(errors)
    assert isinstance(body, dict)
    correlation = correlation_id(event)
    logger.append_keys(merchant_id=str(merchant_id), correlation_id=correlation)
    payment = app.submit_payment(merchant_id, body, correlation)
    logger.info("payment accepted", extra={"payment_id": str(payment.id)})
    return respond(201, payment_resource(payment), {"Location": payment_location(payment)})
