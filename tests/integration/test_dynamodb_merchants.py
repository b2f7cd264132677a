"""DynamoMerchantDirectory against DynamoDB (moto server): merchants and API key hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from shared_kernel.adapters.dynamodb.merchants import DynamoMerchantDirectory

from .conftest import ClientFactory, Tables

pytestmark = pytest.mark.integration

CREATED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
KEY_HASH = "5f2b" * 16


@pytest.fixture
def directory(tables: Tables) -> DynamoMerchantDirectory:
    """A directory on this test's fresh merchants table."""
    return DynamoMerchantDirectory(tables.dynamodb(), tables.merchants)


def test_a_registered_key_resolves_to_its_merchant(
    directory: DynamoMerchantDirectory, tables: Tables, aws_client: ClientFactory
) -> None:
    """add writes the merchant and its active key hash; merchant_for finds the merchant."""
    merchant_id = uuid4()

    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)

    assert merchant_id == directory.merchant_for(KEY_HASH)
    dynamodb = aws_client("dynamodb")
    merchant = dynamodb.get_item(
        TableName=tables.merchants, Key={"pk": {"S": f"merchant#{merchant_id}"}}
    )["Item"]
    key = dynamodb.get_item(TableName=tables.merchants, Key={"pk": {"S": f"apikey#{KEY_HASH}"}})[
        "Item"
    ]
    assert {"S": "Acme Ltd"} == merchant["name"]
    assert {"S": "2026-11-26T10:00:00.000000Z"} == merchant["created_at"]
    assert {"S": str(merchant_id)} == key["merchant_id"]
    assert {"S": "active"} == key["status"]


def test_an_unknown_key_resolves_to_none(directory: DynamoMerchantDirectory) -> None:
    """merchant_for answers None for a hash nobody registered."""
    directory.add(uuid4(), "Acme Ltd", KEY_HASH, CREATED_AT)

    assert None is directory.merchant_for("0" * 64)


def test_a_revoked_key_resolves_to_none(
    directory: DynamoMerchantDirectory, tables: Tables, aws_client: ClientFactory
) -> None:
    """Only an active key authenticates."""
    directory.add(uuid4(), "Acme Ltd", KEY_HASH, CREATED_AT)
    aws_client("dynamodb").update_item(
        TableName=tables.merchants,
        Key={"pk": {"S": f"apikey#{KEY_HASH}"}},
        UpdateExpression="SET #s = :revoked",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
    )

    assert None is directory.merchant_for(KEY_HASH)


def test_registering_a_taken_key_hash_writes_nothing(
    directory: DynamoMerchantDirectory, tables: Tables, aws_client: ClientFactory
) -> None:
    """Merchant and key are written in one transaction: a clash leaves no orphan merchant."""
    first, second = uuid4(), uuid4()
    directory.add(first, "Acme Ltd", KEY_HASH, CREATED_AT)

    with pytest.raises(ValueError, match="already registered"):
        directory.add(second, "Other Ltd", KEY_HASH, CREATED_AT)

    assert first == directory.merchant_for(KEY_HASH)
    orphan = aws_client("dynamodb").get_item(
        TableName=tables.merchants, Key={"pk": {"S": f"merchant#{second}"}}
    )
    assert "Item" not in orphan


class MovableClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_rotation_keeps_the_earlier_key_until_its_grace_period_ends(tables: Tables) -> None:
    """rotate_key adds a working key; the earlier one works until revoke_old_at, then not."""
    clock = MovableClock(CREATED_AT)
    directory = DynamoMerchantDirectory(tables.dynamodb(), tables.merchants, clock=clock)
    merchant_id = uuid4()
    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)

    earlier = directory.rotate_key(
        merchant_id, "9a9a" * 16, CREATED_AT, CREATED_AT + timedelta(hours=24)
    )

    assert 1 == earlier
    assert [merchant_id, merchant_id] == [
        directory.merchant_for(KEY_HASH),
        directory.merchant_for("9a9a" * 16),
    ]
    clock.now = CREATED_AT + timedelta(hours=24)
    assert [None, merchant_id] == [
        directory.merchant_for(KEY_HASH),
        directory.merchant_for("9a9a" * 16),
    ]


def test_a_second_rotation_never_extends_an_earlier_revocation(tables: Tables) -> None:
    """Rotating twice: the first key keeps its (earlier) revocation time."""
    clock = MovableClock(CREATED_AT)
    directory = DynamoMerchantDirectory(tables.dynamodb(), tables.merchants, clock=clock)
    merchant_id = uuid4()
    directory.add(merchant_id, "Acme Ltd", KEY_HASH, CREATED_AT)
    directory.rotate_key(merchant_id, "9a9a" * 16, CREATED_AT, CREATED_AT + timedelta(hours=1))

    directory.rotate_key(merchant_id, "7b7b" * 16, CREATED_AT, CREATED_AT + timedelta(hours=48))

    clock.now = CREATED_AT + timedelta(hours=2)
    assert [None, merchant_id, merchant_id] == [
        directory.merchant_for(h) for h in (KEY_HASH, "9a9a" * 16, "7b7b" * 16)
    ]


def test_rotating_an_unknown_merchant_raises_lookup_error(tables: Tables) -> None:
    """No merchant, no new key."""
    with pytest.raises(LookupError):
        DynamoMerchantDirectory(tables.dynamodb(), tables.merchants).rotate_key(
            uuid4(), "9a9a" * 16, CREATED_AT, CREATED_AT
        )
