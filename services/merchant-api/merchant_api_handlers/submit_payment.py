"""POST /merchant/{merchant_id}/payments — accept a payment and answer 201 at once."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors, submission, submitted_response
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
    """Parse and validate the request, submit it (once per Idempotency-Key), answer with the
    payment resource (or the first answer to the key, rebuilt from its payment, replayed)."""
    app = gateway()
    request = submission(event, app.clock.now().date())
    logger.append_keys(merchant_id=str(request.merchant_id), correlation_id=request.correlation_id)
    return submitted_response(app.submit_once_per_key(request))
