"""POST /merchant/{merchant_id}/payment/{payment_id}/capture, /void and /refunds — accept a
capture, void or refund of a payment and answer 202 at once (SPEC §8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared_kernel.api.merchant import http_errors
from shared_kernel.api.merchant_actions import accepted_response, action_request
from shared_kernel.application.request_action import RequestAction
from shared_kernel.bootstrap import Gateway, gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("merchant-api")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _handler(route: str, use_case: Callable[[Gateway], RequestAction]) -> Handler:
    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @traced("merchant-api")
    @http_errors
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Parse and validate the request, ask for the action (once per Idempotency-Key),
        answer 202 with the pending action (or the first answer to the key, replayed)."""
        request = action_request(event, route)
        logger.append_keys(
            merchant_id=str(request.merchant_id),
            payment_id=str(request.payment_id),
            correlation_id=request.correlation_id,
        )
        return accepted_response(use_case(gateway())(request))

    return handler


capture = _handler("capture", lambda app: app.request_capture)
void = _handler("void", lambda app: app.request_void)
refund = _handler("refunds", lambda app: app.request_refund)
