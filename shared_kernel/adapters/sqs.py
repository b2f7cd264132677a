"""PaymentQueue on SQS: the message that hands an accepted payment to the bank forwarder.

The body is the `payment-queue-message` contract: ids, a correlation id and the time it was
queued; never card data (the forwarder loads the sealed card from the payments table). The
queue URL is given by the composition root, so publishing is one SendMessage call.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from shared_kernel import contracts
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.ports import QueuedPayment

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

CONTRACT = "payment-queue-message"
MAX_VISIBILITY_TIMEOUT_S = 43_200  # SQS's limit
logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def message_body(message: QueuedPayment, enqueued_at: datetime) -> dict[str, str]:
    """The contract body of a queue message (ids only)."""
    body = {
        "payment_id": str(message.payment_id),
        "merchant_id": str(message.merchant_id),
        "correlation_id": message.correlation_id,
        "enqueued_at": enqueued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if message.action_id is not None:
        body["action_id"] = str(message.action_id)
    return body


class SqsPaymentQueue:
    """Publishes payments to one SQS queue, validating each body against its contract."""

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._clock = clock

    def publish(self, message: QueuedPayment) -> None:
        """Queue one message; raises QueueUnavailable when SQS cannot take it.

        A body that breaks the contract raises ContractViolation: that is a bug, not an outage.
        """
        body = message_body(message, self._clock())
        contracts.assert_valid(CONTRACT, body)
        try:
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=json.dumps(body, separators=(",", ":")),
                MessageAttributes={
                    "correlation_id": {
                        "DataType": "String",
                        "StringValue": message.correlation_id,
                    }
                },
            )
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(f"payment queue unavailable: {type(error).__name__}") from error

    def delay_retry(self, receipt_handle: str, seconds: float) -> bool:
        """Keep a received message invisible for `seconds` (whole, 0..12 h) from now, so its
        next delivery comes after the back-off; False (logged) if SQS refused.

        Used with a partial batch failure: the message is reported failed and comes back
        when this visibility timeout ends instead of the queue's default.
        """
        timeout = min(max(math.ceil(seconds), 0), MAX_VISIBILITY_TIMEOUT_S)
        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=timeout
            )
        except (BotoCoreError, ClientError) as error:
            # The message then comes back after the queue's own visibility timeout.
            logger.warning("could not delay a retry", extra={"error": type(error).__name__})
            return False
        return True


def parse_queued_payment(body: str) -> QueuedPayment:
    """The payment a queue message names; raises ValueError if it breaks the contract."""
    document = contracts.parse_message(CONTRACT, body)
    return QueuedPayment(
        payment_id=UUID(document["payment_id"]),
        merchant_id=UUID(document["merchant_id"]),
        correlation_id=document["correlation_id"],
        action_id=UUID(document["action_id"]) if "action_id" in document else None,
    )
