"""PaymentQueue's contract, against InMemoryPaymentQueue and SqsPaymentQueue.

Each implementation comes with a reader: what a consumer of the queue receives now, with
receipt handles (the fake's messages, numbered; the SQS queue's, received and parsed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from shared_kernel.adapters.sqs import SqsPaymentQueue, parse_queued_payment
from shared_kernel.application.ports import PaymentQueue, QueuedPayment
from tests.integration.conftest import ClientFactory
from tests.unit.fakes import InMemoryPaymentQueue

from .conftest import BOTH, FAKE, moto_client

Delivery = tuple[QueuedPayment, str]  # a received message and its receipt handle


@dataclass
class QueueUnderTest:
    """A payment queue, and what a consumer receives from it now."""

    queue: PaymentQueue
    receive: Callable[[], list[Delivery]]


def sqs_receiver(sqs: Any, queue_url: str) -> Callable[[], list[Delivery]]:
    """Every message visible on the SQS queue now, parsed, with its receipt handle."""

    def receive() -> list[Delivery]:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [
            (parse_queued_payment(m["Body"]), m["ReceiptHandle"])
            for m in answer.get("Messages", [])
        ]

    return receive


@pytest.fixture(params=BOTH)
def under_test(request: pytest.FixtureRequest) -> QueueUnderTest:
    """An empty queue: the fake, or SqsPaymentQueue on a fresh payments queue."""
    if request.param == FAKE:
        fake = InMemoryPaymentQueue()
        return QueueUnderTest(
            fake, lambda: [(m, f"fake-handle-{n}") for n, m in enumerate(fake.messages)]
        )
    sqs = moto_client(request, "sqs")
    queue_url: str = request.getfixturevalue("queue_url")
    return QueueUnderTest(SqsPaymentQueue(sqs, queue_url), sqs_receiver(sqs, queue_url))


def a_message() -> QueuedPayment:
    """A queue message for a new payment."""
    return QueuedPayment(uuid4(), uuid4(), f"corr-{uuid4().hex[:8]}")


def test_published_messages_are_delivered_as_they_were_published(
    under_test: QueueUnderTest,
) -> None:
    """Each published message reaches the consumer with the same payment, merchant and
    correlation ids."""
    published = {a_message(), a_message()}
    for message in published:
        under_test.queue.publish(message)

    assert published == {message for message, _ in under_test.receive()}


def test_delaying_a_delivered_message_is_accepted(under_test: QueueUnderTest) -> None:
    """delay_retry with the receipt handle of a delivered message answers True."""
    under_test.queue.publish(a_message())
    ((_, handle),) = under_test.receive()

    assert True is under_test.queue.delay_retry(handle, 1.0)


@pytest.mark.integration
def test_a_delayed_message_comes_back_after_its_delay_and_not_before(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """The SQS half only (the fake has no clock: it records the delays asked for, which the
    unit tests check): a message delayed by 2 s is invisible at once, then delivered again
    long before the queue's own visibility timeout (180 s) would bring it back."""
    sqs = aws_client("sqs")
    queue, receive = SqsPaymentQueue(sqs, queue_url), sqs_receiver(sqs, queue_url)
    message = a_message()
    queue.publish(message)
    ((_, handle),) = receive()

    delayed = queue.delay_retry(handle, 2.0)
    at_once = receive()
    time.sleep(2.5)

    assert (True, [], [message]) == (delayed, at_once, [m for m, _ in receive()])
