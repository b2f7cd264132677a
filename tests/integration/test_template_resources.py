"""The resources template is the one definition of the tables and queues: the integration
fixtures, the bench and the PynamoDB models all agree with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from bench.common import create_resources
from bench.requests_count import gsi_writes, payments_layout
from shared_kernel.adapters.dynamodb.deliveries import DeliveryModel
from shared_kernel.adapters.dynamodb.events import EventModel
from shared_kernel.adapters.dynamodb.idempotency import IdempotencyModel
from shared_kernel.adapters.dynamodb.models import ApiKeyModel, MerchantModel, PaymentModel
from shared_kernel.adapters.dynamodb.webhook_endpoints import (
    EndpointCountModel,
    WebhookEndpointModel,
)

from .conftest import (
    TABLE_IDS,
    ClientFactory,
    Tables,
    moto_server,
    queue_definitions,
    table_definitions,
)

pytestmark = pytest.mark.integration

TABLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
# The template's table each storage model reads and writes.
MODEL_TABLES: dict[type[Model], str] = {
    PaymentModel: "PaymentsTable",
    MerchantModel: "MerchantsTable",
    ApiKeyModel: "MerchantsTable",
    IdempotencyModel: "IdempotencyTable",
    EventModel: "EventsTable",
    WebhookEndpointModel: "WebhookEndpointsTable",
    EndpointCountModel: "WebhookEndpointsTable",
    DeliveryModel: "DeliveriesTable",
}


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{attribute: (HASH|RANGE, S|N|B)} of a KeySchema."""
    return {k["AttributeName"]: (k["KeyType"], types[k["AttributeName"]]) for k in key_schema}


def _layout(table: dict[str, Any], ttl: str | None) -> dict[str, Any]:
    """Keys, GSIs (keys, projection type, projected attributes) and TTL attribute of a table
    in CloudFormation's or DescribeTable's shape (both name AttributeDefinitions, KeySchema
    and GlobalSecondaryIndexes alike)."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    return {
        "keys": _keys(table["KeySchema"], types),
        "indexes": {
            index["IndexName"]: (
                _keys(index["KeySchema"], types),
                index["Projection"]["ProjectionType"],
                sorted(index["Projection"].get("NonKeyAttributes", [])),
            )
            for index in table.get("GlobalSecondaryIndexes", [])
        },
        "ttl": ttl,
    }


def _template_layout(properties: dict[str, Any]) -> dict[str, Any]:
    """What DescribeTable must show of a template table: keys, indexes, TTL attribute."""
    return _layout(
        properties, (properties.get("TimeToLiveSpecification") or {}).get("AttributeName")
    )


def _described_layout(dynamodb: Any, name: str) -> dict[str, Any]:
    """The same view of a table in the emulator."""
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    enabled = ttl["TimeToLiveStatus"] == "ENABLED"
    table = dynamodb.describe_table(TableName=name)["Table"]
    return _layout(table, ttl.get("AttributeName") if enabled else None)


def _model_layout(model: type[Model]) -> dict[str, Any]:
    """The same view of a PynamoDB model: its key attributes, its GSIs, its TTL attribute."""
    attributes = model.get_attributes().values()
    indexes = [m for m in vars(model).values() if isinstance(m, GlobalSecondaryIndex)]
    return {
        "keys": {
            a.attr_name: ("HASH" if a.is_hash_key else "RANGE", a.attr_type)
            for a in attributes
            if a.is_hash_key or a.is_range_key
        },
        "indexes": {
            index.Meta.index_name: (
                {
                    a.attr_name: ("HASH" if a.is_hash_key else "RANGE", a.attr_type)
                    for a in index.Meta.attributes.values()
                    if a.is_hash_key or a.is_range_key
                },
                index.Meta.projection.projection_type,
                sorted(index.Meta.projection.non_key_attributes or []),
            )
            for index in indexes
        },
        "ttl": next((a.attr_name for a in attributes if isinstance(a, TTLAttribute)), None),
    }


def test_the_integration_fixtures_have_a_table_for_every_template_table() -> None:
    """Every DynamoDB table of the template is one field of the `tables` fixture."""
    assert set(table_definitions()) == set(TABLE_IDS.values())


def test_the_fixture_tables_have_the_template_keys_indexes_and_ttl(
    tables: Tables, aws_client: ClientFactory
) -> None:
    """Each table the fixture made has its template's keys, key types, indexes and TTL."""
    dynamodb = aws_client("dynamodb")
    definitions = table_definitions()
    expected = {
        field: _template_layout(definitions[logical_id]["Properties"])
        for field, logical_id in TABLE_IDS.items()
    }
    actual = {field: _described_layout(dynamodb, getattr(tables, field)) for field in TABLE_IDS}
    assert expected == actual


def test_the_fixture_queues_have_the_template_attributes_and_redrive(
    queues: dict[str, str], aws_client: ClientFactory
) -> None:
    """The `queues` fixture makes every template queue, with its timeouts and its redrive
    policy pointing at the fixture's own dead-letter queue."""
    sqs = aws_client("sqs")
    attributes = {
        logical_id: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for logical_id, url in queues.items()
    }
    definitions = queue_definitions()
    expected = {
        logical_id: {
            "VisibilityTimeout": str(queue["Properties"].get("VisibilityTimeout", 30)),
            "MessageRetentionPeriod": str(queue["Properties"]["MessageRetentionPeriod"]),
        }
        for logical_id, queue in definitions.items()
    }
    actual = {
        logical_id: {key: found[key] for key in ("VisibilityTimeout", "MessageRetentionPeriod")}
        for logical_id, found in attributes.items()
    }
    redrive = json.loads(attributes["PaymentsQueue"]["RedrivePolicy"])
    assert expected == actual
    assert {
        "deadLetterTargetArn": attributes["PaymentsDeadLetterQueue"]["QueueArn"],
        "maxReceiveCount": definitions["PaymentsQueue"]["Properties"]["RedrivePolicy"][
            "maxReceiveCount"
        ],
    } == {**redrive, "maxReceiveCount": int(redrive["maxReceiveCount"])}


def test_the_bench_creates_every_template_table_and_queue(aws_client: ClientFactory) -> None:
    """The bench's emulator holds every table and queue of the template, under the
    template's names and with its keys and indexes (on an emulator of its own: the names
    are the stage's, which other tests deploy too)."""
    with moto_server() as endpoint:
        resources = create_resources(endpoint)
        dynamodb = aws_client("dynamodb", endpoint_url=endpoint)
        actual_tables = {name: _described_layout(dynamodb, name) for name in _template_tables()}
    expected_tables = _template_tables()
    queue_names = {
        logical_id: q["Properties"]["QueueName"] for logical_id, q in queue_definitions().items()
    }

    assert expected_tables == actual_tables
    assert queue_names == {
        logical_id: url.rsplit("/", 1)[1] for logical_id, url in resources.queue_urls.items()
    }


def _template_tables() -> dict[str, Any]:
    """The template's tables' layouts, by table name."""
    return {
        r["Properties"]["TableName"]: _template_layout(r["Properties"])
        for r in table_definitions().values()
    }


@pytest.mark.parametrize("model", list(MODEL_TABLES), ids=lambda model: model.__name__)
def test_the_model_keys_indexes_and_ttl_match_the_template(model: type[Model]) -> None:
    """A storage model's key attributes (names and types), GSIs and TTL attribute are its
    template table's."""
    properties = table_definitions()[MODEL_TABLES[model]]["Properties"]
    assert _template_layout(properties) == _model_layout(model)


def test_every_template_table_has_a_storage_model() -> None:
    """No table of the template is left without the model that reads and writes it."""
    assert set(table_definitions()) == set(MODEL_TABLES.values())


def test_bench_index_writes_follow_the_template_index() -> None:
    """The bench counts one index write when a payment enters or leaves the open-payments
    index, two when a key changes and none when only unprojected attributes change."""
    layout = payments_layout()
    open_item = {
        "payment_id": {"S": "p"},
        "open_shard": {"S": "open"},
        "next_check_at": {"S": "2026-11-26T10:00:30.000000Z"},
        "status": {"S": "pending"},
    }
    processing = {**open_item, "status": {"S": "processing"}}
    later = {**open_item, "next_check_at": {"S": "2026-11-26T10:05:00.000000Z"}}
    final = {"payment_id": {"S": "p"}, "status": {"S": "succeeded"}}

    counts = [
        len(gsi_writes(layout, None, open_item)),
        len(gsi_writes(layout, open_item, processing)),
        len(gsi_writes(layout, open_item, later)),
        len(gsi_writes(layout, later, final)),
    ]

    assert [1, 0, 2, 1] == counts


def test_the_tables_page_names_every_table_key_and_index_of_the_template() -> None:
    """docs/tables.md explains every table (by logical id), key attribute, index and TTL
    attribute the template defines, so a new one cannot go unexplained."""
    text = TABLES_DOC.read_text(encoding="utf-8")
    names = set()
    for logical_id, table in table_definitions().items():
        properties = table["Properties"]
        names.add(logical_id)
        names.update(a["AttributeName"] for a in properties["AttributeDefinitions"])
        names.update(i["IndexName"] for i in properties.get("GlobalSecondaryIndexes", []))
        names.update(
            [properties["TimeToLiveSpecification"]["AttributeName"]]
            if "TimeToLiveSpecification" in properties
            else []
        )

    assert set() == {name for name in names if f"`{name}`" not in text}
