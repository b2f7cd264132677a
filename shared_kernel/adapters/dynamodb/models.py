"""PynamoDB storage models of the gateway's two tables: payments, and merchants with API keys.

These are storage types only; the repositories map them to and from the domain explicitly.
The classes here are bound to no table (no `Meta`): they build, serialise and parse items
and make the condition and update expressions, and the adapters send the requests through
their composition root's connection with the table names it was given (see `tables.py`).
The tables themselves are created by CloudFormation (docs/tables.md holds their definitions,
which the integration tests create from).

A payment's captures, voids and refunds live inside its item (`PaymentModel.actions`, a map
keyed by action id), so that reserving an action and recording it are one conditional write.

The merchants table holds two item types under one generic string hash key `pk`, told apart
by a prefix: `merchant#<uuid>` (a merchant) and `apikey#<keyed hash>` (one of its API keys).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BinaryAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.constants import MAP, STRING
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

OPEN_PAYMENTS_INDEX = "open-payments-by-next-check"
# The listing's indexes (SPEC §9): a merchant's payments, all of them, by status, by reference.
PAYMENTS_BY_MERCHANT_INDEX = "payments-by-merchant"
PAYMENTS_BY_STATUS_INDEX = "payments-by-merchant-status"
PAYMENTS_BY_REFERENCE_INDEX = "payments-by-merchant-reference"
# What a listed payment resource shows, besides the index's and the table's keys: the
# listing's indexes project exactly these (never the sealed card), so a page is one Query.
LISTED_ATTRIBUTES = [
    "merchant_id",
    "amount",
    "currency",
    "card_last4",
    "card_brand",
    "expiry_month",
    "expiry_year",
    "reference",
    "status",
    "decline_reason",
    "created_at",
    "updated_at",
    # The money-movement fields of the resource (SPEC §8); amount_refund_pending for
    # amount_refundable.
    "capture_method",
    "amount_captured",
    "amount_refunded",
    "amount_refund_pending",
    "capture_before",
    "cancellation_reason",
]
# The one hash key value of the open-payments index (see OpenPaymentsIndex on its limit).
OPEN_SHARD = "open"
MERCHANT_PREFIX = "merchant#"
API_KEY_PREFIX = "apikey#"
API_KEY_ACTIVE = "active"
API_KEY_REVOKED = "revoked"


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a `Z`, fixed width so that strings sort by time."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime written by `format_timestamp`."""
    return datetime.fromisoformat(text).astimezone(UTC)


class TimestampAttribute(Attribute[datetime]):
    """A UTC datetime stored as a sortable ISO 8601 string (see `format_timestamp`)."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return format_timestamp(value)

    def deserialize(self, value: str) -> datetime:
        return parse_timestamp(value)


class PrefixedKeyAttribute(Attribute[str]):
    """A string key stored with a fixed type prefix (`merchant#...`), read back without it."""

    attr_type = STRING

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def serialize(self, value: str) -> str:
        return self.prefix + value

    def deserialize(self, value: str) -> str:
        if not value.startswith(self.prefix):
            raise ValueError(f"key does not start with {self.prefix!r}")
        return value[len(self.prefix) :]


class ActionRecord(MapAttribute[str, Any]):
    """One capture, void or refund, stored inside its payment's item (its payment and
    merchant ids are the item's)."""

    action_id = UnicodeAttribute()
    kind = UnicodeAttribute(attr_name="type")
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    cancellation_reason = UnicodeAttribute(null=True)
    created_at = TimestampAttribute()
    updated_at = TimestampAttribute()
    # When the bank acknowledged the action (absent until then, and in older records).
    sent_at = TimestampAttribute(null=True)
    version = NumberAttribute()


# Serialises and parses one record (a typed MapAttribute is also its own serializer).
# PynamoDB's MapAttribute.__init__ and deserialize are untyped; --strict reports calling them.
_RECORD = ActionRecord()  # type: ignore[no-untyped-call,unused-ignore]


def serialize_action(record: ActionRecord) -> dict[str, Any]:
    """The stored form of one record, typed (`{"M": {...}}`), as an update sets it at
    `actions.<id>`."""
    return {MAP: _RECORD.serialize(record)}


class ActionsAttribute(Attribute[dict[str, ActionRecord]]):
    """A payment's actions: a map from action id to its `ActionRecord`.

    A map rather than a list so that an action is updated in place at `actions.<id>`
    without knowing its position. About 0.22 KB each; at most 50 refunds and, one at a
    time, a capture or void: about 12 KB, far under DynamoDB's 400 KB item limit (failed
    captures and voids are not capped yet: docs/tables.md).
    """

    attr_type = MAP

    def serialize(self, value: dict[str, ActionRecord]) -> dict[str, Any]:
        return {key: serialize_action(record) for key, record in value.items()}

    def deserialize(self, value: dict[str, Any]) -> dict[str, ActionRecord]:
        records: dict[str, ActionRecord] = {}
        for key, stored in value.items():
            record: ActionRecord = _RECORD.deserialize(  # type: ignore[no-untyped-call,unused-ignore]
                stored[MAP]
            )
            records[key] = record
        return records


# PynamoDB's Index.__init_subclass__ is untyped; --strict reports calling it.
class OpenPaymentsIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["PaymentModel"]
):
    """Sparse index of the payments the reconciler watches (not final, or with a capture,
    void or refund pending), by when it should next look at them (its only way in: a
    Query, never a Scan).

    Keys only: a Query returns payment ids and the reconciler reads each item strongly
    consistent before acting. Neither key changes on the normal path (`open_shard` is set
    when the payment is stored and removed when it is final; `next_check_at` moves only when
    the reconciler reschedules), and an update that changes no key writes nothing to a
    KEYS_ONLY index: a payment costs two index writes, its entry and its removal.

    One hash key value takes about 1,000 write units a second on a GSI partition, and
    `next_check_at` grows with time, so DynamoDB cannot split the value's writes for heat:
    the index carries about 500 payments a second (two writes each), and a throttled index
    throttles the table's own writes. Past that, shard: `open_shard` = `open#<n>` with n
    from the payment id (e.g. its first hex digit mod N), and the reconciler queries each of
    the N values.
    """

    class Meta:
        index_name = OPEN_PAYMENTS_INDEX
        projection = KeysOnlyProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    next_check_at = TimestampAttribute(range_key=True)


def created_key(created_at: datetime, payment_id: str) -> str:
    """The listing's sort key: `created_at` in whole seconds (UTC, fixed width), `#`, then
    the id, so that payments of one second have one stable order (SPEC §9)."""
    return f"{created_second(created_at)}#{payment_id}"


def created_second(moment: datetime) -> str:
    """`moment`'s whole second as the listing's keys spell it: `2026-11-26T10:00:00Z`. Every
    key of that second sorts after it and before the next second's."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    plain = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return plain.isoformat() + "Z"


def _listing_index_meta(name: str, hash_key: str) -> Any:
    """The Meta of one listing index: its name and its INCLUDE projection (less its own hash
    key, which every index holds anyway)."""

    class Meta:
        index_name = name
        projection = IncludeProjection([a for a in LISTED_ATTRIBUTES if a != hash_key])

    return Meta


class PaymentsByMerchantIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["PaymentModel"]
):
    """A merchant's payments, newest first when queried backwards (the unfiltered list)."""

    Meta = _listing_index_meta(PAYMENTS_BY_MERCHANT_INDEX, "merchant_id")

    merchant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class PaymentsByStatusIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["PaymentModel"]
):
    """A merchant's payments in one status (`merchant_status` = `<merchant>#<status>`): its
    hash key changes with the status, which costs a delete and a put in this index."""

    Meta = _listing_index_meta(PAYMENTS_BY_STATUS_INDEX, "merchant_status")

    merchant_status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class PaymentsByReferenceIndex(  # type: ignore[no-untyped-call,unused-ignore]
    GlobalSecondaryIndex["PaymentModel"]
):
    """A merchant's payments with one reference (`merchant_reference` = `<merchant>#<ref>`);
    sparse: payments without a reference are not in it."""

    Meta = _listing_index_meta(PAYMENTS_BY_REFERENCE_INDEX, "merchant_reference")

    merchant_reference = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class PaymentModel(Model):
    """One payment, keyed by its id; `version` guards every update (optimistic locking)."""

    payment_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    card_last4 = UnicodeAttribute()
    card_brand = UnicodeAttribute()
    expiry_month = NumberAttribute()
    expiry_year = NumberAttribute()
    reference = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    decline_reason = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    bank_reference = UnicodeAttribute(null=True)
    sealed_card = BinaryAttribute(null=True, legacy_encoding=False)
    correlation_id = UnicodeAttribute(null=True)
    # HMAC-SHA256 of the card number under the fingerprint key (hex): duplicate detection.
    card_fingerprint = UnicodeAttribute(null=True)
    created_at = TimestampAttribute()
    updated_at = TimestampAttribute()
    # OPEN_SHARD while the payment has a check scheduled (open, or an action pending), absent
    # after: only watched payments are in the index, so the reconciler never reads settled ones.
    open_shard = UnicodeAttribute(null=True)
    # Optimistic locking: 0 when added, +1 per update; every update is conditional on it.
    version = NumberAttribute(default=0)
    # The reconciler's schedule in the current status (attempts absent until it first acts
    # without progress) and, while the payment is open, when it should next look at it.
    reconcile_attempts = NumberAttribute(null=True)
    next_check_at = TimestampAttribute(null=True)
    # Manual capture and money movements (SPEC §8). Null so that an item written before
    # they existed reads as an automatic payment with nothing captured, refunded or pending.
    capture_method = UnicodeAttribute(null=True)
    amount_captured = NumberAttribute(null=True)
    amount_refunded = NumberAttribute(null=True)
    capture_before = TimestampAttribute(null=True)
    cancellation_reason = UnicodeAttribute(null=True)
    pending_action_id = UnicodeAttribute(null=True)
    amount_refund_pending = NumberAttribute(null=True)
    refund_count = NumberAttribute(null=True)
    # Until when one forwarder delivery may POST the pending payment to the bank (its forward
    # lease); absent when no delivery holds it. Not projected into any index.
    forward_lease_until = TimestampAttribute(null=True)
    # The payment's actions by id; `add` writes an empty map, an older item has none.
    actions = ActionsAttribute(null=True)
    # The listing's keys (see `created_key` and the three indexes below). Null only on items
    # stored before the listing, until they are backfilled (docs/decisions.md, "Listing").
    created_key = UnicodeAttribute(null=True)
    merchant_status = UnicodeAttribute(null=True)
    merchant_reference = UnicodeAttribute(null=True)

    open_payments = OpenPaymentsIndex()
    payments_by_merchant = PaymentsByMerchantIndex()
    payments_by_status = PaymentsByStatusIndex()
    payments_by_reference = PaymentsByReferenceIndex()


class MerchantModel(Model):
    """A merchant: `pk` is `merchant#<uuid>`."""

    merchant_id = PrefixedKeyAttribute(MERCHANT_PREFIX, hash_key=True, attr_name="pk")
    item_type = UnicodeAttribute(default="merchant")
    name = UnicodeAttribute()
    created_at = TimestampAttribute()
    # The hashes of every key issued to the merchant, so that a rotation can schedule the
    # revocation of the earlier ones without a Scan.
    key_hashes = UnicodeSetAttribute(null=True)


class ApiKeyModel(Model):
    """An API key, stored only as its keyed hash: `pk` is `apikey#<hash>`."""

    key_hash = PrefixedKeyAttribute(API_KEY_PREFIX, hash_key=True, attr_name="pk")
    item_type = UnicodeAttribute(default="apikey")
    merchant_id = UnicodeAttribute()
    status = UnicodeAttribute(default=API_KEY_ACTIVE)
    created_at = TimestampAttribute()
    # Set when a newer key was issued: the key stops working at this time (grace period).
    revoke_after = TimestampAttribute(null=True)
