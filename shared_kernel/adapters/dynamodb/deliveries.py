"""DeliveryLog on DynamoDB: one item per webhook delivery attempt, kept 30 days (TTL).

Keys: `event_id` (hash) and `attempt_key` (range) = `<endpoint id>#<attempt, 3 digits>` for an
attempt of the schedule, so SQS's repeat of an attempt overwrites its own record, and
`<endpoint id>#resend#<time>` for a merchant's resend, which never overwrites a scheduled
attempt. An event's attempts are one Query on its hash key; they are few (at most 16
endpoints, nine attempts each, and resends), and sorted by time here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.constants import ITEMS, LAST_EVALUATED_KEY
from pynamodb.models import Model

from shared_kernel.adapters.dynamodb.models import TimestampAttribute, format_timestamp
from shared_kernel.adapters.dynamodb.tables import DynamoTables, key_schema
from shared_kernel.application.webhook_ports import DeliveryAttempt

# As long as the events themselves (SPEC §10): the log is read per event.
KEPT = timedelta(days=30)


class DeliveryModel(Model):
    """One delivery attempt (storage type, bound to no table: see `tables.py`)."""

    event_id = UnicodeAttribute(hash_key=True)
    attempt_key = UnicodeAttribute(range_key=True)
    endpoint_id = UnicodeAttribute()
    attempt = NumberAttribute()
    at = TimestampAttribute()
    status_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute()
    resend = BooleanAttribute()
    delivery_failed = BooleanAttribute()
    expires_at = TTLAttribute()


def attempt_key(attempt: DeliveryAttempt) -> str:
    """The range key of an attempt (see the module docstring)."""
    if attempt.resend:
        return f"{attempt.endpoint_id}#resend#{format_timestamp(attempt.at)}"
    return f"{attempt.endpoint_id}#{attempt.attempt:03d}"


def to_item(attempt: DeliveryAttempt) -> DeliveryModel:
    """The item an attempt is stored as."""
    return DeliveryModel(
        event_id=str(attempt.event_id),
        attempt_key=attempt_key(attempt),
        endpoint_id=str(attempt.endpoint_id),
        attempt=attempt.attempt,
        at=attempt.at,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        resend=attempt.resend,
        delivery_failed=attempt.delivery_failed,
        expires_at=attempt.at + KEPT,
    )


def to_attempt(item: DeliveryModel) -> DeliveryAttempt:
    """The attempt an item holds."""
    return DeliveryAttempt(
        event_id=UUID(item.event_id),
        endpoint_id=UUID(item.endpoint_id),
        attempt=int(item.attempt),
        at=item.at,
        status_code=None if item.status_code is None else int(item.status_code),
        error=item.error,
        duration_ms=int(item.duration_ms),
        resend=bool(item.resend),
        delivery_failed=bool(item.delivery_failed),
    )


class DynamoDeliveryLog:
    """Delivery attempts in the deliveries table."""

    def __init__(self, tables: DynamoTables, table_name: str) -> None:
        self._requests = tables.connection
        self._name = table_name
        self._requests.add_meta_table(key_schema(DeliveryModel, table_name))

    def record(self, attempt: DeliveryAttempt) -> None:
        """PutItem (a repeat of the same scheduled attempt overwrites it)."""
        attributes = to_item(attempt).serialize()
        hash_key = attributes.pop("event_id")["S"]
        range_key = attributes.pop("attempt_key")["S"]
        self._requests.put_item(self._name, hash_key, range_key, attributes=attributes)

    def attempts(self, event_id: UUID) -> Sequence[DeliveryAttempt]:
        """The event's attempts (every page of one Query), oldest first."""
        found: list[DeliveryAttempt] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._requests.query(
                self._name, str(event_id), consistent_read=True, exclusive_start_key=start
            )
            found.extend(to_attempt(DeliveryModel.from_raw_data(i)) for i in page.get(ITEMS, []))
            start = page.get(LAST_EVALUATED_KEY)
            if start is None:
                return sorted(found, key=lambda a: (a.at, a.attempt))
