"""GET /merchant/{merchant_id}/events/{event_id}/deliveries — the event's webhook delivery
attempts, oldest first (SPEC §10)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.event_deliveries import deliveries_response, event_lookup
from shared_kernel.api.merchant import http_errors
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
    """Parse, authorise, list, answer 200 (404 for an event that is not the merchant's)."""
    merchant_id, event_id = event_lookup(event)
    return deliveries_response(gateway().list_deliveries(merchant_id, event_id))
