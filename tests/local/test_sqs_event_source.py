"""The SQS event source mapping against a moto server: partial batch responses, DLQ, threads."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from local.event_sources import (
    BatchFailed,
    Schedule,
    SqsEventSource,
    failed_message_ids,
    sqs_event,
)

pytestmark = pytest.mark.local


class FakeFunction:
    """A stand-in forwarder: records events, reports chosen bodies as failed, or crashes."""

    def __init__(self, fail_bodies: tuple[str, ...] = (), crash: bool = False) -> None:
        self.fail_bodies = fail_bodies
        self.crash = crash
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if self.crash:
            raise RuntimeError("function crashed")
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"] in self.fail_bodies
            ]
        }

    def bodies(self, batch: int) -> list[str]:
        """The bodies of the n-th batch."""
        return sorted(record["body"] for record in self.events[batch]["Records"])


def send(sqs: Any, url: str, *bodies: str) -> list[str]:
    """Send messages; their ids."""
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def poll_until(source: SqsEventSource, done: Callable[[], bool], timeout: float = 10) -> None:
    """Poll batch after batch until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out; stats {source.stats()}"
        source.poll_once()


def queued(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now visible in a queue (received, so invisible for a while)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def test_reported_failure_comes_back_and_the_rest_is_deleted(sqs: Any, queues: Any) -> None:
    """Only the message listed in batchItemFailures returns, its receive count increased."""
    send(sqs, queues.url, "a", "b", "c")
    function = FakeFunction(fail_bodies=("c",))
    source = SqsEventSource(sqs, queues.url, queues.arn, function)

    poll_until(source, lambda: sum(len(e["Records"]) for e in function.events) >= 3)
    poll_until(source, lambda: sum(len(e["Records"]) for e in function.events) >= 4)

    again = function.events[-1]["Records"]
    assert ["c"] == [record["body"] for record in again]
    assert "2" == again[0]["attributes"]["ApproximateReceiveCount"]
    assert {"batches": 2, "messages": 4, "deleted": 2, "failed": 2} == {
        key: source.stats()[key] for key in ("batches", "messages", "deleted", "failed")
    }


def test_failed_invocation_deletes_nothing(sqs: Any, queues: Any) -> None:
    """When the function raises, the whole batch comes back after the visibility timeout."""
    send(sqs, queues.url, "a", "b")
    function = FakeFunction(crash=True)
    source = SqsEventSource(sqs, queues.url, queues.arn, function)

    poll_until(source, lambda: sum(len(e["Records"]) for e in function.events) >= 2)
    poll_until(source, lambda: sum(len(e["Records"]) for e in function.events) >= 4)

    redelivered = [r for e in function.events for r in e["Records"]][2:]
    assert [("2", "a"), ("2", "b")] == sorted(
        (r["attributes"]["ApproximateReceiveCount"], r["body"]) for r in redelivered
    )
    assert 0 == source.stats()["deleted"]


def test_message_failing_max_receive_count_times_lands_in_the_dlq(sqs: Any, queues: Any) -> None:
    """moto honours the redrive policy: after 2 failed receives the message is in the DLQ."""
    (message_id,) = send(sqs, queues.url, "poison")
    function = FakeFunction(fail_bodies=("poison",))
    source = SqsEventSource(sqs, queues.url, queues.arn, function)

    poll_until(source, lambda: len(function.events) >= 2)
    time.sleep(1.2)  # visible again: the next receive moves it to the DLQ
    source.poll_once()

    dead = queued(sqs, queues.dlq_url)
    assert [(message_id, "poison")] == [(m["MessageId"], m["Body"]) for m in dead]
    assert 2 == len(function.events)
    assert [] == queued(sqs, queues.url)


def test_built_event_has_the_aws_sqs_lambda_shape(sqs: Any, queues: Any) -> None:
    """Each record carries the fields, attributes and message attributes Lambda sends."""
    body = '{"payment_id": "p-1"}'
    message_id = sqs.send_message(
        QueueUrl=queues.url,
        MessageBody=body,
        MessageAttributes={
            "merchant": {"DataType": "String", "StringValue": "m-1"},
            "attempt": {"DataType": "Number", "StringValue": "3"},
        },
    )["MessageId"]
    function = FakeFunction()
    source = SqsEventSource(sqs, queues.url, queues.arn, function)

    poll_until(source, lambda: bool(function.events))

    (record,) = function.events[0]["Records"]
    attributes = record.pop("attributes")
    receipt_handle = record.pop("receiptHandle")
    assert {
        "messageId": message_id,
        "body": body,
        "messageAttributes": {
            "merchant": {
                "stringValue": "m-1",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "attempt": {
                "stringValue": "3",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Number",
            },
        },
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queues.arn,
        "awsRegion": "eu-west-1",
    } == record
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } == set(attributes)
    assert "1" == attributes["ApproximateReceiveCount"]
    assert isinstance(receipt_handle, str) and receipt_handle


def test_pollers_drain_the_queue_and_survive_errors(sqs: Any, queues: Any) -> None:
    """Concurrent poller threads keep going after a crash and delete every message."""
    calls: list[int] = []
    lock = threading.Lock()

    def flaky(event: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls.append(len(event["Records"]))
            first = len(calls) == 1
        if first:
            raise RuntimeError("cold start failed")
        return {"batchItemFailures": []}

    send(sqs, queues.url, *(f"m{i}" for i in range(12)))
    source = SqsEventSource(sqs, queues.url, queues.arn, flaky, batch_size=5, concurrency=2)
    source.start()
    try:
        deadline = time.monotonic() + 15
        while source.stats()["deleted"] < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        source.stop()

    assert 12 == source.stats()["deleted"]
    assert 1 == source.stats()["invoke_errors"]
    assert all(size <= 5 for size in calls)


def test_a_poller_survives_a_failing_queue() -> None:
    """A ReceiveMessage error is counted and the poller retries after a back-off."""

    class BrokenSqs:
        def receive_message(self, **_: Any) -> dict[str, Any]:
            raise ConnectionError("emulator down")

    source = SqsEventSource(BrokenSqs(), "url", "arn:aws:sqs:eu-west-1:1:q", FakeFunction())
    source.start()
    time.sleep(1.5)
    alive = [thread.is_alive() for thread in source._threads]
    source.stop()

    assert [True, True] == alive
    assert source.stats()["poll_errors"] >= 3


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(
    response: Any, expected: set[str]
) -> None:
    """An empty or null answer is a full success; listed ids are kept."""
    assert expected == failed_message_ids(response, ["m1", "m2"])


@pytest.mark.parametrize(
    "response",
    [
        "ok",
        [],
        {"errorMessage": "boom", "errorType": "RuntimeError"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": [{"id": "m1"}]},
        {"batchItemFailures": "m1"},
    ],
)
def test_invalid_batch_responses_fail_the_whole_batch(response: Any) -> None:
    """A function error or a malformed answer makes the whole batch fail."""
    with pytest.raises(BatchFailed):
        failed_message_ids(response, ["m1", "m2"])


def test_sqs_event_converts_binary_attributes() -> None:
    """Binary message attributes are base64 in the event, as Lambda sends them."""
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "b",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "1", "Unrelated": "y"},
        "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}},
    }

    (record,) = sqs_event([message], "arn:aws:sqs:us-east-2:1:q")["Records"]

    assert {
        "binaryValue": "AP8=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    } == record["messageAttributes"]["blob"]
    assert {"ApproximateReceiveCount": "1"} == record["attributes"]
    assert "us-east-2" == record["awsRegion"]


def test_schedule_calls_every_period_and_survives_errors() -> None:
    """The first call comes after one period, then one per period, even after an error."""
    calls: list[tuple[float, dict[str, Any]]] = []

    def reconcile(event: dict[str, Any]) -> dict[str, Any]:
        calls.append((time.monotonic(), event))
        if len(calls) == 1:
            raise RuntimeError("bank down")
        return {}

    schedule = Schedule(reconcile, 0.2)
    started = time.monotonic()
    schedule.start()
    time.sleep(0.75)
    schedule.stop()

    assert 3 <= len(calls) <= 4
    assert calls[0][0] - started >= 0.19
    assert {"calls": len(calls), "errors": 1} == schedule.stats()
    event = calls[1][1]
    assert ("aws.events", "Scheduled Event", {}) == (
        event["source"],
        event["detail-type"],
        event["detail"],
    )
