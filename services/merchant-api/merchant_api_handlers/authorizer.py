"""Lambda TOKEN authorizer: `Authorization: Bearer <api key>` → the merchant that owns it.

Allows the whole API for a known key (so API Gateway can cache the policy per key) and
passes the merchant id in the context; handlers compare it with the path (403).
"""

from __future__ import annotations

from typing import Any

from shared_kernel.api.authorizer import allow, token_request
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("merchant-api")


@metrics.log_metrics
@traced("merchant-api")
def handler(event: dict[str, Any], context: Any) -> Any:
    """Resolve the bearer key; 401 for a missing or unknown key, or when the lookup fails."""
    request = token_request(event)
    app = gateway()
    merchant_id = None
    if request.api_key is not None:
        try:
            merchant_id = app.authenticate_merchant(request.api_key)
        except Exception:
            logger.exception("authorizer failed")
    if merchant_id is None:
        return app.unauthorized()
    return allow(merchant_id, request.method_arn)
