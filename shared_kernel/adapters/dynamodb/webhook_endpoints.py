"""The merchants' webhook endpoints on DynamoDB, with their secrets sealed by KMS: the
merchant API's `WebhookEndpointRegistry` and the sender's `WebhookEndpoints` in one adapter.

The endpoints table is keyed by `merchant_id` (hash) and `endpoint_id` (range): a merchant's
endpoints are one Query. Beside them, each merchant has one count item (`endpoint_id` =
`count`, never a UUID) holding how many endpoints it has. Adding an endpoint is one
TransactWriteItems: the count + 1 if it is below the limit, and the endpoint's Put if its
id is new; deleting is the Delete if the endpoint exists and the count - 1. So the limit
holds under any concurrency, and a crash leaves both or neither. (The table is small and
not streamed: the emulator's whole-table copy per transaction stays cheap there.)

Secrets are stored sealed (`secrets`, a list of maps); rotating them is an UpdateItem
conditional on the endpoint's `version`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pynamodb.attributes import (
    BinaryAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import ITEM, ITEMS, KEY
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.models import TimestampAttribute
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.application.webhook_endpoints import SigningEndpoints
from shared_kernel.application.webhook_ports import (
    SecretSealer,
    StoredEndpoint,
    WebhookEndpoint,
)
from shared_kernel.domain.errors import EndpointLimitReached
from shared_kernel.domain.webhook_endpoint import SealedSecret

COUNT_ITEM = "count"
_CONDITION_FAILED = "ConditionalCheckFailed"


class SecretRecord(MapAttribute[str, Any]):
    """One sealed secret of an endpoint."""

    secret_id = UnicodeAttribute()
    blob = BinaryAttribute(legacy_encoding=False)
    created_at = TimestampAttribute()
    expires_at = TimestampAttribute(null=True)


class WebhookEndpointModel(Model):
    """One endpoint (storage type, bound to no table: see `tables.py`)."""

    merchant_id = UnicodeAttribute(hash_key=True)
    endpoint_id = UnicodeAttribute(range_key=True)
    url = UnicodeAttribute()
    enabled_events = ListAttribute(of=UnicodeAttribute)
    created_at = TimestampAttribute()
    secrets = ListAttribute(of=SecretRecord)
    version = NumberAttribute(default=0)


class EndpointCountModel(Model):
    """A merchant's count item: how many endpoints it has."""

    merchant_id = UnicodeAttribute(hash_key=True)
    endpoint_id = UnicodeAttribute(range_key=True, default=COUNT_ITEM)
    endpoint_count = NumberAttribute(default=0)


def _reasons(error: TransactWriteError, count: int) -> list[str | None]:
    """The cancellation reason code of each of a transaction's `count` items, in order."""
    codes = [r.code if r is not None else None for r in error.cancellation_reasons]
    return (codes + [None] * count)[:count]


def _endpoint(item: WebhookEndpointModel) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=UUID(item.endpoint_id),
        merchant_id=UUID(item.merchant_id),
        url=item.url,
        enabled_events=tuple(str(e) for e in item.enabled_events),
        created_at=item.created_at,
    )


def _secret(record: SecretRecord) -> SealedSecret:
    return SealedSecret(
        id=UUID(record.secret_id),
        blob=record.blob,
        created_at=record.created_at,
        expires_at=record.expires_at,
    )


def _record(secret: SealedSecret) -> SecretRecord:
    # PynamoDB's MapAttribute.__init__ is untyped; --strict reports calling it.
    return SecretRecord(  # type: ignore[no-untyped-call,unused-ignore]
        secret_id=str(secret.id),
        blob=secret.blob,
        created_at=secret.created_at,
        expires_at=secret.expires_at,
    )


class DynamoWebhookEndpoints:
    """Endpoints in the endpoints table; secrets sealed and opened by `sealer`."""

    def __init__(self, tables: DynamoTables, table_name: str, sealer: SecretSealer) -> None:
        tables.table(WebhookEndpointModel, table_name)  # registers the key schema
        self._dynamodb = tables.connection
        self._name = table_name
        self._signing = SigningEndpoints(self, sealer)

    # -- the merchant API (WebhookEndpointRegistry) -----------------------------------

    def add(self, endpoint: WebhookEndpoint, secret: SealedSecret, limit: int) -> None:
        """Count + 1 below `limit` and the endpoint's Put, in one transaction."""
        item = WebhookEndpointModel(
            merchant_id=str(endpoint.merchant_id),
            endpoint_id=str(endpoint.id),
            url=endpoint.url,
            enabled_events=list(endpoint.enabled_events),
            created_at=endpoint.created_at,
            secrets=[_record(secret)],
            version=0,
        )
        attributes = item.serialize()
        hash_key = attributes.pop("merchant_id")["S"]
        range_key = attributes.pop("endpoint_id")["S"]
        put = self._dynamodb.get_operation_kwargs(
            self._name,
            hash_key,
            range_key,
            key=ITEM,
            attributes=attributes,
            condition=WebhookEndpointModel.endpoint_id.does_not_exist(),
        )
        count = EndpointCountModel.endpoint_count
        increment = self._dynamodb.get_operation_kwargs(
            self._name,
            hash_key,
            COUNT_ITEM,
            key=KEY,
            actions=[count.add(1)],  # ADD: 1 on the merchant's first endpoint
            condition=count.does_not_exist() | (count < limit),
        )
        try:
            self._dynamodb.transact_write_items(
                condition_check_items=[], delete_items=[], put_items=[put], update_items=[increment]
            )
        except TransactWriteError as error:
            put_reason, count_reason = _reasons(error, 2)  # PynamoDB sends puts, then updates
            if put_reason == _CONDITION_FAILED:
                raise ValueError(f"endpoint {endpoint.id} is already stored") from error
            if count_reason == _CONDITION_FAILED:
                raise EndpointLimitReached(str(endpoint.merchant_id)) from error
            raise

    def endpoints(self, merchant_id: UUID) -> list[WebhookEndpoint]:
        """One consistent Query of the merchant's items, oldest first (count item skipped)."""
        return [_endpoint(item) for item in self._items(merchant_id)]

    def stored(self, merchant_id: UUID, endpoint_id: UUID) -> StoredEndpoint | None:
        """One consistent GetItem."""
        answer = self._dynamodb.get_item(
            self._name, str(merchant_id), str(endpoint_id), consistent_read=True
        )
        raw = answer.get(ITEM)
        if raw is None:
            return None
        item = WebhookEndpointModel.from_raw_data(raw)
        secrets = tuple(_secret(r) for r in item.secrets)
        return StoredEndpoint(_endpoint(item), secrets, int(item.version))

    def replace_secrets(self, stored: StoredEndpoint, secrets: Sequence[SealedSecret]) -> bool:
        """UpdateItem secrets, version + 1, if the version is still `stored.version`."""
        model = WebhookEndpointModel
        try:
            self._dynamodb.update_item(
                self._name,
                str(stored.endpoint.merchant_id),
                str(stored.endpoint.id),
                actions=[
                    model.secrets.set([_record(s) for s in secrets]),
                    model.version.set(stored.version + 1),
                ],
                condition=model.version == stored.version,
            )
        except UpdateError as error:
            if error.cause_response_code == _CONDITION_FAILED + "Exception":
                return False
            raise
        return True

    def remove(self, merchant_id: UUID, endpoint_id: UUID) -> bool:
        """The endpoint's Delete if it exists and count - 1, in one transaction."""
        delete = self._dynamodb.get_operation_kwargs(
            self._name,
            str(merchant_id),
            str(endpoint_id),
            key=KEY,
            condition=WebhookEndpointModel.endpoint_id.exists(),
        )
        count = EndpointCountModel.endpoint_count
        decrement = self._dynamodb.get_operation_kwargs(
            self._name,
            str(merchant_id),
            COUNT_ITEM,
            key=KEY,
            actions=[count.add(-1)],
            condition=count > 0,
        )
        try:
            self._dynamodb.transact_write_items(
                condition_check_items=[],
                delete_items=[delete],
                put_items=[],
                update_items=[decrement],
            )
        except TransactWriteError as error:
            delete_reason, _ = _reasons(error, 2)  # PynamoDB sends deletes, then updates
            if delete_reason == _CONDITION_FAILED:
                return False
            raise
        return True

    # -- the sender (WebhookEndpoints): secrets opened by the sealer (KMS Decrypt) -------

    def subscribed(self, merchant_id: UUID, event_type: str) -> list[WebhookEndpoint]:
        """The merchant's endpoints that want `event_type` (one Query)."""
        return self._signing.subscribed(merchant_id, event_type)

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint (one GetItem), or None once deleted."""
        return self._signing.get(merchant_id, endpoint_id)

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The live secrets at `now`, newest first (one GetItem, Decrypt unless cached)."""
        return self._signing.signing_secrets(endpoint, now)

    def _items(self, merchant_id: UUID) -> list[WebhookEndpointModel]:
        items: list[WebhookEndpointModel] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._dynamodb.query(
                self._name, str(merchant_id), consistent_read=True, exclusive_start_key=start
            )
            items += [
                WebhookEndpointModel.from_raw_data(raw)
                for raw in page.get(ITEMS, [])
                if raw["endpoint_id"]["S"] != COUNT_ITEM
            ]
            start = page.get("LastEvaluatedKey")
            if start is None:
                return sorted(items, key=lambda i: (i.created_at, i.endpoint_id))
