"""A crash between a change and its delivery loses no event (SPEC §10): the events recorder
is SIGKILLed while it records, again and again, while payments move; afterwards every
status change of every payment has exactly one event, and every event was fanned out to the
webhook queue.

The oracle is independent of the recorder: the test reads the payments table's stream
itself and takes each record whose `status` attribute changed (to anything but pending) as
one expected `payment.<status>` event. The kills are proven to have hit: each made at least
one invocation in flight fail (the stream event source's record of failed invocations).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from local.cloudformation import gateway_names
from local.stack import REGION, STAGE, LocalStack
from tests.conftest import Merchant
from tests.reliability.support import (
    Kill,
    PaymentsTable,
    scaled,
    submit_many,
    wait_all_final,
    wait_in_flight,
)

pytestmark = pytest.mark.reliability

KILLS = 3


def expected_events(stack: LocalStack, payment_ids: set[str]) -> Counter[tuple[str, str]]:
    """(payment id, event type) for every stream record of these payments whose status
    changed to a status other than pending, read from the stream's start."""
    session = boto3.session.Session(region_name=REGION)
    table = session.client("dynamodb", endpoint_url=stack.endpoint).describe_table(
        TableName=gateway_names(STAGE)["PaymentsTable"]
    )
    arn = table["Table"]["LatestStreamArn"]
    streams = session.client("dynamodbstreams", endpoint_url=stack.endpoint)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    expected: Counter[tuple[str, str]] = Counter()
    while True:
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in answer["Records"]:
            data = record["dynamodb"]
            payment_id = data["Keys"]["payment_id"]["S"]
            new = data.get("NewImage", {}).get("status", {}).get("S")
            old = data.get("OldImage", {}).get("status", {}).get("S")
            if payment_id in payment_ids and new not in (None, old, "pending"):
                expected[(payment_id, f"payment.{new}")] += 1
        if not answer["Records"]:
            return expected
        iterator = answer["NextShardIterator"]


def recorded_events(api: httpx.Client, merchant: Merchant) -> list[dict[str, Any]]:
    """Every event of the merchant, through the events API (all pages)."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = api.get(f"/merchant/{merchant.id}/events", params=params, headers=merchant.auth)
        assert 200 == page.status_code, page.text
        events += page.json()["data"]
        if not page.json()["has_more"]:
            return events
        params["starting_after"] = events[-1]["id"]


def fanned_out(stack: LocalStack, merchant: Merchant) -> Counter[str]:
    """How many fan-out messages the webhook queue holds for each of the merchant's events
    (read, and hidden from other readers for a while)."""
    sqs = boto3.session.Session(region_name=REGION).client("sqs", endpoint_url=stack.endpoint)
    found: Counter[str] = Counter()
    empty_reads = 0
    while empty_reads < 3:
        answer = sqs.receive_message(
            QueueUrl=stack.webhook_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
        )
        messages = answer.get("Messages") or []
        empty_reads = 0 if messages else empty_reads + 1
        for message in messages:
            body = json.loads(message["Body"])
            if body["kind"] == "fan_out" and body["merchant_id"] == merchant.id:
                found[body["event_id"]] += 1
    return found


@pytest.fixture
def sender_paused(stack: LocalStack) -> Iterator[None]:
    """The webhook sender's event source stopped for the test, so that the fan-outs the
    recorder queues stay on the queue to be counted (as when its mapping is disabled)."""
    stack.webhook_source.pause()
    try:
        yield
    finally:
        stack.webhook_source.resume()


@pytest.mark.usefixtures("sender_paused")
def test_killing_the_recorder_loses_and_duplicates_no_event(
    api: httpx.Client, stack: LocalStack, figures: dict[str, Any]
) -> None:
    """Payments submitted while the recorder is SIGKILLed three times mid-batch (bursts of
    three until the last kill): once all
    are final and the stream is drained, each expected event is recorded exactly once, and
    each recorded event was fanned out at least once."""
    created = stack.register_merchant("Events crash merchant")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    source = stack.events_source
    failures_before = len(source.invoke_failures())
    submitted: list[Any] = []
    kills_done = threading.Event()

    def keep_submitting() -> None:
        # Payments keep changing until the last kill, so that each kill meets a batch.
        while not kills_done.is_set() or not submitted:
            submitted.append(submit_many(api, merchant, scaled(3), workers=2, offset=3))
            kills_done.wait(0.5)

    sender = threading.Thread(target=keep_submitting, name="events-crash-submit")
    chaos = random.Random(7)
    kills: list[Kill] = []
    sender.start()
    try:
        for _ in range(KILLS):
            time.sleep(chaos.uniform(0.3, 1.5))
            assert wait_in_flight(source, timeout=30), f"no batch in flight: {source.stats()}"
            started = time.monotonic()
            downtime = stack.restart("events")
            kills.append(Kill(started, time.monotonic(), downtime))
    finally:
        kills_done.set()
        sender.join()
    ids = {payment_id for burst in submitted for payment_id in burst.cards}
    settlement = wait_all_final(PaymentsTable(stack), sorted(ids), timeout=120)
    deadline = time.monotonic() + 60
    while source.lag() or source.in_flight():
        assert time.monotonic() < deadline, f"the stream was not drained: {source.stats()}"
        time.sleep(0.2)
    failures = source.invoke_failures()[failures_before:]
    for kill in kills:
        kill.failed = [f for f in failures if f.started < kill.started <= f.ended <= kill.ended]

    expected = expected_events(stack, ids)
    events = recorded_events(api, merchant)
    recorded = Counter((e["data"]["object"]["id"], e["type"]) for e in events)
    fans = fanned_out(stack, merchant)
    lost = expected - recorded
    figures.update(
        payments=len(ids),
        lost=sum(lost.values()),
        settle_s=f"{settlement.seconds:.1f}",
        faults=(
            f"{KILLS} SIGKILLs of the events recorder, batches failed per kill "
            f"{[len(k.failed) for k in kills]}; {sum(expected.values())} events expected, "
            f"{len(events)} recorded, {sum(fans.values())} fan-outs"
        ),
    )

    assert [] == settlement.open_or_missing(sorted(ids))
    assert all(kill.failed for kill in kills), [len(k.failed) for k in kills]
    assert expected == recorded
    assert set() == {e["id"] for e in events} - set(fans)
