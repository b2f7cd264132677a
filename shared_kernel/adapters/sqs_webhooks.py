"""WebhookQueue on SQS: the messages between the events recorder (and the resend route) and
the webhook sender, each a `webhook-queue-message` body (ids only).

`fan_out` hands over a new event; `deliver` one attempt at one endpoint, after a delay. An SQS
message can be delayed at most 900 s: a longer wait of the retry schedule is several hops,
which the sender makes (each `deliver` carries the due time, `not_before`), so a longer delay
here is refused rather than shortened. `parse_webhook_message` is the consumer's side of the
same contract.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from shared_kernel import contracts
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.webhook_ports import EndpointDelivery, FanOut

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

CONTRACT = "webhook-queue-message"
MAX_DELAY_S = 900  # SQS's limit on DelaySeconds
FAN_OUT = "fan_out"
DELIVER = "deliver"
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def _whole_second_up(moment: datetime) -> datetime:
    """`moment` rounded up to its second: a due time is never brought forward."""
    whole = moment.astimezone(UTC).replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def message_body(message: FanOut | EndpointDelivery) -> dict[str, Any]:
    """The contract body of a webhook queue message."""
    body: dict[str, Any] = {
        "kind": FAN_OUT if isinstance(message, FanOut) else DELIVER,
        "event_id": str(message.event_id),
        "merchant_id": str(message.merchant_id),
    }
    if isinstance(message, EndpointDelivery):
        body.update(
            endpoint_id=str(message.endpoint_id), attempt=message.attempt, resend=message.resend
        )
        if message.not_before is not None:
            body["not_before"] = _whole_second_up(message.not_before).strftime(_TIMESTAMP)
    return body


class SqsWebhookQueue:
    """Sends webhook queue messages to one SQS queue, each body checked against its contract."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def fan_out(self, message: FanOut) -> None:
        """Queue a new event for its merchant's endpoints; raises QueueUnavailable."""
        self._send(message, 0)

    def deliver(self, message: EndpointDelivery, delay_s: float = 0) -> None:
        """Queue one attempt, visible after `delay_s` (rounded up to whole seconds);
        raises QueueUnavailable, or ValueError for a delay SQS cannot make (over 900 s)."""
        delay = max(math.ceil(delay_s), 0)
        if delay > MAX_DELAY_S:
            raise ValueError(f"an SQS delay is at most {MAX_DELAY_S} s, not {delay_s}")
        self._send(message, delay)

    def _send(self, message: FanOut | EndpointDelivery, delay: int) -> None:
        body = message_body(message)
        contracts.assert_valid(CONTRACT, body)
        try:
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=json.dumps(body, separators=(",", ":")),
                DelaySeconds=delay,
            )
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(f"webhook queue unavailable: {type(error).__name__}") from error


def parse_webhook_message(body: str) -> FanOut | EndpointDelivery:
    """The message a webhook queue body holds; raises ValueError if it breaks the contract."""
    document = contracts.parse_message(CONTRACT, body)
    event_id, merchant_id = UUID(document["event_id"]), UUID(document["merchant_id"])
    if document["kind"] == FAN_OUT:
        return FanOut(event_id, merchant_id)
    not_before = document.get("not_before")
    return EndpointDelivery(
        event_id,
        merchant_id,
        UUID(document["endpoint_id"]),
        int(document["attempt"]),
        bool(document["resend"]),
        None
        if not_before is None
        else datetime.strptime(not_before, _TIMESTAMP).replace(tzinfo=UTC),
    )
