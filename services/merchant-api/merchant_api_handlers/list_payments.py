"""GET /merchant/{merchant_id}/payments — one page of the merchant's payments (SPEC §9)."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.merchant import http_errors, payment_listing, payment_page_response
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("merchant-api")


@logger.inject_lambda_context(clear_state=True)
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse, authorise, list, answer 200 (400 for a bad parameter or cursor)."""
    return payment_page_response(gateway().list_payments(payment_listing(event)))
