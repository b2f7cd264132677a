"""The DynamoDB tables of one composition root, reached through one PynamoDB `Connection`.

PynamoDB's `Model` class methods (get, save, update, query) send through a connection each
model class builds for itself from its `Meta`, with a botocore session and client of its
own: three model classes meant three sessions at a cold start (tens of milliseconds each:
credentials, endpoint rules, service model), and binding a class to a table is
process-global state. Here the storage models (`models.py`) stay schemas that are bound to
no table: they build items, serialise and parse them, and make the condition and update
expressions. Requests go through PynamoDB's public lower layer, `pynamodb.connection.
Connection`, which takes the table name with each request: one Connection (one botocore
session and one client) per composition root, so two roots in one process never share or
change each other's tables, and the Gateway makes its other AWS clients from the same
botocore session.

A Connection needs each table's key schema (`add_meta_table`); `key_schema` derives it from
the model's key attributes and indexes (the integration tests hold it against the tables'
definitions), so the adapters never restate it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.connection import Connection
from pynamodb.connection.base import MetaTable
from pynamodb.constants import (
    ATTR_DEFINITIONS,
    ATTR_NAME,
    ATTR_TYPE,
    GLOBAL_SECONDARY_INDEXES,
    INDEX_NAME,
    ITEM,
    ITEMS,
    KEY,
    KEY_SCHEMA,
    KEY_TYPE,
    LAST_EVALUATED_KEY,
    NONE,
    TABLE_NAME,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.types import HASH, RANGE

M = TypeVar("M", bound=Model)

# Per DynamoDB request: PynamoDB's defaults (15 s and 30 s) would outlast API Gateway's 29 s
# limit on a single stuck call; three retries, as every other client of the Gateway.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5
MAX_RETRY_ATTEMPTS = 3


def _keys(attributes: Any) -> list[Attribute[Any]]:
    return [a for a in attributes if a.is_hash_key or a.is_range_key]


def _key_schema(keys: list[Attribute[Any]]) -> list[dict[str, str]]:
    hash_first = sorted(keys, key=lambda a: not a.is_hash_key)  # as DynamoDB lists them
    return [
        {ATTR_NAME: a.attr_name, KEY_TYPE: HASH if a.is_hash_key else RANGE} for a in hash_first
    ]


def key_schema(model: type[Model], table_name: str) -> MetaTable:
    """The key schema of `model`'s table `table_name` (and of its global secondary indexes),
    as a PynamoDB Connection needs it to address items and query indexes."""
    keys = _keys(model.get_attributes().values())
    indexes = [i for i in vars(model).values() if isinstance(i, GlobalSecondaryIndex)]
    index_keys = {i.Meta.index_name: _keys(i.Meta.attributes.values()) for i in indexes}
    definitions = {a.attr_name: a.attr_type for a in keys}
    for attributes in index_keys.values():
        definitions.update({a.attr_name: a.attr_type for a in attributes})
    return MetaTable(
        {
            TABLE_NAME: table_name,
            KEY_SCHEMA: _key_schema(keys),
            ATTR_DEFINITIONS: [{ATTR_NAME: n, ATTR_TYPE: t} for n, t in definitions.items()],
            GLOBAL_SECONDARY_INDEXES: [
                {INDEX_NAME: name, KEY_SCHEMA: _key_schema(attributes)}
                for name, attributes in index_keys.items()
            ],
        }
    )


class DynamoTables:
    """One PynamoDB Connection to DynamoDB in `region` (at `host`, when not AWS's endpoint)
    and the tables reached through it."""

    def __init__(self, region: str, host: str | None, credentials: Any = None) -> None:
        # `credentials`: botocore credentials to sign with (default: the standard chain).
        frozen = None if credentials is None else credentials.get_frozen_credentials()
        self.connection = Connection(
            region=region,
            host=host,
            connect_timeout_seconds=CONNECT_TIMEOUT_S,
            read_timeout_seconds=READ_TIMEOUT_S,
            max_retry_attempts=MAX_RETRY_ATTEMPTS,
            aws_access_key_id=None if frozen is None else frozen.access_key,
            aws_secret_access_key=None if frozen is None else frozen.secret_key,
            aws_session_token=None if frozen is None else frozen.token,
        )
        self._names: set[str] = set()

    def table(self, model: type[M], name: str) -> Table[M]:
        """The table `name`, holding `model` items (its key schema is registered by the first
        model asked for it: the merchants table's two item types share one key)."""
        if name not in self._names:
            self.connection.add_meta_table(key_schema(model, name))
            self._names.add(name)
        return Table(self.connection, name, model)


class Table(Generic[M]):
    """One table's items as `model` instances: the few requests the adapters make, keyed by
    the model's hash key (serialised by its attribute, e.g. with a type prefix)."""

    def __init__(self, connection: Connection, name: str, model: type[M]) -> None:
        self.connection = connection
        self.name = name
        self.model = model
        self._hash_key = next(a for a in model.get_attributes().values() if a.is_hash_key)

    def key(self, hash_key: Any) -> str:
        """The stored form of a hash key value."""
        serialized: str = self._hash_key.serialize(hash_key)
        return serialized

    def get(self, hash_key: Any) -> M | None:
        """The item (strongly consistent GetItem), or None."""
        answer = self.connection.get_item(self.name, self.key(hash_key), consistent_read=True)
        item = answer.get(ITEM)
        return None if item is None else self.model.from_raw_data(item)

    def put(self, item: M, condition: Condition | None = None) -> None:
        """PutItem of the whole item, if `condition` holds."""
        hash_key, attributes = self._split(item)
        self.connection.put_item(self.name, hash_key, attributes=attributes, condition=condition)

    def update(self, hash_key: Any, actions: list[Action], condition: Condition) -> None:
        """UpdateItem with `actions` if `condition` holds; nothing is asked back."""
        self.connection.update_item(
            self.name, self.key(hash_key), actions=actions, condition=condition, return_values=NONE
        )

    def delete(self, hash_key: Any, condition: Condition) -> None:
        """DeleteItem if `condition` holds."""
        self.connection.delete_item(self.name, self.key(hash_key), condition=condition)

    def put_request(self, item: M, condition: Condition) -> dict[str, Any]:
        """The Put of a TransactWriteItems request for the whole item."""
        hash_key, attributes = self._split(item)
        return self.connection.get_operation_kwargs(
            self.name, hash_key, key=ITEM, attributes=attributes, condition=condition
        )

    def update_request(
        self, hash_key: Any, actions: list[Action], condition: Condition
    ) -> dict[str, Any]:
        """The Update of a TransactWriteItems request."""
        return self.connection.get_operation_kwargs(
            self.name, self.key(hash_key), key=KEY, actions=actions, condition=condition
        )

    def query_index(
        self,
        index_name: str,
        hash_key: str,
        condition: Condition,
        limit: int,
        *,
        descending: bool = False,
        filter_condition: Condition | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The raw entries of an index under `hash_key` meeting the range key `condition` (and
        `filter_condition`, if given), in range key order (or its reverse), at most `limit`.

        DynamoDB applies a filter after its `Limit`: a Query can come back short with more to
        read, so this asks again, from where the last one stopped, until `limit` entries
        passed or the index has no more: one Query when nothing is filtered out."""
        start: dict[str, Any] | None = None
        left = limit
        while left > 0:
            page = self.connection.query(
                self.name,
                hash_key,
                range_key_condition=condition,
                filter_condition=filter_condition,
                index_name=index_name,
                limit=left,
                exclusive_start_key=start,
                scan_index_forward=not descending,
            )
            entries = page.get(ITEMS, [])
            yield from entries[:left]
            left -= len(entries)
            start = page.get(LAST_EVALUATED_KEY)
            if start is None:
                return

    def _split(self, item: M) -> tuple[str, dict[str, Any]]:
        attributes = item.serialize()
        hash_key: str = attributes.pop(self._hash_key.attr_name)[self._hash_key.attr_type]
        return hash_key, attributes
