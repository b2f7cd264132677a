"""SqsWebhookQueue against SQS (moto server) and the sender's parser of both message kinds;
the deliveries table's TTL attribute as DynamoDeliveryLog writes it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from shared_kernel import contracts
from shared_kernel.adapters.dynamodb.deliveries import DynamoDeliveryLog
from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue, parse_webhook_message
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.webhook_ports import DeliveryAttempt, EndpointDelivery, FanOut

from .conftest import ClientFactory, Tables, unreachable_sqs

pytestmark = pytest.mark.integration

EVENT = UUID("0f8b3a52-1c2d-4e3f-9a4b-5c6d7e8f9a0b")
MERCHANT = UUID("2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f")
ENDPOINT = UUID("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


def receive(sqs: object, url: str, wait_s: int = 1) -> list[str]:
    """The bodies of the messages visible now (deleted once read)."""
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)  # type: ignore[attr-defined]
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]
    return [m["Body"] for m in messages]


@pytest.fixture
def webhook_queue(queues: dict[str, str]) -> str:
    """A fresh webhook queue made from the template's WebhookQueue."""
    return queues["WebhookQueue"]


def test_both_kinds_round_trip_through_sqs(aws_client: ClientFactory, webhook_queue: str) -> None:
    """A fan-out and a delivery (with a due time, rounded up to its second) come back as the
    messages sent, each body valid against webhook-queue-message."""
    sqs = aws_client("sqs")
    queue = SqsWebhookQueue(sqs, webhook_queue)
    due = datetime(2026, 11, 26, 12, 0, 0, 250000, tzinfo=UTC)
    queue.fan_out(FanOut(EVENT, MERCHANT))
    queue.deliver(EndpointDelivery(EVENT, MERCHANT, ENDPOINT, 5, False, due))

    bodies = sorted(receive(sqs, webhook_queue), key=len)

    assert (
        [[], []],
        [
            FanOut(EVENT, MERCHANT),
            EndpointDelivery(
                EVENT,
                MERCHANT,
                ENDPOINT,
                5,
                False,
                due.replace(microsecond=0) + timedelta(seconds=1),
            ),
        ],
    ) == (
        [contracts.validate("webhook-queue-message", json.loads(b)) for b in bodies],
        [parse_webhook_message(b) for b in bodies],
    )


def test_a_delayed_delivery_stays_invisible_for_its_delay(
    aws_client: ClientFactory, webhook_queue: str
) -> None:
    """deliver(delay_s=2): nothing visible at once, the message after the delay."""
    sqs = aws_client("sqs")
    SqsWebhookQueue(sqs, webhook_queue).deliver(EndpointDelivery(EVENT, MERCHANT, ENDPOINT, 2), 2)

    at_once = receive(sqs, webhook_queue, wait_s=0)
    time.sleep(2.2)
    later = receive(sqs, webhook_queue)

    assert ([], [EndpointDelivery(EVENT, MERCHANT, ENDPOINT, 2)]) == (
        at_once,
        [parse_webhook_message(b) for b in later],
    )


def test_a_delay_longer_than_sqs_allows_is_refused(
    aws_client: ClientFactory, webhook_queue: str
) -> None:
    """901 s cannot be one SQS delay: ValueError, nothing sent (the sender hops instead)."""
    sqs = aws_client("sqs")
    with pytest.raises(ValueError, match="at most 900"):
        SqsWebhookQueue(sqs, webhook_queue).deliver(
            EndpointDelivery(EVENT, MERCHANT, ENDPOINT, 4), 901
        )

    assert [] == receive(sqs, webhook_queue, wait_s=0)


@pytest.mark.parametrize(
    "body",
    [
        f'{{"kind": "deliver", "event_id": "{EVENT}", "merchant_id": "{MERCHANT}"}}',
        f'{{"kind": "fan_out", "event_id": "{EVENT}", "merchant_id": "{MERCHANT}", "attempt": 2}}',
        f'{{"kind": "fan_out", "event_id": "{EVENT}", "merchant_id": "{MERCHANT}",'
        ' "not_before": "2026-11-26T12:00:00Z"}',
        "not json",
    ],
    ids=["deliver-without-endpoint", "fan-out-with-attempt", "fan-out-with-due-time", "not-json"],
)
def test_a_body_breaking_the_contract_is_refused_by_the_parser(body: str) -> None:
    """The sender drops what the contract refuses rather than guessing."""
    with pytest.raises(ValueError, match="webhook-queue-message"):
        parse_webhook_message(body)


def test_an_unreachable_queue_raises_queue_unavailable(aws_client: ClientFactory) -> None:
    """Connection errors become QueueUnavailable (the message being handled is then retried)."""
    sqs, closed = unreachable_sqs(aws_client)
    with pytest.raises(QueueUnavailable):
        SqsWebhookQueue(sqs, f"{closed}/123456789012/webhooks").fan_out(FanOut(EVENT, MERCHANT))


def test_each_attempt_expires_30_days_after_it_was_made(
    tables: Tables, aws_client: ClientFactory
) -> None:
    """The stored item's TTL attribute expires_at is the attempt's time + 30 days (epoch s)."""
    at = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)
    DynamoDeliveryLog(tables.dynamodb(), tables.deliveries).record(
        DeliveryAttempt(EVENT, ENDPOINT, 1, at, 200, None, 15)
    )

    item = aws_client("dynamodb").get_item(
        TableName=tables.deliveries,
        Key={"event_id": {"S": str(EVENT)}, "attempt_key": {"S": f"{ENDPOINT}#001"}},
    )["Item"]

    assert str(int((at + timedelta(days=30)).timestamp())) == item["expires_at"]["N"]
