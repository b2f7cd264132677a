"""DeadLetterQueue on SQS: reads the payment queue's dead-letter queue and sends its
messages back to the payment queue with SendMessageBatch, body and attributes unchanged.

Not StartMessageMoveTask: the emulator the tests run on (moto 5.2.5) does not implement it,
and receive / send / delete keeps the order the use case relies on (delete after send).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.ports import DeadLetter

# Long enough for a batch to be sent back and deleted; a letter left behind (refused, or
# the operator's process died) is visible in the dead-letter queue again after it.
HIDE_WHILE_MOVING_S = 60


class SqsDeadLetterQueue:
    """The dead-letter queue at `dead_letter_url`, redriving to `queue_url`."""

    def __init__(self, client: Any, dead_letter_url: str, queue_url: str) -> None:
        self._client = client
        self._dead_letter_url = dead_letter_url
        self._queue_url = queue_url

    def take(self, max_count: int) -> list[DeadLetter]:
        """Up to `max_count` visible letters (a short poll of one second)."""
        with sqs_errors("ReceiveMessage"):
            answer = self._client.receive_message(
                QueueUrl=self._dead_letter_url,
                MaxNumberOfMessages=max_count,
                MessageAttributeNames=["All"],
                VisibilityTimeout=HIDE_WHILE_MOVING_S,
                WaitTimeSeconds=1,
            )
        return [
            DeadLetter(m["ReceiptHandle"], m["Body"], m.get("MessageAttributes", {}))
            for m in answer.get("Messages", [])
        ]

    def send_back(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        """One SendMessageBatch; the letters SQS reported as sent."""
        entries = [
            {"Id": str(i), "MessageBody": letter.body, "MessageAttributes": letter.attributes}
            for i, letter in enumerate(letters)
        ]
        with sqs_errors("SendMessageBatch"):
            answer = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        return [letters[int(sent["Id"])] for sent in answer.get("Successful", [])]

    def delete(self, letters: list[DeadLetter]) -> None:
        """One DeleteMessageBatch (a letter whose delete fails is redriven again later)."""
        entries = [{"Id": str(i), "ReceiptHandle": x.handle} for i, x in enumerate(letters)]
        with sqs_errors("DeleteMessageBatch"):
            self._client.delete_message_batch(QueueUrl=self._dead_letter_url, Entries=entries)


@contextmanager
def sqs_errors(operation: str) -> Iterator[None]:
    """SQS failures as QueueUnavailable, naming the operation."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailable(f"SQS {operation} failed: {type(error).__name__}") from error
