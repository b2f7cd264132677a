"""GET /merchant/{merchant_id}/webhook-endpoints — the merchant's endpoints, no secrets."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.webhook_endpoints import endpoint_list_response, endpoints_merchant
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, list, answer 200."""
    return endpoint_list_response(gateway().list_webhook_endpoints(endpoints_merchant(event)))
