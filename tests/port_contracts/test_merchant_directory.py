"""MerchantDirectory's contract, against InMemoryMerchantDirectory and DynamoMerchantDirectory."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from shared_kernel.adapters.dynamodb.merchants import DynamoMerchantDirectory
from shared_kernel.application.ports import MerchantDirectory
from tests.integration.test_dynamodb_merchants import CREATED_AT, KEY_HASH
from tests.unit.fakes import FixedClock, InMemoryMerchantDirectory

from .conftest import BOTH, FAKE, moto_tables

NEW_KEY_HASH = "9a9a" * 16
NEWER_KEY_HASH = "7b7b" * 16


@pytest.fixture
def clock() -> FixedClock:
    """The directory's clock, at CREATED_AT until a test moves it."""
    return FixedClock(CREATED_AT)


@pytest.fixture(params=BOTH)
def directory(request: pytest.FixtureRequest, clock: FixedClock) -> MerchantDirectory:
    """An empty directory on `clock`: the fake, or the adapter on a fresh merchants table."""
    if request.param == FAKE:
        return InMemoryMerchantDirectory(clock=clock.now)
    tables = moto_tables(request)
    return DynamoMerchantDirectory(tables.dynamodb(), tables.merchants, clock=clock.now)


def test_a_registered_key_resolves_to_its_merchant(directory: MerchantDirectory) -> None:
    """add then merchant_for of the key's hash finds the merchant."""
    merchant_id = uuid4()

    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)

    assert merchant_id == directory.merchant_for(KEY_HASH)


def test_an_unknown_key_resolves_to_none(directory: MerchantDirectory) -> None:
    """merchant_for answers None for a hash nobody registered."""
    directory.add(uuid4(), "Acme Ltd", KEY_HASH, CREATED_AT)

    assert None is directory.merchant_for("0" * 64)


def test_registering_a_taken_key_hash_raises_and_keeps_the_first(
    directory: MerchantDirectory,
) -> None:
    """A second merchant with the same key hash is refused (ValueError); the key still
    resolves to the first merchant."""
    first = uuid4()
    directory.add(first, "Acme Ltd", KEY_HASH, CREATED_AT)

    with pytest.raises(ValueError, match="already registered"):
        directory.add(uuid4(), "Other Ltd", KEY_HASH, CREATED_AT)

    assert first == directory.merchant_for(KEY_HASH)


def test_registering_a_taken_merchant_id_raises(directory: MerchantDirectory) -> None:
    """A second registration of the same merchant id is refused (ValueError), and its key
    resolves to nobody."""
    merchant_id = uuid4()
    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)

    with pytest.raises(ValueError, match="already registered"):
        directory.add(merchant_id, "Acme again", NEW_KEY_HASH, CREATED_AT)

    assert None is directory.merchant_for(NEW_KEY_HASH)


def test_a_rotation_keeps_the_earlier_key_until_its_grace_period_ends(
    directory: MerchantDirectory, clock: FixedClock
) -> None:
    """rotate_key adds a working key; the earlier one works until revoke_old_at, then not."""
    merchant_id = uuid4()
    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)

    earlier = directory.rotate_key(
        merchant_id, NEW_KEY_HASH, CREATED_AT, CREATED_AT + timedelta(hours=24)
    )

    assert 1 == earlier
    assert [merchant_id, merchant_id] == [
        directory.merchant_for(KEY_HASH),
        directory.merchant_for(NEW_KEY_HASH),
    ]
    clock.set(CREATED_AT + timedelta(hours=24))
    assert [None, merchant_id] == [
        directory.merchant_for(KEY_HASH),
        directory.merchant_for(NEW_KEY_HASH),
    ]


def test_a_second_rotation_never_extends_an_earlier_revocation(
    directory: MerchantDirectory, clock: FixedClock
) -> None:
    """Rotating twice: the first key keeps its (earlier) revocation time; two earlier keys."""
    merchant_id = uuid4()
    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)
    directory.rotate_key(merchant_id, NEW_KEY_HASH, CREATED_AT, CREATED_AT + timedelta(hours=1))

    earlier = directory.rotate_key(
        merchant_id, NEWER_KEY_HASH, CREATED_AT, CREATED_AT + timedelta(hours=48)
    )

    clock.set(CREATED_AT + timedelta(hours=2))
    assert (2, [None, merchant_id, merchant_id]) == (
        earlier,
        [directory.merchant_for(h) for h in (KEY_HASH, NEW_KEY_HASH, NEWER_KEY_HASH)],
    )


def test_rotating_an_unknown_merchant_raises_lookup_error(directory: MerchantDirectory) -> None:
    """No merchant, no new key: LookupError, and the key resolves to nobody."""
    with pytest.raises(LookupError):
        directory.rotate_key(uuid4(), NEW_KEY_HASH, CREATED_AT, CREATED_AT)

    assert None is directory.merchant_for(NEW_KEY_HASH)
