"""MerchantDirectory on DynamoDB: merchants and their API keys (keyed hashes) in one table.

A merchant and its first key are written in one transaction, so a key never points at a
merchant that does not exist. Resolving a key is one GetItem on `apikey#<hash>`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from shared_kernel.adapters.dynamodb.models import API_KEY_ACTIVE, ApiKeyModel, MerchantModel
from shared_kernel.domain.ids import parse_uuid


class DynamoMerchantDirectory:
    """Merchants (`merchant#<uuid>`) and API keys (`apikey#<hash>`) in the merchants table."""

    def __init__(
        self,
        connection: Connection | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # Registration and rotation run a transaction, which takes a connection: the merchant
        # model's, unless one is given.
        self._connection = connection
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
        try:
            with TransactWrite(connection=self._transaction_connection()) as transaction:
                transaction.save(merchant, condition=MerchantModel.merchant_id.does_not_exist())
                transaction.save(key, condition=ApiKeyModel.key_hash.does_not_exist())
        except TransactWriteError as error:
            reasons = [r.code for r in error.cancellation_reasons if r is not None]
            if "ConditionalCheckFailed" in reasons:
                raise ValueError("merchant or API key is already registered") from error
            raise

    def merchant_for(self, key_hash: str) -> UUID | None:
        """The merchant owning an active key with this hash, or None (one consistent GetItem)."""
        try:
            key = ApiKeyModel.get(key_hash, consistent_read=True)
        except ApiKeyModel.DoesNotExist:
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
            merchant = MerchantModel.get(str(merchant_id), consistent_read=True)
        except MerchantModel.DoesNotExist:
            raise LookupError(f"no merchant {merchant_id}") from None
        earlier = set(merchant.key_hashes or set())
        key = ApiKeyModel(
            key_hash=key_hash,
            merchant_id=str(merchant_id),
            status=API_KEY_ACTIVE,
            created_at=created_at,
        )
        with TransactWrite(connection=self._transaction_connection()) as transaction:
            transaction.save(key, condition=ApiKeyModel.key_hash.does_not_exist())
            transaction.update(
                merchant,
                actions=[MerchantModel.key_hashes.add({key_hash})],
                condition=MerchantModel.merchant_id.exists(),
            )
        for old_hash in earlier:
            try:
                ApiKeyModel(key_hash=old_hash).update(
                    actions=[ApiKeyModel.revoke_after.set(revoke_old_at)],
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

    def _transaction_connection(self) -> Connection:
        if self._connection is None:
            # The model's own connection: the same client as every other request.
            self._connection = MerchantModel._get_connection().connection
        return self._connection
