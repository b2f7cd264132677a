"""WebhookQueue on SQS (moto): both message kinds reach a consumer as the contract's bodies,
a delivery's delay holds it back, and a delay SQS cannot make is refused."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from shared_kernel import contracts
from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue, parse_webhook_message
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.webhook_ports import EndpointDelivery, FanOut

from .conftest import ClientFactory

pytestmark = pytest.mark.integration


def received(sqs: object, url: str) -> list[str]:
    """The bodies visible on the queue now."""
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # type: ignore[attr-defined]
    return [m["Body"] for m in answer.get("Messages", [])]


def test_a_fan_out_and_a_delivery_arrive_as_contract_bodies(
    queues: dict[str, str], aws_client: ClientFactory
) -> None:
    """Each message is one contract-valid body that parses back to what was sent."""
    sqs, url = aws_client("sqs"), queues["WebhookQueue"]
    queue = SqsWebhookQueue(sqs, url)
    fan_out = FanOut(uuid4(), uuid4())
    delivery = EndpointDelivery(uuid4(), uuid4(), uuid4(), attempt=3, resend=True)

    queue.fan_out(fan_out)
    queue.deliver(delivery)
    bodies = received(sqs, url)

    assert [[], []] == [contracts.validate("webhook-queue-message", json.loads(b)) for b in bodies]
    assert {fan_out, delivery} == {parse_webhook_message(b) for b in bodies}


def test_a_delayed_delivery_is_not_visible_before_its_delay(
    queues: dict[str, str], aws_client: ClientFactory
) -> None:
    """deliver(delay_s=60) sends with DelaySeconds 60: nothing is visible at once."""
    sqs, url = aws_client("sqs"), queues["WebhookQueue"]

    SqsWebhookQueue(sqs, url).deliver(EndpointDelivery(uuid4(), uuid4(), uuid4(), 2), 59.2)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert [] == received(sqs, url)
    assert "1" == attributes["ApproximateNumberOfMessagesDelayed"]


def test_a_delay_over_fifteen_minutes_is_refused_and_nothing_is_sent(
    queues: dict[str, str], aws_client: ClientFactory
) -> None:
    """SQS delays at most 900 s: a longer wait is the sender's hops, never a shorter delay."""
    sqs, url = aws_client("sqs"), queues["WebhookQueue"]

    with pytest.raises(ValueError, match="at most 900"):
        SqsWebhookQueue(sqs, url).deliver(EndpointDelivery(uuid4(), uuid4(), uuid4(), 5), 901)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert ("0", "0") == (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesDelayed"],
    )


def test_an_unreachable_queue_raises_queue_unavailable(aws_client: ClientFactory) -> None:
    """A queue that does not exist is QueueUnavailable (the recorder's change is retried)."""
    sqs = aws_client("sqs", retries={"max_attempts": 1})

    with pytest.raises(QueueUnavailable):
        SqsWebhookQueue(sqs, "http://127.0.0.1:1/000000000000/none").fan_out(
            FanOut(uuid4(), uuid4())
        )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"kind": "fan_out", "event_id": str(uuid4())}),
        json.dumps(
            {"kind": "fan_out", "event_id": str(uuid4()), "merchant_id": str(uuid4()), "attempt": 1}
        ),
        json.dumps({"kind": "deliver", "event_id": str(uuid4()), "merchant_id": str(uuid4())}),
    ],
    ids=["not-json", "no-merchant", "fan-out-with-attempt", "deliver-without-endpoint"],
)
def test_a_body_that_breaks_the_contract_is_a_value_error(body: str) -> None:
    """The consumer's parser refuses what the contract does not allow."""
    with pytest.raises(ValueError, match="webhook-queue-message"):
        parse_webhook_message(body)
