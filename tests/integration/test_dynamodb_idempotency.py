"""DynamoIdempotencyStore against moto server: the stored shape and its TTL (what the port
does, claims, releases and takeovers, is in tests/port_contracts/test_idempotency_store.py);
the race of 20 claims against the local stack's emulator, which applies DynamoDB requests one
at a time as DynamoDB does (bare moto server can let two racing conditional writes pass)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import pytest

from shared_kernel.adapters.dynamodb.idempotency import DynamoIdempotencyStore
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.application.errors import IdempotencyInProgress, IdempotencyKeyReused
from shared_kernel.application.idempotent_submit import IdempotentAnswer, IdempotentSubmit
from shared_kernel.application.ports import IdempotencyClaim, IdempotencyRecord

from .conftest import (
    REGION,
    ClientFactory,
    create_table_from_definition,
    serialised_table,
    table_definitions,
    unique,
)

pytestmark = pytest.mark.integration


class Answer(NamedTuple):
    """A submission's answer as these tests give it (IdempotentSubmit is generic in it)."""

    status: int
    body: str
    headers: dict[str, str]


NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SUBMISSION = UUID("3d2f1e0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f")
DAY = timedelta(hours=24)
LOCK = timedelta(seconds=30)
SCOPE = "6f1c1c38-5d5e-4b8e-9d6c-3f0a7a1e2b11#order-1234-attempt-1"
ANSWER = Answer(
    201,
    '{"id":"8c0e7d4e-2f0b-4a52-9a47-6b1d1c2e3f40","status":"pending"}',
    {"Location": "/merchant/m/payment/8c0e7d4e-2f0b-4a52-9a47-6b1d1c2e3f40"},
)


@pytest.fixture
def idempotency_table(aws_client: ClientFactory) -> Iterator[str]:
    """A fresh idempotency table made from the resources template."""
    name = unique("idempotency")
    create_table_from_definition(
        aws_client("dynamodb"), table_definitions()["IdempotencyTable"], name
    )
    yield name


@pytest.fixture
def store(idempotency_table: str, aws_endpoint: str) -> DynamoIdempotencyStore:
    """The adapter on a fresh table."""
    return DynamoIdempotencyStore(DynamoTables(REGION, aws_endpoint), idempotency_table)


def raw_item(aws_client: ClientFactory, table: str) -> dict[str, Any]:
    """The stored item of SCOPE as DynamoDB holds it."""
    item: dict[str, Any] = aws_client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": SCOPE}}, ConsistentRead=True
    )["Item"]
    return item


def test_table_has_ttl_on_expires_at(aws_client: ClientFactory, idempotency_table: str) -> None:
    """The documented table expires items by `expires_at` (DynamoDB TTL)."""
    described = aws_client("dynamodb").describe_time_to_live(TableName=idempotency_table)

    ttl = described["TimeToLiveDescription"]
    assert ("ENABLED", "expires_at") == (ttl["TimeToLiveStatus"], ttl["AttributeName"])


def claim(
    owner: str = "owner-1",
    request_hash: str = "h1",
    at: datetime = NOW,
) -> IdempotencyClaim:
    """A claim on SCOPE under SUBMISSION made `at`: 24 h of retention, a 30 s lock."""
    return IdempotencyClaim(SCOPE, request_hash, owner, SUBMISSION, at, at + DAY, at + LOCK)


def test_claim_stores_the_hash_owner_submission_id_ttl_and_lock(
    store: DynamoIdempotencyStore, aws_client: ClientFactory, idempotency_table: str
) -> None:
    """A claim writes the keyed hash, the owner, the submission id, TTL seconds and lock
    millis, and nothing else (no state, no answer)."""
    assert store.claim(claim(request_hash="h" * 64))

    item = raw_item(aws_client, idempotency_table)
    assert {
        "pk": {"S": SCOPE},
        "request_hash": {"S": "h" * 64},
        "owner": {"S": "owner-1"},
        "submission_id": {"S": str(SUBMISSION)},
        "expires_at": {"N": str(int((NOW + DAY).timestamp()))},
        "locked_until": {"N": str(int((NOW + LOCK).timestamp()) * 1000)},
    } == item
    assert IdempotencyRecord(SCOPE, "h" * 64, "owner-1", SUBMISSION, NOW + DAY, NOW + LOCK) == (
        store.get(SCOPE)
    )


class WallClock:
    """The real time, UTC (moto checks nothing against it; the conditions compare values)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# The documented request hash (docs/decisions.md, docs/tables.md): HMAC-SHA256, hex, keyed,
# over a context label and the body's canonical JSON (sorted keys, no spaces), computed here
# with hmac/hashlib rather than with the product's function.
HASH_CONTEXT = b"gateway/idempotency-request/v1\n"


def expected_hash(secret: bytes, canonical_json: bytes) -> str:
    """The request hash of a canonical JSON body, from the documented recipe."""
    return hmac.new(secret, HASH_CONTEXT + canonical_json, hashlib.sha256).hexdigest()


@pytest.fixture
def raced_store(serialising_endpoint: str, aws_client: ClientFactory) -> DynamoIdempotencyStore:
    """The adapter on a fresh table of the serialising emulator (local/emulator.py)."""
    connection, name = serialised_table(
        serialising_endpoint, aws_client, "IdempotencyTable", "idempotency"
    )
    return DynamoIdempotencyStore(connection, name)


def test_concurrent_claims_run_the_submission_once(raced_store: DynamoIdempotencyStore) -> None:
    """20 threads with one key: one runs; the others are in progress or replay its answer,
    which is rebuilt from what it stored under the claim's submission id."""
    store = raced_store
    counter = iter(range(1_000_000))
    idempotent = IdempotentSubmit(store, WallClock(), lambda: UUID(int=next(counter)), b"k")
    stored: dict[UUID, Answer] = {}
    runs: list[UUID] = []
    body = {"amount": 1050}

    def submission(submission_id: UUID, resumed: bool) -> Answer:
        runs.append(submission_id)
        return stored.setdefault(submission_id, ANSWER)

    def one(_: int) -> str:
        try:
            answer = idempotent(UUID(int=1), "key", body, submission, stored.get)
        except IdempotencyInProgress:
            return "in progress"
        return "replay" if answer.replayed else "ran"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))

    assert 1 == len(runs) == outcomes.count("ran")
    assert 19 == outcomes.count("replay") + outcomes.count("in progress")
    with pytest.raises(IdempotencyKeyReused):
        idempotent(UUID(int=1), "key", {"amount": 1}, submission, stored.get)
    record = store.get(f"{UUID(int=1)}#key")
    assert record is not None
    assert (expected_hash(b"k", b'{"amount":1050}'), runs[0]) == (
        record.request_hash,
        record.submission_id,
    )
    assert IdempotentAnswer(ANSWER, replayed=True) == idempotent(
        UUID(int=1), "key", body, submission, stored.get
    )
