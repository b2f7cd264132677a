"""GET /merchant/{merchant_id}/payment/{payment_id}/actions/{action_id} — one action."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.merchant_actions import action_lookup, action_response
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("merchant-api")
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, read, answer 200 (404 for another merchant's payment or an
    unknown action)."""
    merchant_id, payment_id, action_id = action_lookup(event)
    return action_response(gateway().get_action(merchant_id, payment_id, action_id))
