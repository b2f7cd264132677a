"""IdempotencyStore's contract, against InMemoryIdempotencyStore and DynamoIdempotencyStore.

Times are whole seconds: the adapter keeps `expires_at` in seconds (the TTL attribute) and
`locked_until` in milliseconds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.adapters.dynamodb.idempotency import DynamoIdempotencyStore
from shared_kernel.application.ports import IdempotencyRecord, IdempotencyStore
from tests.integration.test_dynamodb_idempotency import (
    DAY,
    LOCK,
    NOW,
    SCOPE,
    SUBMISSION,
    claim,
)
from tests.unit.fakes import InMemoryIdempotencyStore

from .conftest import BOTH, FAKE, moto_tables


@pytest.fixture(params=BOTH)
def store(request: pytest.FixtureRequest) -> IdempotencyStore:
    """An empty store: the fake, or the adapter on a fresh idempotency table."""
    if request.param == FAKE:
        return InMemoryIdempotencyStore()
    tables = moto_tables(request)
    return DynamoIdempotencyStore(tables.dynamodb(), tables.idempotency)


def test_a_claim_creates_the_record_it_describes(store: IdempotencyStore) -> None:
    """The first claim of a scope succeeds and get returns its hash, owner, submission id,
    expiry and lock."""
    assert store.claim(claim(request_hash="h" * 64))

    assert IdempotencyRecord(SCOPE, "h" * 64, "owner-1", SUBMISSION, NOW + DAY, NOW + LOCK) == (
        store.get(SCOPE)
    )


def test_second_claim_of_a_live_record_fails(store: IdempotencyStore) -> None:
    """A claim is refused while an unexpired record exists, and the first one stays."""
    assert store.claim(claim())

    assert not store.claim(claim("owner-2", "h2", NOW + DAY - LOCK))
    record = store.get(SCOPE)
    assert record is not None and ("h1", "owner-1") == (record.request_hash, record.owner)


def test_claim_overwrites_an_expired_record(store: IdempotencyStore) -> None:
    """A record past `expires_at` that is still stored counts as absent."""
    assert store.claim(claim())
    later = NOW + DAY + timedelta(seconds=2)

    assert store.claim(claim("owner-2", "h2", later))
    record = store.get(SCOPE)
    assert record is not None
    assert ("h2", "owner-2", later + LOCK) == (
        record.request_hash,
        record.owner,
        record.locked_until,
    )


def test_only_the_owner_releases(store: IdempotencyStore) -> None:
    """A release by a claim that does not hold the record changes nothing."""
    store.claim(claim())

    store.release(SCOPE, "intruder", NOW)
    record = store.get(SCOPE)
    assert record is not None
    assert ("owner-1", NOW + LOCK) == (record.owner, record.locked_until)


def test_release_ends_the_lock_and_keeps_the_submission_id(store: IdempotencyStore) -> None:
    """Release sets the owner's lock to now; the record stays, submission id and all, for a
    retry to take over."""
    store.claim(claim())

    store.release(SCOPE, "owner-1", NOW + timedelta(seconds=1))

    released = store.get(SCOPE)
    assert released is not None
    assert ("owner-1", SUBMISSION, NOW + timedelta(seconds=1)) == (
        released.owner,
        released.submission_id,
        released.locked_until,
    )


def test_release_of_an_absent_record_creates_nothing(store: IdempotencyStore) -> None:
    """Releasing or taking over a scope with no record (TTL removed it) creates none."""
    store.release(SCOPE, "owner-1", NOW)

    assert not store.take_over(SCOPE, "owner-1", "owner-2", NOW + LOCK)
    assert None is store.get(SCOPE)


def test_take_over_is_conditional_on_the_stale_owner(store: IdempotencyStore) -> None:
    """Of two takeovers naming the same stale owner, only the first succeeds; the record
    keeps its submission id."""
    store.claim(claim("dead"))
    later = NOW + 2 * LOCK

    assert store.take_over(SCOPE, "dead", "first", later)
    assert not store.take_over(SCOPE, "dead", "second", later)
    record = store.get(SCOPE)
    assert record is not None
    assert ("first", later, SUBMISSION) == (record.owner, record.locked_until, record.submission_id)


def test_get_of_an_unknown_scope_is_none(store: IdempotencyStore) -> None:
    """No record, None."""
    assert store.get("nobody#nothing") is None


def test_forget_deletes_the_owners_record(store: IdempotencyStore) -> None:
    """Forget by the owner removes the record: the scope can be claimed afresh."""
    store.claim(claim())

    store.forget(SCOPE, "owner-1")

    assert (None, True) == (store.get(SCOPE), store.claim(claim("owner-2", "h2")))


def test_only_the_owner_forgets(store: IdempotencyStore) -> None:
    """A forget by a claim that does not hold the record (it was taken over) changes
    nothing; forgetting an absent scope creates nothing."""
    store.claim(claim())

    store.forget(SCOPE, "intruder")
    store.forget("nobody#nothing", "owner-1")

    record = store.get(SCOPE)
    assert ("owner-1", None) == (record.owner if record else None, store.get("nobody#nothing"))
