"""How the adapters address tables: key schemas against the tables' definitions, and paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.deliveries import DeliveryModel
from shared_kernel.adapters.dynamodb.events import EventModel
from shared_kernel.adapters.dynamodb.idempotency import IdempotencyModel
from shared_kernel.adapters.dynamodb.models import (
    OPEN_PAYMENTS_INDEX,
    ApiKeyModel,
    MerchantModel,
    PaymentModel,
)
from shared_kernel.adapters.dynamodb.tables import Table, key_schema

from .conftest import table_definitions

pytestmark = pytest.mark.integration

DUE = PaymentModel.next_check_at <= datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


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
        (EventModel, "EventsTable"),
        (DeliveryModel, "DeliveriesTable"),
    ],
)
def test_a_models_key_schema_is_its_tables(model: type[Model], logical_id: str) -> None:
    """What the connection is told of a model's table (keys, key types, index keys) is what
    the table's definition declares."""
    schema = key_schema(model, "any-name").data

    assert keys_of(table_definitions()[logical_id]["Properties"]) == keys_of(schema)


class PagedConnection:
    """A stand-in for PynamoDB's Connection whose Query answers come from a script of pages
    (DynamoDB ends a page early at 1 MB, which a test table never reaches)."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.queries: list[dict[str, Any]] = []

    def query(self, table_name: str, hash_key: str, **options: Any) -> dict[str, Any]:
        """The next scripted page, recording what was asked."""
        self.queries.append({"table": table_name, "hash_key": hash_key, **options})
        return self.pages[len(self.queries) - 1]


def test_an_index_query_follows_short_pages_up_to_the_limit() -> None:
    """A page that ends before the limit with a LastEvaluatedKey is followed by a query from
    that key for what is left; the entries come back in order, no more than the limit."""
    entries = [{"payment_id": {"S": f"p{n}"}} for n in range(5)]
    connection = PagedConnection(
        [
            {"Items": entries[:2], "LastEvaluatedKey": entries[1]},
            {"Items": entries[2:4], "LastEvaluatedKey": entries[3]},
        ]
    )
    table = Table(connection, "payments-x", PaymentModel)  # type: ignore[arg-type]

    found = list(table.query_index(OPEN_PAYMENTS_INDEX, "open", condition=DUE, limit=4))

    assert entries[:4] == found
    assert [(4, None), (2, entries[1])] == [
        (q["limit"], q["exclusive_start_key"]) for q in connection.queries
    ]
