"""DynamoMerchantDirectory against DynamoDB (moto server): the items it writes for merchants and
API key hashes (what the port does, rotation included, is in
tests/port_contracts/test_merchant_directory.py)."""

from __future__ import annotations

from datetime import UTC, datetime
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
