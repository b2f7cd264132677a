"""Tables created from CloudFormation properties: every part DynamoDB checks is carried over."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.template_resources import create_table

pytestmark = pytest.mark.local

REGION = "eu-west-1"

PROPERTIES: dict[str, Any] = {
    "TableName": "unused-in-this-test",
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
    # A customer key given as an intrinsic: the emulator's own key encrypts instead.
    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "K"}},
}


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    """A boto3 DynamoDB client of the moto server."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    ).client("dynamodb", endpoint_url=moto_endpoint)


def test_a_table_gets_its_keys_stream_ttl_and_encryption(dynamodb: Any) -> None:
    """Keys and key types, the stream's view type, the TTL attribute and KMS encryption of
    the properties are those of the created table."""
    name = create_table(dynamodb, PROPERTIES, f"t-{uuid.uuid4().hex[:8]}")

    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert (
        PROPERTIES["KeySchema"],
        sorted(PROPERTIES["AttributeDefinitions"], key=str),
        {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        ("ENABLED", "expires_at"),
        "KMS",
    ) == (
        table["KeySchema"],
        sorted(table["AttributeDefinitions"], key=str),
        table["StreamSpecification"],
        (ttl["TimeToLiveStatus"], ttl["AttributeName"]),
        table["SSEDescription"]["SSEType"],
    )
