"""GET /merchant/{merchant_id}/events — one page of the merchant's events (SPEC §10)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.events import event_listing, event_page_response
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
    """Parse, authorise, list, answer 200 (400 for a bad parameter, type or cursor)."""
    return event_page_response(gateway().list_events(event_listing(event)))
