"""Use case: one delivery of a queued payment to the forwarder — forward it, then say whether
the message is done or must come back after its back-off.

The queue delivers a message again until it is done. Each delivery that cannot settle the
payment waits the forwarder's exponential back-off (`Backoff.delay(receive count)`) before
the next; the `max_attempts`-th delivery is the last: forwarding then asks the bank and fails
the payment only if the bank never received it (see forward_payment.py). A delivery that finds
another delivery forwarding the payment (its forward lease is live) comes back when that lease
ends, not after the back-off: by then the payment has moved on or the lease is free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankUnavailable, ForwardingInProgress
from shared_kernel.application.forward_payment import ForwardResult
from shared_kernel.application.ports import NO_METRICS, Metrics, QueuedPayment

logger = logging.getLogger(__name__)

# `forward(message, final_attempt)`: ForwardPayment.
Forward = Callable[[QueuedPayment, bool], ForwardResult]


@dataclass(frozen=True, slots=True)
class Done:
    """The message is settled (whatever the payment's fate): remove it from the queue."""

    result: ForwardResult


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """The payment is not settled: deliver the message again in `seconds`."""

    seconds: float


@dataclass(frozen=True, slots=True)
class ForwardDelivery:
    """Forward a delivered message; any failure to settle it is retried after the back-off."""

    forward: Forward
    backoff: Backoff
    max_attempts: int
    metrics: Metrics = NO_METRICS

    def __call__(self, message: QueuedPayment, receive_count: int) -> Done | RetryAfter:
        """Done, or RetryAfter(the back-off of this delivery, or the rest of another
        delivery's lease); the delivery numbered `max_attempts` (or later) is the final
        attempt."""
        context = {
            "payment_id": str(message.payment_id),
            "merchant_id": str(message.merchant_id),
            "correlation_id": message.correlation_id,
            "attempt": receive_count,
        }
        try:
            result = self.forward(message, receive_count >= self.max_attempts)
        except ForwardingInProgress as busy:
            retry = RetryAfter(busy.retry_in_s)
            logger.info("another delivery is forwarding the payment", extra=_with(context, retry))
            return retry
        except BankUnavailable:
            retry = self._retry(receive_count)
            logger.warning("bank unavailable; will retry", extra=_with(context, retry))
            return retry
        except Exception:
            # Anything else (a table or KMS outage, a bug) leaves the payment as it was:
            # the next delivery tries again, and the reconciler covers the payment anyway.
            retry = self._retry(receive_count)
            logger.exception("forwarding failed; will retry", extra=_with(context, retry))
            return retry
        logger.info("forwarded", extra={**context, "result": result.value})
        return Done(result)

    def _retry(self, receive_count: int) -> RetryAfter:
        self.metrics.count("ForwardRetries")
        return RetryAfter(self.backoff.delay(receive_count))


def _with(context: dict[str, object], retry: RetryAfter) -> dict[str, object]:
    return {**context, "retry_in_s": round(retry.seconds, 1)}
