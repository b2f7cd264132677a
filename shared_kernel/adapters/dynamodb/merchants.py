"""MerchantDirectory on DynamoDB: merchants and their API keys (keyed hashes) in one table.

A merchant and its first key are written in one transaction, so a key never points at a
merchant that does not exist. Resolving a key is one GetItem on `apikey#<hash>`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pynamodb.exceptions import TransactWriteError, UpdateError

from shared_kernel.adapters.dynamodb.models import API_KEY_ACTIVE, ApiKeyModel, MerchantModel
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.domain.ids import parse_uuid


class DynamoMerchantDirectory:
    """Merchants (`merchant#<uuid>`) and API keys (`apikey#<hash>`) in the merchants table."""

    def __init__(
        self,
        tables: DynamoTables,
        table_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._merchants = tables.table(MerchantModel, table_name)
        self._keys = tables.table(ApiKeyModel, table_name)
        self._dynamodb = tables.connection  # its transactions span both item types
        self._clock = clock

    def add(self, merchant_id: UUID, name: str, key_hash: str, created_at: datetime) -> None:
        """Register a merchant and its first API key, both or neither.

        Raises ValueError if the merchant or the key hash is already registered.
        """
        merchant = MerchantModel(
            merchant_id=str(merchant_id), name=name, created_at=created_at, key_hashes={key_hash}
        )
        key = ApiKeyModel(
            key_hash=key_hash,
            merchant_id=str(merchant_id),
            status=API_KEY_ACTIVE,
            created_at=created_at,
        )
        puts = [
            self._merchants.put_request(merchant, MerchantModel.merchant_id.does_not_exist()),
            self._keys.put_request(key, ApiKeyModel.key_hash.does_not_exist()),
        ]
        try:
            self._transact(puts=puts)
        except TransactWriteError as error:
            reasons = [r.code for r in error.cancellation_reasons if r is not None]
            if "ConditionalCheckFailed" in reasons:
                raise ValueError("merchant or API key is already registered") from error
            raise

    def merchant_for(self, key_hash: str) -> UUID | None:
        """The merchant owning an active key with this hash, or None (one consistent GetItem)."""
        key = self._keys.get(key_hash)
        if key is None:
            return None
        if key.status != API_KEY_ACTIVE:
            return None
        if key.revoke_after is not None and self._clock() >= key.revoke_after:
            return None
        return parse_uuid(key.merchant_id)

    def rotate_key(
        self, merchant_id: UUID, key_hash: str, created_at: datetime, revoke_old_at: datetime
    ) -> int:
        """Add a key to a merchant, then schedule every earlier key of it to stop working at
        `revoke_old_at` (an earlier schedule stays); the number of earlier keys.

        Raises LookupError for an unknown merchant. The new key is written first, so the
        merchant is never left without a working key.
        """
        merchant = self._merchants.get(str(merchant_id))
        if merchant is None:
            raise LookupError(f"no merchant {merchant_id}")
        earlier = set(merchant.key_hashes or set())
        key = ApiKeyModel(
            key_hash=key_hash,
            merchant_id=str(merchant_id),
            status=API_KEY_ACTIVE,
            created_at=created_at,
        )
        self._transact(
            puts=[self._keys.put_request(key, ApiKeyModel.key_hash.does_not_exist())],
            updates=[
                self._merchants.update_request(
                    str(merchant_id),
                    [MerchantModel.key_hashes.add({key_hash})],
                    MerchantModel.merchant_id.exists(),
                )
            ],
        )
        for old_hash in earlier:
            try:
                self._keys.update(
                    old_hash,
                    [ApiKeyModel.revoke_after.set(revoke_old_at)],
                    condition=ApiKeyModel.key_hash.exists()
                    & (
                        ApiKeyModel.revoke_after.does_not_exist()
                        | (ApiKeyModel.revoke_after > revoke_old_at)
                    ),
                )
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
        return len(earlier)

    def _transact(self, puts: list[dict[str, Any]], updates: Sequence[dict[str, Any]] = ()) -> None:
        """One TransactWriteItems: every put and update, or none."""
        self._dynamodb.transact_write_items(
            condition_check_items=[], delete_items=[], put_items=puts, update_items=updates
        )
