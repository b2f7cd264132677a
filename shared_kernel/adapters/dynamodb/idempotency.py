"""IdempotencyStore on DynamoDB: one item per (merchant, Idempotency-Key), every write conditional.

`pk` is `<merchant_id>#<key>`. `expires_at` is the table's TTL attribute (epoch seconds);
DynamoDB deletes expired items only eventually, so a claim also overwrites an item whose
`expires_at` has passed. `owner` is the random token of the claim holding the item: taking
over, completing and releasing (ending the lock at once) are conditional on it, so a claim
that was taken over can change nothing. The stored answer is the payment resource (no card
data); the request is kept only as a keyed hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pynamodb.attributes import Attribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.models import use_client
from shared_kernel.application.ports import IdempotencyRecord, IdempotencyState, StoredAnswer

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
    """One idempotency record (storage type; mapped to IdempotencyRecord explicitly)."""

    class Meta:
        table_name = "idempotency"  # replaced by bind_idempotency_table
        region: str | None = None
        host: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    owner = UnicodeAttribute()
    # The payment id the submission stores under; a takeover resumes with the same one.
    submission_id = UnicodeAttribute()
    expires_at = TTLAttribute()
    locked_until = EpochMillisAttribute()
    response_status = NumberAttribute(null=True)
    response_body = UnicodeAttribute(null=True)
    # The answer's own headers (Location) as JSON text.
    response_headers = UnicodeAttribute(null=True)


def bind_idempotency_table(
    table_name: str,
    region: str,
    host: str | None,
    *,
    client: Any = None,
    connect_timeout_seconds: int = 2,
    read_timeout_seconds: int = 5,
) -> None:
    """Point the model at its table (and endpoint), with short timeouts; drops the connection.

    With `client`, the model sends through it (see `models.use_client`).
    """
    meta = IdempotencyModel.Meta
    meta.table_name = table_name
    meta.region = region
    meta.host = host
    meta.connect_timeout_seconds = connect_timeout_seconds  # type: ignore[attr-defined]
    meta.read_timeout_seconds = read_timeout_seconds  # type: ignore[attr-defined]
    IdempotencyModel._connection = None
    if client is not None:
        use_client(IdempotencyModel, client)


def to_record(item: IdempotencyModel) -> IdempotencyRecord:
    """The record an item holds."""
    answer = None
    if item.response_status is not None and item.response_body is not None:
        headers = json.loads(item.response_headers) if item.response_headers else {}
        answer = StoredAnswer(int(item.response_status), item.response_body, headers)
    return IdempotencyRecord(
        scope=item.pk,
        request_hash=item.request_hash,
        state=IdempotencyState(item.status),
        owner=item.owner,
        submission_id=UUID(item.submission_id),
        expires_at=item.expires_at,
        locked_until=item.locked_until,
        answer=answer,
    )


class DynamoIdempotencyStore:
    """Idempotency records in the idempotency table."""

    def claim(
        self,
        scope: str,
        request_hash: str,
        owner: str,
        submission_id: UUID,
        now: datetime,
        expires_at: datetime,
        locked_until: datetime,
    ) -> bool:
        """PutItem IN_PROGRESS if attribute_not_exists(pk) OR expires_at < now."""
        item = IdempotencyModel(
            pk=scope,
            status=IdempotencyState.IN_PROGRESS.value,
            request_hash=request_hash,
            owner=owner,
            submission_id=str(submission_id),
            expires_at=expires_at,
            locked_until=locked_until,
        )
        condition = IdempotencyModel.pk.does_not_exist() | (IdempotencyModel.expires_at < now)
        try:
            item.save(condition=condition)
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record (strongly consistent GetItem), or None."""
        try:
            return to_record(IdempotencyModel.get(scope, consistent_read=True))
        except IdempotencyModel.DoesNotExist:
            return None

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """UpdateItem owner and lock if the record is still IN_PROGRESS under `stale_owner`."""
        condition = (IdempotencyModel.owner == stale_owner) & (
            IdempotencyModel.status == IdempotencyState.IN_PROGRESS.value
        )
        return self._update(
            scope,
            [IdempotencyModel.owner.set(owner), IdempotencyModel.locked_until.set(locked_until)],
            condition,
        )

    def complete(self, scope: str, owner: str, answer: StoredAnswer) -> bool:
        """UpdateItem to COMPLETED with the answer if `owner` still holds the record."""
        actions: list[Action] = [
            IdempotencyModel.status.set(IdempotencyState.COMPLETED.value),
            IdempotencyModel.response_status.set(answer.status),
            IdempotencyModel.response_body.set(answer.body),
            IdempotencyModel.response_headers.set(json.dumps(dict(answer.headers))),
        ]
        condition = (IdempotencyModel.owner == owner) & (
            IdempotencyModel.status == IdempotencyState.IN_PROGRESS.value
        )
        return self._update(scope, actions, condition)

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """UpdateItem locked_until = now if the record is still IN_PROGRESS under `owner`
        (else leave it): a retry takes it over at once and resumes its submission id."""
        condition = (IdempotencyModel.owner == owner) & (
            IdempotencyModel.status == IdempotencyState.IN_PROGRESS.value
        )
        self._update(scope, [IdempotencyModel.locked_until.set(now)], condition)

    def _update(self, scope: str, actions: list[Action], condition: Condition) -> bool:
        try:
            IdempotencyModel(pk=scope).update(actions=actions, condition=condition)
        except UpdateError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                return False
            raise
        return True
