"""DynamoDB Streams (payments table) → record the merchants' events of each change and fan
each out to the webhook queue (SPEC §10, docs/events.md), reporting the first failed record."""

from __future__ import annotations

from typing import Any

from shared_kernel.api.payment_stream import record_changes
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("events")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("events")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record every change of the batch; answer the sequence number to resume from."""
    return record_changes(event, gateway().record_events)
