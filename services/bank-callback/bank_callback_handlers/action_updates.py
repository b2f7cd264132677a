"""POST /bank/action-updates — the bank reports a capture's, void's or refund's end (signed)."""

from __future__ import annotations

import time
from typing import Any

from shared_kernel.api.bank_callback import acknowledged, http_errors, verified_action_update
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("bank-callback")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("bank-callback")
@http_errors
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Verify, parse, apply; 200 also for a repeat of the end the action already has."""
    app = gateway()
    update = verified_action_update(event, app.callback_secrets(), time.time())
    logger.append_keys(
        payment_id=str(update.payment_id),
        merchant_id=str(update.merchant_id),
        action_id=str(update.action_id),
    )
    # The use case logs the update once ("action update applied" / "already applied").
    app.apply_action_update(update)
    return acknowledged()
