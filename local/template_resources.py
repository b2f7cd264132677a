"""The resources template's tables and queues, created through boto3 on an emulator.

The local stack deploys the template with CloudFormation; the integration tests and the
bench create the same tables and queues directly (faster, and under names of their own),
from the template's properties (`local.cloudformation.gateway_resources`), so the template
stays their only definition. `table_layout` gives what code that reasons about the items
needs of a table's definition: its keys and its indexes' keys and projections.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The parts of a CloudFormation table that CreateTable takes as they are.
_TABLE_ARGUMENTS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "TableClass",
    "DeletionProtectionEnabled",
)


def create_table(dynamodb: Any, properties: Mapping[str, Any], name: str | None = None) -> str:
    """Create a table as CloudFormation would from its `Properties` (under `name` if given,
    else its TableName), with its TTL and point-in-time recovery; its name."""
    table_name = name or str(properties["TableName"])
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    arguments.update({key: properties[key] for key in _TABLE_ARGUMENTS if key in properties})
    if "ProvisionedThroughput" in properties:
        arguments["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    stream = properties.get("StreamSpecification")
    if stream:
        arguments["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    sse = properties.get("SSESpecification") or {}
    if sse.get("SSEEnabled"):
        # A key given as an intrinsic (`!Ref`, `!GetAtt`) is left to the emulator's default.
        arguments["SSESpecification"] = {
            "Enabled": True,
            **{k: v for k, v in sse.items() if k in ("SSEType", "KMSMasterKeyId") and _plain(v)},
        }
    dynamodb.create_table(**arguments)
    ttl = properties.get("TimeToLiveSpecification") or {}
    if ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    recovery = properties.get("PointInTimeRecoverySpecification") or {}
    if recovery.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    return table_name


def create_queue(
    sqs: Any,
    properties: Mapping[str, Any],
    arns: Mapping[str, str],
    name: str | None = None,
) -> str:
    """Create a queue from its `Properties` (under `name` if given, else its QueueName); its
    URL. `arns` maps the logical ids of queues created before to their ARNs, for the
    redrive policy's `!GetAtt <dead-letter queue>.Arn`."""
    attributes: dict[str, str] = {}
    for key, value in properties.items():
        if key in ("QueueName", "Tags"):
            continue
        resolved = _resolve(value, arns)
        if resolved is None:
            continue  # an intrinsic the emulator does not need (a KMS key's !Ref)
        if isinstance(resolved, bool):
            attributes[key] = "true" if resolved else "false"
        elif isinstance(resolved, dict):
            attributes[key] = json.dumps(resolved)
        else:
            attributes[key] = str(resolved)
    queue_name = name or str(properties["QueueName"])
    url: str = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    return url


def create_queues(
    sqs: Any,
    queues: Mapping[str, Mapping[str, Any]],
    name: Callable[[str], str | None] = lambda logical_id: None,
) -> dict[str, str]:
    """Create the template's queues (`name(logical id)` names one, None keeps its QueueName),
    each dead-letter queue before the queues that redrive to it; their URLs by logical id."""
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    ordered = sorted(
        queues.items(), key=lambda item: "RedrivePolicy" in (item[1].get("Properties") or {})
    )
    for logical_id, queue in ordered:
        url = create_queue(sqs, queue["Properties"], arns, name(logical_id))
        urls[logical_id] = url
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arns[logical_id] = attributes["Attributes"]["QueueArn"]
    return urls


def _resolve(value: Any, arns: Mapping[str, str]) -> Any:
    """`value` with `Fn::GetAtt <queue>.Arn` replaced by the queue's ARN; None if it holds
    another intrinsic function."""
    if isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            logical_id, attribute = (
                target.split(".", 1) if isinstance(target, str) else (target[0], target[1])
            )
            return arns.get(logical_id) if attribute == "Arn" else None
        if any(key == "Ref" or key.startswith("Fn::") for key in value):
            return None
        resolved = {key: _resolve(item, arns) for key, item in value.items()}
        return None if any(item is None for item in resolved.values()) else resolved
    return value


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


@dataclass(frozen=True)
class IndexLayout:
    """A secondary index: its name, key attributes and the attributes an entry holds (None:
    every attribute, an `ALL` projection)."""

    name: str
    keys: tuple[str, ...]
    projected: frozenset[str] | None


@dataclass(frozen=True)
class TableLayout:
    """A table's key attributes (hash first) and secondary indexes."""

    keys: tuple[str, ...]
    indexes: tuple[IndexLayout, ...]


def _key_names(key_schema: list[Mapping[str, str]]) -> tuple[str, ...]:
    ordered = sorted(key_schema, key=lambda key: key["KeyType"] != "HASH")
    return tuple(key["AttributeName"] for key in ordered)


def table_layout(properties: Mapping[str, Any]) -> TableLayout:
    """The keys and indexes of a table's `Properties`."""
    keys = _key_names(properties["KeySchema"])
    indexes = []
    for index in [
        *properties.get("GlobalSecondaryIndexes", []),
        *properties.get("LocalSecondaryIndexes", []),
    ]:
        index_keys = _key_names(index["KeySchema"])
        projection = index.get("Projection") or {}
        kind = projection.get("ProjectionType", "ALL")
        projected = (
            None
            if kind == "ALL"
            else frozenset(
                {*keys, *index_keys, *(projection.get("NonKeyAttributes") or [])}
                if kind == "INCLUDE"
                else {*keys, *index_keys}
            )
        )
        indexes.append(IndexLayout(index["IndexName"], index_keys, projected))
    return TableLayout(keys, tuple(indexes))
