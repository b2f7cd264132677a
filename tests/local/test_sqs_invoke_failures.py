"""The SQS event source's record of failed invocations and of those in flight, which the
reliability battery reads to show that a SIGKILL hit a batch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from local.event_sources import SqsEventSource

pytestmark = pytest.mark.local


def test_failed_invocation_is_recorded_with_its_span_and_size(sqs: Any, queues: Any) -> None:
    """An invocation that raises is kept with its start, end, message count and error, and
    counted in flight while it runs; a successful one leaves no failure."""
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    running = threading.Event()
    release = threading.Event()

    def dies(event: dict[str, Any]) -> Any:
        running.set()
        release.wait(5)
        raise ConnectionResetError(f"killed with {len(event['Records'])} records")

    source = SqsEventSource(sqs, queues.url, queues.arn, dies, batch_size=10)
    before = time.monotonic()
    poller = threading.Thread(target=source.poll_once)
    poller.start()
    assert running.wait(10)
    during = source.in_flight()
    release.set()
    poller.join(10)
    after = time.monotonic()

    [failure] = source.invoke_failures()
    assert (1, 0) == (during, source.in_flight())
    assert before <= failure.started <= failure.ended <= after
    assert (3, "killed with 3 records") == (failure.messages, failure.error)
    assert 1 == source.stats()["invoke_errors"]


def test_successful_invocation_records_no_failure(sqs: Any, queues: Any) -> None:
    """A batch the function handles leaves invoke_failures empty and nothing in flight."""
    sqs.send_message(QueueUrl=queues.url, MessageBody="ok")
    source = SqsEventSource(sqs, queues.url, queues.arn, lambda event: None)

    deadline = time.monotonic() + 10
    while source.stats()["batches"] == 0 and time.monotonic() < deadline:
        source.poll_once()

    assert (1, [], 0) == (source.stats()["batches"], source.invoke_failures(), source.in_flight())
