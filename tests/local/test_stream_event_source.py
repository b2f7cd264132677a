"""The DynamoDB Streams event source of the local stack against the emulator (moto server
with its lock): the Lambda event it builds, the checkpoint after partial failures, bisected
retries after a crash, and the events recorder fed by it from real payment writes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.cloudformation import DYNAMODB_TABLE, SQS_QUEUE, gateway_resources, of_type
from local.event_sources import DynamoStreamEventSource
from local.template_resources import create_queues, create_table
from shared_kernel.adapters.dynamodb.events import DynamoEventStore
from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue, parse_webhook_message
from shared_kernel.api.events import event_body
from shared_kernel.api.payment_stream import record_changes
from shared_kernel.application.record_events import RecordEvents
from shared_kernel.domain.payment import Outcome, PaymentRequest, PaymentStatus, draft_payment

pytestmark = pytest.mark.local

REGION = "eu-west-1"
CARD = {"card_number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030}
BODY = {**CARD, "cvv": "123", "amount": 1050, "currency": "GBP", "reference": "r"}
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def session() -> Any:
    """A boto3 session with the emulator's dummy credentials."""
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )


def template_table(endpoint: str, logical_id: str) -> str:
    """A fresh table made from the resources template's `logical_id`; its name."""
    name = f"{logical_id.lower()}-{uuid.uuid4().hex[:10]}"
    properties = of_type(gateway_resources(), DYNAMODB_TABLE)[logical_id]["Properties"]
    create_table(session().client("dynamodb", endpoint_url=endpoint), properties, name)
    return name


def stream_of(endpoint: str, table: str) -> str:
    """The table's stream ARN."""
    described = session().client("dynamodb", endpoint_url=endpoint).describe_table(TableName=table)
    return str(described["Table"]["LatestStreamArn"])


def streams(endpoint: str) -> Any:
    """A DynamoDB Streams client of the emulator."""
    return session().client("dynamodbstreams", endpoint_url=endpoint)


class Function:
    """A stand-in Lambda: records each event's sequence numbers; answers from a script of
    answers (an exception is raised), then an empty batch response."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> object:
        self.events.append(event)
        answer = self.answers.pop(0) if self.answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer

    def batches(self) -> list[list[int]]:
        """Each invocation's records, as their number attribute."""
        return [
            [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
            for event in self.events
        ]


def put_numbered(endpoint: str, table: str, count: int) -> list[str]:
    """`count` items numbered 0.. with a binary attribute; their sequence numbers."""
    dynamodb = session().client("dynamodb", endpoint_url=endpoint)
    for n in range(count):
        dynamodb.put_item(
            TableName=table,
            Item={"payment_id": {"S": f"p{n}"}, "n": {"N": str(n)}, "blob": {"B": b"\x00\x01"}},
        )
    arn = stream_of(endpoint, table)
    shard = streams(endpoint).describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams(endpoint).get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams(endpoint).get_records(ShardIterator=iterator)["Records"]
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def drain(source: DynamoStreamEventSource, until: Callable[[], bool], timeout: float = 10) -> None:
    """Poll until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out; stats {source.stats()}"
        source.poll_once()


def test_records_arrive_in_order_as_the_lambda_event(moto_endpoint: str) -> None:
    """Three writes are one invocation with three records in order, each as Lambda shows
    it: base64 binary, a numeric creation time, the stream's ARN; all then done."""
    table = template_table(moto_endpoint, "PaymentsTable")
    put_numbered(moto_endpoint, table, 3)
    arn = stream_of(moto_endpoint, table)
    function = Function()
    source = DynamoStreamEventSource(streams(moto_endpoint), arn, function, retry_delay_s=0)

    drain(source, lambda: source.stats()["done"] == 3)

    (record, *_) = function.events[0]["Records"]
    assert [[0, 1, 2]] == function.batches()
    assert ("INSERT", "aws:dynamodb", arn) == (
        record["eventName"],
        record["eventSource"],
        record["eventSourceARN"],
    )
    assert {"B": "AAE="} == record["dynamodb"]["NewImage"]["blob"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    json.dumps(function.events[0])  # what serverless-offline is sent must be JSON


def test_a_partial_failure_retries_from_the_record_it_names(moto_endpoint: str) -> None:
    """An answer naming the second of four records: the next invocation starts at it."""
    table = template_table(moto_endpoint, "PaymentsTable")
    sequence = put_numbered(moto_endpoint, table, 4)
    function = Function({"batchItemFailures": [{"itemIdentifier": sequence[1]}]})
    source = DynamoStreamEventSource(
        streams(moto_endpoint), stream_of(moto_endpoint, table), function, retry_delay_s=0
    )

    drain(source, lambda: source.stats()["done"] == 4)

    assert [[0, 1, 2, 3], [1, 2, 3]] == function.batches()
    assert 3 == source.stats()["retried"]


def test_a_crash_retries_the_batch_in_halves_and_skips_nothing(moto_endpoint: str) -> None:
    """Two crashes on four records: the batch is retried as two, then one record, then
    everything runs; every record is done once after the failures, none skipped."""
    table = template_table(moto_endpoint, "PaymentsTable")
    put_numbered(moto_endpoint, table, 4)
    function = Function(RuntimeError("killed"), RuntimeError("killed again"))
    source = DynamoStreamEventSource(
        streams(moto_endpoint), stream_of(moto_endpoint, table), function, retry_delay_s=0
    )

    drain(source, lambda: source.stats()["done"] == 4)

    assert [[0, 1, 2, 3], [0, 1], [0], [1, 2, 3]] == function.batches()
    assert [4, 2] == [f.messages for f in source.invoke_failures()]


def test_the_recorder_fed_by_the_stream_records_a_payments_events(moto_endpoint: str) -> None:
    """Real payment writes (add, processing, succeeded) through the repository, the stream
    source invoking the recorder's handler logic: two events stored and fanned out."""
    payments_table = template_table(moto_endpoint, "PaymentsTable")
    events_table = template_table(moto_endpoint, "EventsTable")
    sqs = session().client("sqs", endpoint_url=moto_endpoint)
    queues = of_type(gateway_resources(), SQS_QUEUE)
    urls = create_queues(sqs, queues, lambda logical_id: f"{logical_id}-{uuid.uuid4().hex[:8]}")
    tables = DynamoTables(REGION, moto_endpoint, session().get_credentials())
    events = DynamoEventStore(tables, events_table, lambda: NOW + timedelta(days=1))
    record = RecordEvents(events, SqsWebhookQueue(sqs, urls["WebhookQueue"]), event_body)
    repository = DynamoPaymentRepository(tables, payments_table)
    payment = PaymentRequest.accept(
        payment_id=uuid.uuid4(),
        merchant_id=uuid.uuid4(),
        draft=draft_payment(BODY, NOW.date()),
        sealed_card=None,
        now=NOW,
        first_check_after=timedelta(seconds=30),
    )
    repository.add(payment)
    for second, status in enumerate((PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED), 1):
        payment.apply(Outcome(status), NOW + timedelta(seconds=second))
        repository.save(payment)
    source = DynamoStreamEventSource(
        streams(moto_endpoint),
        stream_of(moto_endpoint, payments_table),
        lambda event: record_changes(event, record),
        retry_delay_s=0,
    )

    drain(source, lambda: source.stats()["done"] == 3)

    messages = sqs.receive_message(QueueUrl=urls["WebhookQueue"], MaxNumberOfMessages=10)
    fanned = [parse_webhook_message(m["Body"]) for m in messages.get("Messages", [])]
    stored = [events.get(payment.merchant_id, message.event_id) for message in fanned]
    assert ["payment.processing", "payment.succeeded"] == [e.type for e in stored if e]
    assert {payment.merchant_id} == {message.merchant_id for message in fanned}
