"""DeadLetterQueue's contract, against FakeDeadLetterQueue and SqsDeadLetterQueue.

Each implementation comes with a way for a letter to arrive in the dead-letter queue and a
reader of what the payment queue holds (body and attributes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from shared_kernel.adapters.sqs_dead_letters import SqsDeadLetterQueue
from shared_kernel.application.ports import DeadLetterQueue
from tests.unit.fakes import FakeDeadLetterQueue

from .conftest import BOTH, FAKE, moto_client

Attributes = Mapping[str, object]


@dataclass
class DeadLettersUnderTest:
    """A dead-letter queue, how a letter arrives in it, and what the payment queue holds."""

    dead_letters: DeadLetterQueue
    arrive: Callable[[str, Attributes], None]
    on_payment_queue: Callable[[], list[tuple[str, Attributes]]]


def fake_under_test() -> DeadLettersUnderTest:
    """The fake, empty."""
    fake = FakeDeadLetterQueue([])

    def arrive(body: str, attributes: Attributes) -> None:
        fake.waiting.append(body)
        fake.attributes[body] = attributes

    return DeadLettersUnderTest(
        fake, arrive, lambda: [(letter.body, letter.attributes) for letter in fake.sent]
    )


def sqs_under_test(sqs: Any, queues: dict[str, str]) -> DeadLettersUnderTest:
    """SqsDeadLetterQueue on fresh queues of the template."""
    dead_letter_url, queue_url = queues["PaymentsDeadLetterQueue"], queues["PaymentsQueue"]

    def arrive(body: str, attributes: Attributes) -> None:
        sqs.send_message(QueueUrl=dead_letter_url, MessageBody=body, MessageAttributes=attributes)

    def on_payment_queue() -> list[tuple[str, Attributes]]:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return [(m["Body"], m.get("MessageAttributes", {})) for m in answer.get("Messages", [])]

    return DeadLettersUnderTest(
        SqsDeadLetterQueue(sqs, dead_letter_url, queue_url), arrive, on_payment_queue
    )


@pytest.fixture(params=BOTH)
def under_test(request: pytest.FixtureRequest) -> DeadLettersUnderTest:
    """An empty dead-letter queue: the fake, or the SQS one."""
    if request.param == FAKE:
        return fake_under_test()
    return sqs_under_test(moto_client(request, "sqs"), request.getfixturevalue("queues"))


def correlation(value: str) -> Attributes:
    """A message's correlation id attribute, as SQS holds it."""
    return {"correlation_id": {"StringValue": value, "DataType": "String"}}


# The second letter's body is not JSON: a dead letter may be the malformed message that
# crashed the forwarder, and must come back untouched.
ARRIVED = [
    ('{"payment_id":"p-1"}', correlation("c-1")),
    ("not json {", correlation("c-2")),
    ('{"payment_id":"p-3"}', {}),
]


def test_an_empty_dead_letter_queue_gives_no_letters(under_test: DeadLettersUnderTest) -> None:
    """take answers an empty list when no letter is there."""
    assert [] == under_test.dead_letters.take(10)


def test_take_gives_at_most_max_count_letters_as_they_arrived_each_once(
    under_test: DeadLettersUnderTest,
) -> None:
    """take(2) of three letters gives two, the next take the third, then none (taken
    letters are hidden); bodies and attributes are as they arrived."""
    for body, attributes in ARRIVED:
        under_test.arrive(body, attributes)

    takes = [under_test.dead_letters.take(n) for n in (2, 10, 10)]

    taken = sorted((letter.body, letter.attributes) for batch in takes for letter in batch)
    assert ([2, 1, 0], sorted(ARRIVED)) == ([len(batch) for batch in takes], taken)


def test_letters_sent_back_reach_the_payment_queue_as_they_are(
    under_test: DeadLettersUnderTest,
) -> None:
    """send_back answers every letter as accepted and the payment queue holds each, body
    and attributes unchanged."""
    for body, attributes in ARRIVED:
        under_test.arrive(body, attributes)
    letters = under_test.dead_letters.take(10)

    accepted = under_test.dead_letters.send_back(letters)

    assert (letters, sorted(ARRIVED)) == (accepted, sorted(under_test.on_payment_queue()))
