"""POST /merchant/{merchant_id}/webhook-endpoints — a new webhook endpoint and its secret,
shown only in this answer (SPEC §10)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.webhook_endpoints import endpoint_creation, with_secret_response
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse and check (the URL's rules included), create once per Idempotency-Key, 201."""
    app = gateway()
    request = endpoint_creation(event, app.check_webhook_url)
    logger.append_keys(merchant_id=str(request.merchant_id))
    created = app.create_webhook_endpoint(request)
    logger.info("webhook endpoint created", extra={"endpoint_id": str(created.endpoint.id)})
    return with_secret_response(201, created)
