"""SQS → forward each queued payment to the bank, reporting failed records only.

The records of a batch are forwarded concurrently (the bank calls dominate), and the
answer lists the messages to retry (`ReportBatchItemFailures`), so one slow or failing
payment never makes the others run again. A message to retry first gets the visibility
timeout of its exponential back-off (FORWARD_BACKOFF_BASE_S doubling per receive, at most
FORWARD_BACKOFF_CAP_S, jittered); its FORWARD_MAX_ATTEMPTS-th receive is the last: the
use case then asks the bank and fails the payment only if the bank never received it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared_kernel.adapters.sqs import parse_queued_payment
from shared_kernel.application.errors import BankUnavailable
from shared_kernel.bootstrap import gateway
from shared_kernel.observability.logging import get_logger

logger = get_logger("bank-forwarder")
_pool = ThreadPoolExecutor(max_workers=10, thread_name_prefix="forward")


def _forward(record: dict[str, Any]) -> bool:
    """Forward one record; True when the message is done, False to have it retried."""
    app = gateway()
    try:
        message = parse_queued_payment(record["body"])
    except ValueError:
        logger.error("malformed queue message dropped", extra={"message_id": record["messageId"]})
        return True
    attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    final = attempt >= app.settings.forward_max_attempts
    context = {
        "payment_id": str(message.payment_id),
        "merchant_id": str(message.merchant_id),
        "correlation_id": message.correlation_id,
        "attempt": attempt,
    }
    try:
        result = app.forward_payment(message, final_attempt=final)
    except BankUnavailable:
        logger.warning("bank unavailable; will retry", extra=_retry_later(record, attempt, context))
        return False
    except Exception:
        logger.exception(
            "forwarding failed; will retry", extra=_retry_later(record, attempt, context)
        )
        return False
    logger.info("forwarded", extra={**context, "result": result.value})
    return True


def _retry_later(record: dict[str, Any], attempt: int, context: dict[str, Any]) -> dict[str, Any]:
    """Hold the message back for the exponential back-off of this attempt (its visibility
    timeout); the log context, with the delay."""
    app = gateway()
    delay = app.forward_backoff.delay(attempt)
    app.sqs_queue.delay_retry(record["receiptHandle"], delay)
    return {**context, "retry_in_s": round(delay, 1)}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward every record; answer the ids of those to retry."""
    records = event.get("Records") or []
    _ = gateway().forward_payment  # build the wiring once, before the threads share it
    done = list(_pool.map(_forward, records))
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record, ok in zip(records, done, strict=True)
        if not ok
    ]
    return {"batchItemFailures": failures}
