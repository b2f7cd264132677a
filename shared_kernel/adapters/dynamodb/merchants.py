"""MerchantDirectory on DynamoDB: merchants and their API keys (keyed hashes) in one table.

A merchant and its first key are written in one transaction, so a key never points at a
merchant that does not exist. Resolving a key is one GetItem on `apikey#<hash>`.

The directory binds its own model classes to its table (`models.bound_model`). A transaction
needs a PynamoDB `Connection` of its own (the models' connections are theirs); it is built
on the first registration or rotation only, so the authorizer, which only reads keys, never
pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from shared_kernel.adapters.dynamodb.models import (
    API_KEY_ACTIVE,
    CONNECT_TIMEOUT_S,
    MAX_RETRY_ATTEMPTS,
    READ_TIMEOUT_S,
    ApiKeyModel,
    MerchantModel,
    TableAddress,
    bound_model,
)
from shared_kernel.domain.ids import parse_uuid


class DynamoMerchantDirectory:
    """Merchants (`merchant#<uuid>`) and API keys (`apikey#<hash>`) in the merchants table."""

    def __init__(
        self,
        table: TableAddress,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._table = table
        self._merchants = bound_model(MerchantModel, table)
        self._keys = bound_model(ApiKeyModel, table)
        self._transactions: Connection | None = None  # built on first use
        self._clock = clock

    def add(self, merchant_id: UUID, name: str, key_hash: str, created_at: datetime) -> None:
        """Register a merchant and its first API key, both or neither.

        Raises ValueError if the merchant or the key hash is already registered.
        """
        merchant = self._merchants(
            merchant_id=str(merchant_id), name=name, created_at=created_at, key_hashes={key_hash}
        )
        key = self._keys(
            key_hash=key_hash,
            merchant_id=str(merchant_id),
            status=API_KEY_ACTIVE,
            created_at=created_at,
        )
        try:
            with TransactWrite(connection=self._transaction_connection()) as transaction:
                transaction.save(merchant, condition=self._merchants.merchant_id.does_not_exist())
                transaction.save(key, condition=self._keys.key_hash.does_not_exist())
        except TransactWriteError as error:
            reasons = [r.code for r in error.cancellation_reasons if r is not None]
            if "ConditionalCheckFailed" in reasons:
                raise ValueError("merchant or API key is already registered") from error
            raise

    def merchant_for(self, key_hash: str) -> UUID | None:
        """The merchant owning an active key with this hash, or None (one consistent GetItem)."""
        try:
            key = self._keys.get(key_hash, consistent_read=True)
        except self._keys.DoesNotExist:
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
        try:
            merchant = self._merchants.get(str(merchant_id), consistent_read=True)
        except self._merchants.DoesNotExist:
            raise LookupError(f"no merchant {merchant_id}") from None
        earlier = set(merchant.key_hashes or set())
        key = self._keys(
            key_hash=key_hash,
            merchant_id=str(merchant_id),
            status=API_KEY_ACTIVE,
            created_at=created_at,
        )
        with TransactWrite(connection=self._transaction_connection()) as transaction:
            transaction.save(key, condition=self._keys.key_hash.does_not_exist())
            transaction.update(
                merchant,
                actions=[self._merchants.key_hashes.add({key_hash})],
                condition=self._merchants.merchant_id.exists(),
            )
        for old_hash in earlier:
            try:
                self._keys(key_hash=old_hash).update(
                    actions=[self._keys.revoke_after.set(revoke_old_at)],
                    condition=self._keys.key_hash.exists()
                    & (
                        self._keys.revoke_after.does_not_exist()
                        | (self._keys.revoke_after > revoke_old_at)
                    ),
                )
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
        return len(earlier)

    def _transaction_connection(self) -> Connection:
        if self._transactions is None:
            self._transactions = Connection(
                region=self._table.region,
                host=self._table.host,
                connect_timeout_seconds=CONNECT_TIMEOUT_S,
                read_timeout_seconds=READ_TIMEOUT_S,
                max_retry_attempts=MAX_RETRY_ATTEMPTS,
            )
        return self._transactions
