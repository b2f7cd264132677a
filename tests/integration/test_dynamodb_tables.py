"""The key schemas the adapters address items with, against the tables' definitions."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.idempotency import IdempotencyModel
from shared_kernel.adapters.dynamodb.models import ApiKeyModel, MerchantModel, PaymentModel
from shared_kernel.adapters.dynamodb.tables import key_schema

from .conftest import table_definitions

pytestmark = pytest.mark.integration


def keys_of(definition: dict[str, Any]) -> dict[str, Any]:
    """A table's key schema, the types of its key attributes and its indexes' key schemas."""
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    indexes = definition.get("GlobalSecondaryIndexes", [])
    used = {k["AttributeName"] for k in definition["KeySchema"]} | {
        k["AttributeName"] for index in indexes for k in index["KeySchema"]
    }
    return {
        "keys": definition["KeySchema"],
        "types": {name: types[name] for name in used},
        "indexes": {index["IndexName"]: index["KeySchema"] for index in indexes},
    }


@pytest.mark.parametrize(
    ("model", "logical_id"),
    [
        (PaymentModel, "PaymentsTable"),
        (MerchantModel, "MerchantsTable"),
        (ApiKeyModel, "MerchantsTable"),
        (IdempotencyModel, "IdempotencyTable"),
    ],
)
def test_a_models_key_schema_is_its_tables(model: type[Model], logical_id: str) -> None:
    """What the connection is told of a model's table (keys, key types, index keys) is what
    the table's definition declares."""
    schema = key_schema(model, "any-name").data

    assert keys_of(table_definitions()[logical_id]["Properties"]) == keys_of(schema)
