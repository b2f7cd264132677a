"""SqsPaymentQueue against SQS (moto server), and the forwarder's parser of its messages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from uuid import UUID

import pytest

from shared_kernel.adapters.sqs import SqsPaymentQueue, parse_queued_payment
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.ports import QueuedPayment
from shared_kernel.contracts import ContractViolation, validate

from .conftest import ClientFactory, unreachable_sqs

pytestmark = pytest.mark.integration

MESSAGE = QueuedPayment(
    payment_id=UUID("3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a"),
    merchant_id=UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b"),
    correlation_id="req-7f3d",
)
ENQUEUED_AT = datetime(2026, 11, 26, 10, 0, 0, 987654, tzinfo=UTC)
CARD_DIGITS = re.compile(r"[0-9]{12,19}")


def fixed_clock() -> datetime:
    """Always 2026-11-26T10:00:00.987654Z."""
    return ENQUEUED_AT


def test_a_published_message_carries_exactly_the_contract_body(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """The received body is the payment-queue-message contract (ids only, no card digits),
    with the correlation id also as a message attribute; the forwarder parses it back."""
    sqs = aws_client("sqs")
    SqsPaymentQueue(sqs, queue_url, clock=fixed_clock).publish(MESSAGE)

    received = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]

    assert 1 == len(received)
    body = received[0]["Body"]
    expected = {
        "payment_id": "3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a",
        "merchant_id": "6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b",
        "correlation_id": "req-7f3d",
        "enqueued_at": "2026-11-26T10:00:00Z",
    }
    assert expected == json.loads(body)
    assert [] == validate("payment-queue-message", json.loads(body))
    assert None is CARD_DIGITS.search(body)
    assert {"DataType": "String", "StringValue": "req-7f3d"} == received[0]["MessageAttributes"][
        "correlation_id"
    ]
    assert MESSAGE == parse_queued_payment(body)


def test_a_message_for_an_action_carries_its_action_id(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """A capture, void or refund travels as the payment's message plus its action id, and
    parses back to the same message."""
    sqs = aws_client("sqs")
    message = QueuedPayment(
        payment_id=MESSAGE.payment_id,
        merchant_id=MESSAGE.merchant_id,
        correlation_id="req-7f3e",
        action_id=UUID("5b0e3c1d-8f2a-4d6e-9a7b-1c2d3e4f5a6b"),
    )
    SqsPaymentQueue(sqs, queue_url, clock=fixed_clock).publish(message)

    body = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"][0]["Body"]

    assert "5b0e3c1d-8f2a-4d6e-9a7b-1c2d3e4f5a6b" == json.loads(body)["action_id"]
    assert [] == validate("payment-queue-message", json.loads(body))
    assert message == parse_queued_payment(body)


def test_an_unreachable_endpoint_raises_queue_unavailable(aws_client: ClientFactory) -> None:
    """Connection errors become QueueUnavailable, so submit can leave it to the reconciler."""
    sqs, closed = unreachable_sqs(aws_client)
    queue = SqsPaymentQueue(sqs, f"{closed}/123456789012/payments")

    with pytest.raises(QueueUnavailable):
        queue.publish(MESSAGE)


def test_an_sqs_error_answer_raises_queue_unavailable(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """An error answer from SQS (here: the queue no longer exists) is QueueUnavailable too."""
    sqs = aws_client("sqs")
    sqs.delete_queue(QueueUrl=queue_url)

    with pytest.raises(QueueUnavailable):
        SqsPaymentQueue(sqs, queue_url).publish(MESSAGE)


def test_a_message_breaking_the_contract_is_never_sent(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """The body is validated before SendMessage: an empty correlation id raises
    ContractViolation and the queue stays empty."""
    sqs = aws_client("sqs")

    with pytest.raises(ContractViolation):
        SqsPaymentQueue(sqs, queue_url).publish(
            QueuedPayment(MESSAGE.payment_id, MESSAGE.merchant_id, "")
        )

    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param('{"payment_id": "3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a"}', id="missing"),
        pytest.param(
            json.dumps(
                {
                    "payment_id": "3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a",
                    "merchant_id": "6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b",
                    "correlation_id": "req-7f3d",
                    "enqueued_at": "2026-11-26T10:00:00Z",
                    "card_number": "4242424242424242",
                }
            ),
            id="extra-card-number",
        ),
    ],
)
def test_a_message_breaking_the_contract_is_not_parsed(body: str) -> None:
    """parse_queued_payment raises ValueError naming the problem, never echoing the values."""
    with pytest.raises(ValueError, match="payment-queue-message") as raised:
        parse_queued_payment(body)

    assert "4242424242424242" not in str(raised.value)
