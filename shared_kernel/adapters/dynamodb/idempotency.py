"""IdempotencyStore on DynamoDB: one item per (merchant, Idempotency-Key), every write conditional.

`pk` is `<merchant_id>#<key>`. `expires_at` is the table's TTL attribute (epoch seconds);
DynamoDB deletes expired items only eventually, so a claim also overwrites an item whose
`expires_at` has passed. `owner` is the random token of the claim holding the item: taking
over and releasing (ending the lock at once) are conditional on it, so a claim that was
taken over can change nothing. The claim is the item's only full write; no answer is
stored (a replay rebuilds it from the payment stored under `submission_id`), and the
request is kept only as a keyed hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from pynamodb.attributes import Attribute, TTLAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.models import TableAddress, bound_model
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
    """One idempotency record (storage type, bound to no table: see `models.bound_model`;
    mapped to IdempotencyRecord explicitly)."""

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


def to_item(claim: IdempotencyClaim, model: type[IdempotencyModel]) -> IdempotencyModel:
    """The item a claim writes (as a `model`)."""
    return model(
        pk=claim.scope,
        request_hash=claim.request_hash,
        owner=claim.owner,
        submission_id=str(claim.submission_id),
        expires_at=claim.expires_at,
        locked_until=claim.locked_until,
    )


class DynamoIdempotencyStore:
    """Idempotency records in the idempotency table."""

    def __init__(self, table: TableAddress) -> None:
        self._model = bound_model(IdempotencyModel, table)

    def claim(self, claim: IdempotencyClaim) -> bool:
        """PutItem if attribute_not_exists(pk) OR expires_at < claimed_at."""
        condition = self._model.pk.does_not_exist() | (self._model.expires_at < claim.claimed_at)
        try:
            to_item(claim, self._model).save(condition=condition)
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record (strongly consistent GetItem), or None."""
        try:
            return to_record(self._model.get(scope, consistent_read=True))
        except self._model.DoesNotExist:
            return None

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """UpdateItem owner and lock if `stale_owner` still holds the record."""
        return self._update(
            scope,
            [self._model.owner.set(owner), self._model.locked_until.set(locked_until)],
            self._model.owner == stale_owner,
        )

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """UpdateItem locked_until = now if `owner` still holds the record (else leave it):
        a retry takes it over at once and resumes its submission id."""
        self._update(scope, [self._model.locked_until.set(now)], self._model.owner == owner)

    def _update(self, scope: str, actions: list[Action], condition: Condition) -> bool:
        try:
            self._model(pk=scope).update(actions=actions, condition=condition)
        except UpdateError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True
