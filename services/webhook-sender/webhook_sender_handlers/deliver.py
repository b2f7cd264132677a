"""SQS (the webhook queue) → fan each new event out, or make one attempt at one endpoint;
answer the records to retry.

The records of a batch are handled concurrently, so an endpoint that takes its full 10 s
holds up no other endpoint's attempt. What an attempt leads to (done, the next attempt
queued, failed for good) is the use case's decision (application/deliver_webhooks.py); a
record is reported failed only when handling it raised (a table or queue outage): SQS then
delivers it again after the queue's visibility timeout, and the attempt is repeated (its
record overwritten).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared_kernel.api.webhook_queue import WebhookRecord, batch_response, handle, webhook_records
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("webhook-sender")


def _done(record: WebhookRecord) -> bool:
    """Handle one record; True when it is done, False to have SQS deliver it again."""
    if record.message is None:
        logger.error(
            "malformed webhook queue message dropped", extra={"message_id": record.message_id}
        )
        return True
    app = gateway()
    try:
        outcome = handle(record.message, app.fan_out_event, app.deliver_to_endpoint)
    except Exception:
        logger.exception(
            "webhook message not handled; SQS will retry", extra={"message_id": record.message_id}
        )
        return False
    logger.info(
        "webhook message handled", extra={"message_id": record.message_id, "outcome": outcome.value}
    )
    return True


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("webhook-sender")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Handle every record; answer the ids of those to retry."""
    records = webhook_records(event)
    app = gateway()
    _ = (app.fan_out_event, app.deliver_to_endpoint)  # wire once, before the threads share it
    # One thread per record, for this invocation only: no record waits for a thread that
    # another record (or another invocation in the same process, locally) holds.
    with ThreadPoolExecutor(max(len(records), 1), thread_name_prefix="deliver") as pool:
        return batch_response(records, list(pool.map(_done, records)))
