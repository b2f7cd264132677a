"""The local AWS emulator (local/emulator.py) keeps DynamoDB's one guarantee moto's threaded
server does not: of conditional writes racing for one item, exactly one passes."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.emulator import serialise_dynamodb

pytestmark = pytest.mark.local

REGION = "eu-west-1"
RACERS = 16
ROUNDS = 10


def test_racing_conditional_puts_of_one_item_let_exactly_one_pass(moto_endpoint: str) -> None:
    """Sixteen threads PutItem the same key with attribute_not_exists, ten times over: each
    round exactly one write passes and the others fail their condition."""
    config = Config(max_pool_connections=RACERS, retries={"max_attempts": 0})
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    dynamodb = session.client("dynamodb", endpoint_url=moto_endpoint, config=config)
    table = f"race-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    winners_per_round = [
        len(race_once(dynamodb, table, f"key-{round_number}")) for round_number in range(ROUNDS)
    ]

    assert [1] * ROUNDS == winners_per_round


def race_once(dynamodb: Any, table: str, key: str) -> list[int]:
    """RACERS threads released together, each a conditional PutItem of `key`; who passed."""
    start = threading.Barrier(RACERS)
    passed: list[int] = []

    def race(racer: int) -> None:
        start.wait()
        try:
            dynamodb.put_item(
                TableName=table,
                Item={"pk": {"S": key}, "racer": {"N": str(racer)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return
        passed.append(racer)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return passed


def test_only_dynamodb_requests_wait_for_the_lock() -> None:
    """A DynamoDB or DynamoDB Streams request runs under the lock and its answer is produced
    inside it; any other request (an SQS long poll) is passed through untouched, even while
    the lock is held."""
    seen: list[tuple[str, bool]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from local import emulator

        seen.append((environ.get("HTTP_X_AMZ_TARGET", ""), emulator._DYNAMODB.locked()))
        return [b"ok"]

    wrapped = serialise_dynamodb(app)
    assert [b"ok"] == list(wrapped({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, None))
    assert [b"ok"] == list(wrapped({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}, None))
    records = {"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}
    assert [b"ok"] == list(wrapped(records, None))

    assert [
        ("DynamoDB_20120810.PutItem", True),
        ("AmazonSQS.ReceiveMessage", False),
        ("DynamoDBStreams_20120810.GetRecords", True),
    ] == seen
