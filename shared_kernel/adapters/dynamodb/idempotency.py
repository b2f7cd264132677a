"""IdempotencyStore on DynamoDB: one item per (merchant, Idempotency-Key), every write conditional.

`pk` is `<merchant_id>#<key>`. `expires_at` is the table's TTL attribute (epoch seconds);
DynamoDB deletes expired items only eventually, so a claim also overwrites an item whose
`expires_at` has passed. `owner` is the random token of the claim holding the item: taking
over, releasing (ending the lock at once) and forgetting (deleting the record of a refused
request) are conditional on it, so a claim that was
taken over can change nothing. The claim is the item's only full write; no answer is
stored (a replay rebuilds it from the payment stored under `submission_id`), and the
request is kept only as a keyed hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from pynamodb.attributes import Attribute, TTLAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.application.ports import IdempotencyClaim, IdempotencyRecord

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"


class EpochMillisAttribute(Attribute[datetime]):
    """A UTC datetime stored as whole milliseconds since the epoch (a Number)."""

    attr_type = NUMBER

    def serialize(self, value: datetime) -> str:
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return str(round(value.timestamp() * 1000))

    def deserialize(self, value: str) -> datetime:
        return datetime.fromtimestamp(int(value) / 1000, UTC)


class IdempotencyModel(Model):
    """One idempotency record (storage type, bound to no table: see `tables.py`; mapped to
    IdempotencyRecord explicitly)."""

    pk = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    owner = UnicodeAttribute()
    # The payment id the submission stores under; a takeover resumes with the same one.
    submission_id = UnicodeAttribute()
    expires_at = TTLAttribute()
    locked_until = EpochMillisAttribute()


def to_record(item: IdempotencyModel) -> IdempotencyRecord:
    """The record an item holds."""
    return IdempotencyRecord(
        scope=item.pk,
        request_hash=item.request_hash,
        owner=item.owner,
        submission_id=UUID(item.submission_id),
        expires_at=item.expires_at,
        locked_until=item.locked_until,
    )


def to_item(claim: IdempotencyClaim) -> IdempotencyModel:
    """The item a claim writes."""
    return IdempotencyModel(
        pk=claim.scope,
        request_hash=claim.request_hash,
        owner=claim.owner,
        submission_id=str(claim.submission_id),
        expires_at=claim.expires_at,
        locked_until=claim.locked_until,
    )


class DynamoIdempotencyStore:
    """Idempotency records in the idempotency table."""

    def __init__(self, tables: DynamoTables, table_name: str) -> None:
        self._table = tables.table(IdempotencyModel, table_name)

    def claim(self, claim: IdempotencyClaim) -> bool:
        """PutItem if attribute_not_exists(pk) OR expires_at < claimed_at."""
        condition = IdempotencyModel.pk.does_not_exist() | (
            IdempotencyModel.expires_at < claim.claimed_at
        )
        try:
            self._table.put(to_item(claim), condition=condition)
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record (strongly consistent GetItem), or None."""
        item = self._table.get(scope)
        return None if item is None else to_record(item)

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """UpdateItem owner and lock if `stale_owner` still holds the record."""
        return self._update(
            scope,
            [IdempotencyModel.owner.set(owner), IdempotencyModel.locked_until.set(locked_until)],
            IdempotencyModel.owner == stale_owner,
        )

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """UpdateItem locked_until = now if `owner` still holds the record (else leave it):
        a retry takes it over at once and resumes its submission id."""
        self._update(
            scope, [IdempotencyModel.locked_until.set(now)], IdempotencyModel.owner == owner
        )

    def forget(self, scope: str, owner: str) -> None:
        """DeleteItem if `owner` still holds the record (else leave it)."""
        try:
            self._table.delete(scope, IdempotencyModel.owner == owner)
        except DeleteError as error:
            if error.cause_response_code != CONDITIONAL_CHECK_FAILED:
                raise

    def _update(self, scope: str, actions: list[Action], condition: Condition) -> bool:
        try:
            self._table.update(scope, actions, condition)
        except UpdateError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True
