"""POST /merchant/{merchant_id}/webhook-endpoints/{endpoint_id}/rotate-secret — a new signing
secret, the previous one live for `expires_in_hours` (SPEC §10)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.webhook_endpoints import secret_rotation, with_secret_response
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse and check, rotate once per Idempotency-Key, answer 200 with the new secret."""
    request = secret_rotation(event)
    logger.append_keys(merchant_id=str(request.merchant_id), endpoint_id=str(request.endpoint_id))
    rotated = gateway().rotate_webhook_secret(request)
    logger.info("webhook secret rotated", extra={"expires_in_hours": request.expires_in_hours})
    return with_secret_response(200, rotated)
