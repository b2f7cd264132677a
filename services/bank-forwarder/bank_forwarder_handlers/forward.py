"""SQS → forward each queued payment to the bank, reporting failed records only.

The records of a batch are forwarded concurrently (the bank calls dominate), and the
answer lists the messages to retry (`ReportBatchItemFailures`), so one slow or failing
payment never makes the others run again. Whether a delivery is done or comes back after
its back-off is the use case's decision (application/forward_delivery.py); a message to
retry is held back by that delay (its visibility timeout) here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared_kernel.api.payment_queue import Delivery, batch_response, deliveries
from shared_kernel.application.forward_delivery import RetryAfter
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger
from shared_kernel.observability.metrics import metrics
from shared_kernel.observability.tracing import traced

logger = get_logger("bank-forwarder")
_pool = ThreadPoolExecutor(max_workers=10, thread_name_prefix="forward")


def _done(delivery: Delivery) -> bool:
    """Forward one delivery; True when the message is done, False to have it retried."""
    if delivery.payment is None:
        logger.error("malformed queue message dropped", extra={"message_id": delivery.message_id})
        return True
    app = gateway()
    outcome = app.forward_delivery(delivery.payment, delivery.receive_count)
    if isinstance(outcome, RetryAfter):
        app.queue.delay_retry(delivery.receipt_handle, outcome.seconds)
        return False
    return True


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced("bank-forwarder")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward every record; answer the ids of those to retry."""
    received = deliveries(event)
    _ = gateway().forward_delivery  # build the wiring once, before the threads share it
    return batch_response(received, list(_pool.map(_done, received)))
