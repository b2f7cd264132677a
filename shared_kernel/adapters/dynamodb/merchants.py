"""MerchantDirectory on DynamoDB: merchants and their API keys (keyed hashes) in one table.

A merchant and its first key are written in one transaction, so a key never points at a
merchant that does not exist. Resolving a key is one GetItem on `apikey#<hash>`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared_kernel.adapters.dynamodb.models import API_KEY_ACTIVE, ApiKeyModel, MerchantModel
from shared_kernel.domain.ids import parse_uuid


class DynamoMerchantDirectory:
    """Merchants (`merchant#<uuid>`) and API keys (`apikey#<hash>`) in the merchants table."""

    def __init__(self, connection: Connection | None = None) -> None:
        # Only registration needs a connection of its own (for the transaction); it is rare,
        # so the connection is made on first use rather than at cold start.
        self._connection = connection

    def add(self, merchant_id: UUID, name: str, key_hash: str, created_at: datetime) -> None:
        """Register a merchant and its first API key, both or neither.

        Raises ValueError if the merchant or the key hash is already registered.
        """
        merchant = MerchantModel(merchant_id=str(merchant_id), name=name, created_at=created_at)
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
        return parse_uuid(key.merchant_id)

    def _transaction_connection(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(
                region=MerchantModel.Meta.region, host=MerchantModel.Meta.host
            )
        return self._connection
