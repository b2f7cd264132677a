"""DELETE /merchant/{merchant_id}/webhook-endpoints/{endpoint_id} — no more events to it."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.webhook_endpoints import deleted_response, endpoint_path
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, delete, answer 204 (404 for no such endpoint of this merchant)."""
    merchant_id, endpoint_id = endpoint_path(event)
    gateway().delete_webhook_endpoint(merchant_id, endpoint_id)
    logger.info(
        "webhook endpoint deleted",
        extra={"merchant_id": str(merchant_id), "endpoint_id": str(endpoint_id)},
    )
    return deleted_response()
