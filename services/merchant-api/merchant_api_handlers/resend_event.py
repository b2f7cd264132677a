"""POST /merchant/{merchant_id}/events/{event_id}/resend — one new delivery attempt now,
outside the retry schedule, to one endpoint or to each that wants the event (SPEC §10)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.event_deliveries import resend_request, resend_response
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
    """Parse, authorise, queue, answer 202 (404 for an unknown event or endpoint)."""
    merchant_id, event_id, endpoint_id = resend_request(event)
    return resend_response(gateway().resend_event(merchant_id, event_id, endpoint_id))
