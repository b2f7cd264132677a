"""DynamoIdempotencyStore against moto server: the conditional writes and the stored shape."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.adapters.dynamodb.idempotency import (
    DynamoIdempotencyStore,
    bind_idempotency_table,
)
from shared_kernel.application.idempotent_submit import IdempotentSubmit, request_hash
from shared_kernel.application.ports import IdempotencyState, StoredAnswer
from shared_kernel.domain.errors import IdempotencyInProgress, IdempotencyKeyReused

from .conftest import (
    REGION,
    ClientFactory,
    create_table_from_definition,
    table_definitions,
    unique,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SUBMISSION = UUID("3d2f1e0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f")
DAY = timedelta(hours=24)
LOCK = timedelta(seconds=30)
SCOPE = "6f1c1c38-5d5e-4b8e-9d6c-3f0a7a1e2b11#order-1234-attempt-1"
ANSWER = StoredAnswer(
    201,
    '{"id":"8c0e7d4e-2f0b-4a52-9a47-6b1d1c2e3f40","status":"pending"}',
    {"Location": "/merchant/m/payment/8c0e7d4e-2f0b-4a52-9a47-6b1d1c2e3f40"},
)


@pytest.fixture
def idempotency_table(aws_endpoint: str, aws_client: ClientFactory) -> Iterator[str]:
    """A fresh idempotency table made from docs/tables.md, with the model bound to it."""
    name = unique("idempotency")
    create_table_from_definition(
        aws_client("dynamodb"), table_definitions()["IdempotencyTable"], name
    )
    bind_idempotency_table(name, REGION, aws_endpoint)
    yield name


@pytest.fixture
def store(idempotency_table: str) -> DynamoIdempotencyStore:
    """The adapter on a fresh table."""
    return DynamoIdempotencyStore()


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


def test_claim_stores_in_progress_with_epoch_ttl(
    store: DynamoIdempotencyStore, aws_client: ClientFactory, idempotency_table: str
) -> None:
    """A claim writes IN_PROGRESS, the keyed hash, the owner, TTL seconds and lock millis."""
    assert store.claim(SCOPE, "h" * 64, "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)

    item = raw_item(aws_client, idempotency_table)
    assert {
        "pk": {"S": SCOPE},
        "status": {"S": "IN_PROGRESS"},
        "request_hash": {"S": "h" * 64},
        "owner": {"S": "owner-1"},
        "submission_id": {"S": str(SUBMISSION)},
        "expires_at": {"N": str(int((NOW + DAY).timestamp()))},
        "locked_until": {"N": str(int((NOW + LOCK).timestamp()) * 1000)},
    } == item
    record = store.get(SCOPE)
    assert record is not None
    assert (IdempotencyState.IN_PROGRESS, SUBMISSION, NOW + DAY, NOW + LOCK, None) == (
        record.state,
        record.submission_id,
        record.expires_at,
        record.locked_until,
        record.answer,
    )


def test_second_claim_of_a_live_record_fails(store: DynamoIdempotencyStore) -> None:
    """A claim is refused while an unexpired record exists, whatever its state."""
    assert store.claim(SCOPE, "h1", "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)

    assert not store.claim(
        SCOPE, "h2", "owner-2", SUBMISSION, NOW + DAY - LOCK, NOW + 2 * DAY, NOW + DAY
    )
    record = store.get(SCOPE)
    assert record is not None and ("h1", "owner-1") == (record.request_hash, record.owner)


def test_claim_overwrites_an_expired_record(store: DynamoIdempotencyStore) -> None:
    """An item past `expires_at` that TTL has not removed yet counts as absent."""
    assert store.claim(SCOPE, "h1", "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)
    store.complete(SCOPE, "owner-1", ANSWER)
    later = NOW + DAY + timedelta(seconds=2)

    assert store.claim(SCOPE, "h2", "owner-2", SUBMISSION, later, later + DAY, later + LOCK)
    record = store.get(SCOPE)
    assert record is not None
    assert ("h2", IdempotencyState.IN_PROGRESS, None) == (
        record.request_hash,
        record.state,
        record.answer,
    )


def test_complete_stores_the_answer_for_replay(store: DynamoIdempotencyStore) -> None:
    """The owner's completion stores status, body and headers exactly."""
    store.claim(SCOPE, "h1", "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)

    assert store.complete(SCOPE, "owner-1", ANSWER)
    record = store.get(SCOPE)
    assert record is not None
    assert (IdempotencyState.COMPLETED, ANSWER) == (record.state, record.answer)


def test_only_the_owner_completes_or_releases(store: DynamoIdempotencyStore) -> None:
    """Completion and release by a claim that does not hold the record change nothing."""
    store.claim(SCOPE, "h1", "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)

    assert not store.complete(SCOPE, "intruder", ANSWER)
    store.release(SCOPE, "intruder", NOW)
    record = store.get(SCOPE)
    assert record is not None
    assert (IdempotencyState.IN_PROGRESS, "owner-1") == (record.state, record.owner)


def test_release_ends_the_lock_of_in_progress_but_never_touches_a_completed_record(
    store: DynamoIdempotencyStore,
) -> None:
    """Release sets the owner's IN_PROGRESS lock to now (the record stays, submission id and
    all, for a retry to take over); a COMPLETED record is left as it is."""
    store.claim(SCOPE, "h1", "owner-1", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)
    store.release(SCOPE, "owner-1", NOW + timedelta(seconds=1))
    released = store.get(SCOPE)
    assert released is not None
    assert (IdempotencyState.IN_PROGRESS, SUBMISSION, NOW + timedelta(seconds=1)) == (
        released.state,
        released.submission_id,
        released.locked_until,
    )

    assert store.take_over(SCOPE, "owner-1", "owner-2", NOW + LOCK)
    store.complete(SCOPE, "owner-2", ANSWER)
    store.release(SCOPE, "owner-2", NOW + 2 * LOCK)
    completed = store.get(SCOPE)
    assert completed is not None
    assert (IdempotencyState.COMPLETED, NOW + LOCK) == (completed.state, completed.locked_until)


def test_take_over_is_conditional_on_the_stale_owner(store: DynamoIdempotencyStore) -> None:
    """Of two takeovers naming the same stale owner, only the first succeeds."""
    store.claim(SCOPE, "h1", "dead", SUBMISSION, NOW, NOW + DAY, NOW + LOCK)
    later = NOW + 2 * LOCK

    assert store.take_over(SCOPE, "dead", "first", later)
    assert not store.take_over(SCOPE, "dead", "second", later)
    record = store.get(SCOPE)
    assert record is not None and ("first", later) == (record.owner, record.locked_until)


def test_get_of_an_unknown_scope_is_none(store: DynamoIdempotencyStore) -> None:
    """No item, no record."""
    assert store.get("nobody#nothing") is None


class WallClock:
    """The real time, UTC (moto checks nothing against it; the conditions compare values)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def test_concurrent_claims_run_the_submission_once(store: DynamoIdempotencyStore) -> None:
    """20 threads with one key: one runs; the others are in progress or replay its answer."""
    counter = iter(range(1_000_000))
    idempotent = IdempotentSubmit(store, WallClock(), lambda: UUID(int=next(counter)), b"k")
    runs: list[int] = []
    body = {"amount": 1050}

    def submission(submission_id: UUID, resumed: bool) -> StoredAnswer:
        runs.append(1)
        return ANSWER

    def one(_: int) -> str:
        try:
            return "replay" if idempotent(UUID(int=1), "key", body, submission).replayed else "ran"
        except IdempotencyInProgress:
            return "in progress"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))

    assert 1 == len(runs) == outcomes.count("ran")
    assert 19 == outcomes.count("replay") + outcomes.count("in progress")
    with pytest.raises(IdempotencyKeyReused):
        idempotent(UUID(int=1), "key", {"amount": 1}, submission)
    record = store.get(f"{UUID(int=1)}#key")
    assert record is not None
    assert (request_hash(b"k", body), ANSWER) == (record.request_hash, record.answer)
