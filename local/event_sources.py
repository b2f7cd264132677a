"""Lambda's SQS and DynamoDB Streams event source mappings and EventBridge schedules,
emulated for the local stack (moto serves the queues and the streams but invokes nothing).

serverless-offline-sqs deletes a whole batch after any successful invocation and ignores
`batchItemFailures`, which would lose the messages the forwarder asked to retry. Here the
event source mapping behaves like Lambda's with `functionResponseType: ReportBatchItemFailures`:

* it long-polls the queue and invokes the function with the exact SQS Lambda event;
* after a successful invocation it deletes every message except those listed in the answer's
  `batchItemFailures`; those become visible again after the visibility timeout, and the queue's
  redrive policy moves them to the dead-letter queue after `maxReceiveCount` receives;
* if the invocation fails (exception, function error, answer that is not a valid batch
  response) it deletes nothing: the whole batch comes back. Each failure is kept
  (`invoke_failures`: when the invocation started and failed, its size), and `in_flight`
  counts the invocations running, so a crash test can show that a kill hit a batch.

The DynamoDB Streams event source (`DynamoStreamEventSource`, for the events recorder) reads
a table's stream in order and retries from the first failed record; its class says how.

Functions are invoked through serverless-offline's Lambda API (`invoke_via_offline`), which
exposes each function as `<service>-<stage>-<function>`.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]

# The system attributes Lambda copies into an SQS record (FIFO and tracing ones when present).
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
_MAX_RECEIVE = 10  # ReceiveMessage's and DeleteMessageBatch's limit
_KEPT_FAILURES = 1000


@dataclass(frozen=True)
class InvokeFailure:
    """One failed invocation: when it started and failed (`time.monotonic()`, comparable
    across processes of this machine), how many messages it held, and why."""

    started: float
    ended: float
    messages: int
    error: str


class FunctionError(RuntimeError):
    """The invoked function failed (an unhandled error, a timeout, or no such function)."""


class BatchFailed(RuntimeError):
    """The function's answer is not a valid partial batch response: the whole batch failed."""


def region_of(arn: str) -> str:
    """The region part of an ARN (`arn:aws:sqs:<region>:<account>:<name>`)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the SQS Lambda event, built from a ReceiveMessage message."""
    received = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: received[name] for name in _RECORD_ATTRIBUTES if name in received},
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    }


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues") or []
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def sqs_event(messages: list[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The SQS Lambda event for a batch of ReceiveMessage messages."""
    return {"Records": [sqs_record(message, queue_arn) for message in messages]}


def failed_message_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The messages to keep on the queue, read from a function's answer as Lambda reads it.

    Complete success: None, `{}`, or an empty or null `batchItemFailures`. Complete failure
    (raises BatchFailed): a function error, a non-object answer, or an item identifier that is
    empty, missing or not a message of the batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise BatchFailed(f"answer is not a JSON object: {response!r:.200}")
    if "errorMessage" in response or "errorType" in response:
        raise BatchFailed(f"function error: {response.get('errorMessage')!r:.200}")
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        raise BatchFailed(f"batchItemFailures is not a list: {failures!r:.200}")
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            raise BatchFailed(f"invalid batch item failure: {failure!r:.200}")
        failed.add(identifier)
    return failed


class SqsEventSource:
    """Lambda's SQS event source mapping with ReportBatchItemFailures, for one queue."""

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        batch_size: int = 10,
        wait_seconds: int = 1,
        visibility_timeout: int | None = None,
        concurrency: int = 2,
    ) -> None:
        if not 1 <= batch_size <= _MAX_RECEIVE:
            raise ValueError(f"batch_size must be 1..{_MAX_RECEIVE} (one ReceiveMessage)")
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.concurrency = concurrency
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stats = {
            "batches": 0,
            "messages": 0,
            "deleted": 0,
            "failed": 0,
            "invoke_errors": 0,
            "poll_errors": 0,
        }
        self._in_flight = 0
        self._failures: deque[InvokeFailure] = deque(maxlen=_KEPT_FAILURES)

    def start(self) -> SqsEventSource:
        """Start `concurrency` poller threads (daemons)."""
        if self._threads:
            return self
        self._stopping.clear()
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"sqs-poller-{index}-{self.queue_arn}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling; wait for the batches in flight (up to `timeout` seconds each)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout if timeout is not None else self.wait_seconds + 5)
        self._threads = []

    close = stop

    def pause(self) -> None:
        """Stop consuming (messages stay on the queue) until `resume`, as when a Lambda
        event source mapping is disabled; the security battery peeks at messages meanwhile."""
        self.stop()

    def resume(self) -> None:
        """Consume again after `pause`."""
        self.start()

    def stats(self) -> dict[str, int]:
        """Counters: batches and messages received, deleted, failed (kept), errors."""
        with self._lock:
            return dict(self._stats)

    def in_flight(self) -> int:
        """Invocations running now."""
        with self._lock:
            return self._in_flight

    def invoke_failures(self) -> list[InvokeFailure]:
        """The last failed invocations (at most 1000), oldest first."""
        with self._lock:
            return list(self._failures)

    def poll_once(self) -> int:
        """Receive one batch, invoke the function and settle the batch; the batch's size."""
        arguments: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.batch_size,
            "WaitTimeSeconds": self.wait_seconds,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            arguments["VisibilityTimeout"] = self.visibility_timeout
        messages = self.sqs.receive_message(**arguments).get("Messages") or []
        if not messages:
            return 0
        self._count(batches=1, messages=len(messages))
        message_ids = [message["MessageId"] for message in messages]
        started = time.monotonic()
        self._count_in_flight(1)
        try:
            failed = failed_message_ids(
                self.invoke(sqs_event(messages, self.queue_arn)), message_ids
            )
        except Exception as error:  # noqa: BLE001 - any failure leaves the batch on the queue
            LOG.warning("%s: batch of %d failed, nothing deleted: %s", self, len(messages), error)
            failure = InvokeFailure(started, time.monotonic(), len(messages), str(error)[:200])
            with self._lock:
                self._failures.append(failure)
            self._count(invoke_errors=1, failed=len(messages))
            return len(messages)
        finally:
            self._count_in_flight(-1)
        done = [message for message in messages if message["MessageId"] not in failed]
        self._count(failed=len(messages) - len(done), deleted=self._delete(done))
        return len(messages)

    def _delete(self, messages: list[Mapping[str, Any]]) -> int:
        deleted = 0
        for start in range(0, len(messages), _MAX_RECEIVE):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages[start : start + _MAX_RECEIVE])
            ]
            if not entries:
                continue
            answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            deleted += len(answer.get("Successful") or [])
            for failure in answer.get("Failed") or []:
                LOG.warning("%s: could not delete a message: %s", self, failure)
        return deleted

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # a poller thread must never die
                LOG.warning("%s: polling failed; retrying in 1 s", self, exc_info=True)
                self._count(poll_errors=1)
                self._stopping.wait(1.0)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, increment in increments.items():
                self._stats[name] += increment

    def _count_in_flight(self, change: int) -> None:
        with self._lock:
            self._in_flight += change

    def __repr__(self) -> str:
        return f"SqsEventSource({self.queue_arn})"


def stream_attribute_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """One typed attribute value of a stream image as a Lambda receives it: botocore reads
    binary values as bytes, the Lambda event carries them base64 (also inside maps, lists
    and binary sets)."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode("ascii") for item in inner]}
    if kind == "M":
        return {"M": {name: stream_attribute_value(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [stream_attribute_value(item) for item in inner]}
    return {kind: inner}


def stream_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record of the DynamoDB Streams Lambda event, built from a GetRecords record."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        if image in data:
            data[image] = {name: stream_attribute_value(v) for name, v in data[image].items()}
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region_of(stream_arn),
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }


class DynamoStreamEventSource:
    """Lambda's DynamoDB Streams event source mapping, for one table's stream (moto keeps one
    shard a table), with `ReportBatchItemFailures` and `BisectBatchOnFunctionError`:

    * it reads the shard from TRIM_HORIZON (GetShardIterator, then GetRecords with each
      answer's next iterator) and invokes the function with batches of at most `batch_size`
      records, in order, one batch at a time (a shard is processed in order);
    * a successful answer moves the checkpoint past the batch, or up to the first record its
      `batchItemFailures` names: that record and the later ones are invoked again;
    * a failed invocation (exception, function error, an answer that is not a valid batch
      response) moves nothing: the batch is retried, split in halves (bisect), after
      `retry_delay_s`; a record is never skipped (no retry limit, like
      `maximumRetryAttempts: -1`). Each failure is kept (`invoke_failures`), `in_flight`
      counts the invocation running, for the crash tests.
    """

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        invoke: Invoke,
        batch_size: int = 100,
        poll_interval_s: float = 0.2,
        retry_delay_s: float = 0.5,
    ) -> None:
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retry_delay_s = retry_delay_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stats = dict.fromkeys(
            ("batches", "records", "done", "retried", "invoke_errors", "poll_errors"), 0
        )
        self._in_flight = 0
        self._failures: deque[InvokeFailure] = deque(maxlen=_KEPT_FAILURES)
        # Records read and not yet done, oldest first; the shard iterator to read on from.
        self._pending: list[dict[str, Any]] = []
        self._iterator: str | None = None
        self._size = batch_size

    def start(self) -> DynamoStreamEventSource:
        """Start the poller thread (a daemon)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"stream-poller-{self.stream_arn}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; wait for the batch in flight (up to `timeout` seconds). The
        checkpoint and the records read are kept: `start` goes on from there."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    close = stop
    pause = stop

    def resume(self) -> None:
        """Consume again after `pause`, from the checkpoint."""
        self.start()

    def stats(self) -> dict[str, int]:
        """Counters: batches invoked, records read, done, retried; errors."""
        with self._lock:
            return dict(self._stats)

    def in_flight(self) -> int:
        """Invocations running now (0 or 1)."""
        with self._lock:
            return self._in_flight

    def invoke_failures(self) -> list[InvokeFailure]:
        """The last failed invocations (at most 1000), oldest first."""
        with self._lock:
            return list(self._failures)

    def lag(self) -> int:
        """Records read from the stream and not yet done."""
        return len(self._pending)

    def poll_once(self) -> int:
        """Read what the shard has (up to a batch), invoke one batch and move the checkpoint;
        the number of records done."""
        if len(self._pending) < self.batch_size:
            self._read()
        if not self._pending:
            return 0
        batch = self._pending[: self._size]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        self._count(batches=1)
        started = time.monotonic()
        self._count_in_flight(1)
        try:
            answer = self.invoke({"Records": [stream_record(r, self.stream_arn) for r in batch]})
            failed = failed_message_ids(answer, sequence_numbers)
        except Exception as error:  # noqa: BLE001 - any failure keeps the batch
            LOG.warning("%s: batch of %d failed, retried in halves: %s", self, len(batch), error)
            with self._lock:
                self._failures.append(
                    InvokeFailure(started, time.monotonic(), len(batch), str(error)[:200])
                )
            self._count(invoke_errors=1, retried=len(batch))
            self._size = max(1, len(batch) // 2)
            self._stopping.wait(self.retry_delay_s)
            return 0
        finally:
            self._count_in_flight(-1)
        done = next(
            (index for index, number in enumerate(sequence_numbers) if number in failed),
            len(batch),
        )
        del self._pending[:done]
        self._size = self.batch_size
        self._count(done=done, retried=len(batch) - done)
        if done < len(batch):
            self._stopping.wait(self.retry_delay_s)
        return done

    def _read(self) -> None:
        if self._iterator is None:
            description = self.streams.describe_stream(StreamArn=self.stream_arn)
            shard_id = description["StreamDescription"]["Shards"][0]["ShardId"]
            self._iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = self.streams.get_records(ShardIterator=self._iterator, Limit=self.batch_size)
        self._iterator = answer.get("NextShardIterator") or self._iterator
        records = answer.get("Records") or []
        self._pending.extend(records)
        self._count(records=len(records))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.poll_once() == 0 and not self._pending:
                    self._stopping.wait(self.poll_interval_s)
            except Exception:  # a poller thread must never die
                LOG.warning("%s: polling failed; retrying in 1 s", self, exc_info=True)
                self._count(poll_errors=1)
                self._stopping.wait(1.0)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, increment in increments.items():
                self._stats[name] += increment

    def _count_in_flight(self, change: int) -> None:
        with self._lock:
            self._in_flight += change

    def __repr__(self) -> str:
        return f"DynamoStreamEventSource({self.stream_arn})"


def invoke_via_offline(
    lambda_port: int, function_name: str, timeout: float, host: str = "127.0.0.1"
) -> Callable[[dict[str, Any]], Any]:
    """A synchronous invoker of one function through serverless-offline's Lambda API.

    `POST /2015-03-31/functions/<name>/invocations` with `X-Amz-Invocation-Type:
    RequestResponse`. serverless-offline 13 answers 200 with the function's result, 200 with
    `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType", "trace"}` when the
    handler failed or timed out, and 404 with `x-amzn-ErrorType: ResourceNotFoundException`
    for an unknown function; the last two raise FunctionError.
    """
    path = f"/2015-03-31/functions/{function_name}/invocations"

    def invoke(event: dict[str, Any]) -> Any:
        payload = json.dumps(event).encode("utf-8")
        conn = http.client.HTTPConnection(host, lambda_port, timeout=timeout)
        try:
            conn.request(
                "POST",
                path,
                body=payload,
                headers={
                    "Content-Type": "application/json",
                    "X-Amz-Invocation-Type": "RequestResponse",
                    "X-Amz-Log-Type": "None",
                },
            )
            response = conn.getresponse()
            body = response.read()
            function_error = response.getheader("X-Amz-Function-Error")
            error_type = response.getheader("x-amzn-ErrorType")
        finally:
            conn.close()
        text = body.decode("utf-8", errors="replace")
        if function_error or error_type or not 200 <= response.status < 300:
            raise FunctionError(
                f"{function_name}: HTTP {response.status} "
                f"{function_error or error_type or ''} {text[:500]}".rstrip()
            )
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError as error:
            raise FunctionError(f"{function_name}: answer is not JSON: {text[:500]}") from error

    invoke.__qualname__ = f"invoke_via_offline({function_name})"
    return invoke


def scheduled_event(region: str = "eu-west-1", rule_arn: str | None = None) -> dict[str, Any]:
    """An EventBridge "Scheduled Event" as a scheduled Lambda receives it, stamped now."""
    account = "123456789012"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn or f"arn:aws:events:{region}:{account}:rule/local-schedule"],
        "detail": {},
    }


class Schedule:
    """Calls `invoke` every `every_seconds` (first call after one period) in a daemon thread."""

    def __init__(
        self,
        invoke: Invoke,
        every_seconds: float,
        event: Mapping[str, Any] | None = None,
        region: str = "eu-west-1",
    ) -> None:
        if every_seconds <= 0:
            raise ValueError("every_seconds must be positive")
        self.invoke = invoke
        self.every_seconds = every_seconds
        self.event = dict(event) if event is not None else None
        self.region = region
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stats = {"calls": 0, "errors": 0}

    def start(self) -> Schedule:
        """Start ticking."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="schedule", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking (a call in progress is waited for up to `timeout` seconds)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    close = stop

    def stats(self) -> dict[str, int]:
        """Counters: calls made and calls that failed."""
        with self._lock:
            return dict(self._stats)

    def _run(self) -> None:
        while not self._stopping.wait(self.every_seconds):
            event = dict(self.event) if self.event is not None else scheduled_event(self.region)
            try:
                self.invoke(event)
            except Exception:  # a schedule must never stop on an error
                LOG.warning("scheduled invocation failed", exc_info=True)
                with self._lock:
                    self._stats["errors"] += 1
            with self._lock:
                self._stats["calls"] += 1
