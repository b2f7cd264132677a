"""PaymentRepository on DynamoDB: explicit mapping between PaymentRequest and PaymentModel.

Writes are conditional: `add` never overwrites a payment, `save` succeeds only if the item
still has the version that was read (optimistic locking), and removes every attribute that
became empty (the sealed card once the bank has the payment, `open_shard` and
`next_check_at` once it is final with no action pending: that takes it out of the
reconciler's index).

A payment's captures, voids and refunds are stored inside its item (`actions`, a map by
action id): `save(payment, actions)` writes the payment and those actions in ONE conditional
UpdateItem, so an action's reservation on the payment and the action's own record are never
apart (see docs/money-movements.md, "Storage").

The merchant's list (`page`) is one Query of one of three indexes keyed by `created_key`
(`<created second>#<id>`): all the merchant's payments, those in one status, or those with
one reference; the created bounds and the cursor become that key's condition, so no filter
drops rows after DynamoDB's `Limit`, except the status when a reference is given too (the
reference index is the more selective), and then the adapter reads on until the page is full.

The forwarder's lease (`forward_lease_until`, see application/forward_payment.py) is one of
those mutable attributes: claiming it is a `save`, so the claim is one UpdateItem conditional
on the version read, and of two deliveries racing for it exactly one wins.

`save` writes every mutable attribute: DynamoDB bills an UpdateItem by the size of the item,
not by the attributes it sets, so naming fewer would save nothing; nothing is asked back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from pynamodb.constants import STRING
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from shared_kernel.adapters.dynamodb.models import (
    OPEN_PAYMENTS_INDEX,
    OPEN_SHARD,
    PAYMENTS_BY_MERCHANT_INDEX,
    PAYMENTS_BY_REFERENCE_INDEX,
    PAYMENTS_BY_STATUS_INDEX,
    ActionRecord,
    PaymentModel,
    created_key,
    created_second,
    serialize_action,
)
from shared_kernel.adapters.dynamodb.paging import HIGHEST_KEY, LOWEST_KEY, page_entries
from shared_kernel.adapters.dynamodb.tables import DynamoTables
from shared_kernel.application.errors import ConcurrentUpdate, DuplicatePayment
from shared_kernel.application.ports import ListPosition, PageQuery, PaymentPage
from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
    RefundReason,
)
from shared_kernel.domain.card import CardSummary, Expiry, SealedCard
from shared_kernel.domain.errors import ActionNotFound, PaymentNotFound
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import (
    CancellationReason,
    CaptureMethod,
    DeclineReason,
    FailureReason,
    PaymentRequest,
    PaymentStatus,
)

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

# What the aggregate may change after acceptance; everything else is written once by `add`.
MUTABLE_ATTRIBUTES = (
    "status",
    "decline_reason",
    "failure_reason",
    "bank_reference",
    "sealed_card",
    "open_shard",
    "updated_at",
    "reconcile_attempts",
    "next_check_at",
    "amount_captured",
    "amount_refunded",
    "capture_before",
    "cancellation_reason",
    "pending_action_id",
    "amount_refund_pending",
    "refund_count",
    "forward_lease_until",
    "merchant_status",
)


def to_item(payment: PaymentRequest) -> PaymentModel:
    """The storage item of a payment, at the version it was read at."""
    return PaymentModel(
        payment_id=str(payment.id),
        merchant_id=str(payment.merchant_id),
        amount=payment.money.amount,
        currency=payment.money.currency,
        card_last4=payment.card.last4,
        card_brand=payment.card.brand,
        expiry_month=payment.card.expiry.month,
        expiry_year=payment.card.expiry.year,
        reference=payment.reference,
        status=payment.status.value,
        decline_reason=_value_or_none(payment.decline_reason),
        failure_reason=_value_or_none(payment.failure_reason),
        bank_reference=payment.bank_reference,
        sealed_card=None if payment.sealed_card is None else payment.sealed_card.blob,
        correlation_id=payment.correlation_id,
        card_fingerprint=payment.card_fingerprint,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        # On the reconciler's index while it has a check scheduled: open, or final with an
        # action still pending (a refund of a succeeded payment).
        open_shard=None if payment.next_check_at is None else OPEN_SHARD,
        version=payment.version,
        reconcile_attempts=payment.reconcile_attempts or None,
        next_check_at=payment.next_check_at,
        capture_method=payment.capture_method.value,
        amount_captured=payment.amount_captured,
        amount_refunded=payment.amount_refunded,
        capture_before=payment.capture_before,
        cancellation_reason=_value_or_none(payment.cancellation_reason),
        pending_action_id=_str_or_none(payment.pending_action_id),
        amount_refund_pending=payment.amount_refund_pending,
        refund_count=payment.refund_count,
        forward_lease_until=payment.forward_lease_until,
        actions={},
        created_key=created_key(payment.created_at, str(payment.id)),
        merchant_status=f"{payment.merchant_id}#{payment.status.value}",
        merchant_reference=(
            None if payment.reference is None else f"{payment.merchant_id}#{payment.reference}"
        ),
    )


def to_domain(item: PaymentModel) -> PaymentRequest:
    """The payment a storage item holds."""
    return PaymentRequest(
        id=UUID(item.payment_id),
        merchant_id=UUID(item.merchant_id),
        money=Money(int(item.amount), item.currency),
        card=CardSummary(
            last4=item.card_last4,
            brand=item.card_brand,
            expiry=Expiry(month=int(item.expiry_month), year=int(item.expiry_year)),
        ),
        reference=item.reference,
        created_at=item.created_at,
        updated_at=item.updated_at,
        status=PaymentStatus(item.status),
        decline_reason=None if item.decline_reason is None else DeclineReason(item.decline_reason),
        failure_reason=None if item.failure_reason is None else FailureReason(item.failure_reason),
        bank_reference=item.bank_reference,
        sealed_card=None if item.sealed_card is None else SealedCard(bytes(item.sealed_card)),
        correlation_id=item.correlation_id,
        card_fingerprint=item.card_fingerprint,
        version=int(item.version),
        reconcile_attempts=int(item.reconcile_attempts or 0),
        next_check_at=item.next_check_at,
        capture_method=CaptureMethod(item.capture_method or CaptureMethod.AUTOMATIC),
        amount_captured=int(item.amount_captured or 0),
        amount_refunded=int(item.amount_refunded or 0),
        capture_before=item.capture_before,
        cancellation_reason=(
            None
            if item.cancellation_reason is None
            else CancellationReason(item.cancellation_reason)
        ),
        pending_action_id=None if item.pending_action_id is None else UUID(item.pending_action_id),
        amount_refund_pending=int(item.amount_refund_pending or 0),
        refund_count=int(item.refund_count or 0),
        forward_lease_until=item.forward_lease_until,
    )


def action_to_record(action: PaymentAction) -> ActionRecord:
    """The stored record of an action, at the version it was read at."""
    # PynamoDB's MapAttribute.__init__ is untyped; --strict reports calling it.
    return ActionRecord(  # type: ignore[no-untyped-call,unused-ignore]
        action_id=str(action.id),
        kind=action.type.value,
        amount=action.money.amount,
        currency=action.money.currency,
        status=action.status.value,
        reason=_value_or_none(action.reason),
        failure_reason=_value_or_none(action.failure_reason),
        cancellation_reason=_value_or_none(action.cancellation_reason),
        created_at=action.created_at,
        updated_at=action.updated_at,
        sent_at=action.sent_at,
        version=action.version,
    )


def record_to_action(item: PaymentModel, record: ActionRecord) -> PaymentAction:
    """The action a record of the payment item `item` holds."""
    return PaymentAction(
        id=UUID(record.action_id),
        payment_id=UUID(item.payment_id),
        merchant_id=UUID(item.merchant_id),
        type=ActionType(record.kind),
        money=Money(int(record.amount), record.currency),
        created_at=record.created_at,
        updated_at=record.updated_at,
        status=ActionStatus(record.status),
        reason=None if record.reason is None else RefundReason(record.reason),
        failure_reason=(
            None if record.failure_reason is None else ActionFailureReason(record.failure_reason)
        ),
        cancellation_reason=(
            None
            if record.cancellation_reason is None
            else CancellationReason(record.cancellation_reason)
        ),
        sent_at=record.sent_at,
        version=int(record.version),
    )


class DynamoPaymentRepository:
    """Payments in the payments table, one item per payment, versioned."""

    def __init__(self, tables: DynamoTables, table_name: str) -> None:
        self._table = tables.table(PaymentModel, table_name)

    def add(self, payment: PaymentRequest) -> None:
        """Store a new payment (PutItem if attribute_not_exists(payment_id)).

        Raises DuplicatePayment if a payment with this id is already stored.
        """
        try:
            self._table.put(to_item(payment), condition=PaymentModel.payment_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                raise DuplicatePayment(f"payment {payment.id} already exists") from error
            raise

    def get(self, payment_id: UUID) -> PaymentRequest:
        """The payment with this id (strongly consistent read); raises PaymentNotFound."""
        return to_domain(self._read(payment_id))

    def save(self, payment: PaymentRequest, actions: Sequence[PaymentAction] = ()) -> None:
        """Write the mutable attributes and `actions` (new or changed, each at
        `actions.<id>`) in one UpdateItem if version = payment.version, then bump the
        version of the payment and of each action.

        Raises ConcurrentUpdate when someone else wrote first (nothing is written, neither
        the payment nor any action), PaymentNotFound if the payment was never added.
        Attributes that became None are REMOVEd from the item. ValueError (nothing
        written) for an action of another payment.
        """
        if any(action.payment_id != payment.id for action in actions):
            raise ValueError("an action is saved only with its own payment")
        condition = PaymentModel.version == payment.version
        if actions:
            # Setting `actions.<id>` needs the map; an item written before actions lacks it.
            condition &= PaymentModel.actions.exists()
        try:
            self._update(payment, actions, condition, whole_map=False)
        except UpdateError as error:
            if error.cause_response_code != CONDITIONAL_CHECK_FAILED:
                raise
            # Rare path: one more read tells a lost race from a payment that is not there,
            # or from an item written before actions existed (no `actions` map to set in).
            item = self._read(payment.id)
            if not actions or item.actions is not None or int(item.version) != payment.version:
                raise ConcurrentUpdate(f"payment {payment.id} changed since it was read") from error
            self._add_first_actions(payment, actions)
        payment.version += 1
        for action in actions:
            action.version += 1

    def get_action(self, payment_id: UUID, action_id: UUID) -> PaymentAction:
        """The action `action_id` of the payment (strongly consistent read); raises
        PaymentNotFound or ActionNotFound."""
        item = self._read(payment_id)
        record = (item.actions or {}).get(str(action_id))
        if record is None:
            raise ActionNotFound(f"payment {payment_id} has no action {action_id}")
        return record_to_action(item, record)

    def actions(self, payment_id: UUID) -> list[PaymentAction]:
        """Every action of the payment, oldest first (created_at, then id); raises
        PaymentNotFound."""
        item = self._read(payment_id)
        found = [record_to_action(item, record) for record in (item.actions or {}).values()]
        return sorted(found, key=lambda action: (action.created_at, str(action.id)))

    def _read(self, payment_id: UUID) -> PaymentModel:
        item = self._table.get(str(payment_id))
        if item is None:
            raise PaymentNotFound(str(payment_id))
        return item

    def _add_first_actions(self, payment: PaymentRequest, actions: Sequence[PaymentAction]) -> None:
        # The item has no `actions` map yet: set the whole map, if it still has none.
        condition = PaymentModel.version == payment.version
        condition &= PaymentModel.actions.does_not_exist()
        try:
            self._update(payment, actions, condition, whole_map=True)
        except UpdateError as error:
            if error.cause_response_code != CONDITIONAL_CHECK_FAILED:
                raise
            raise ConcurrentUpdate(f"payment {payment.id} changed since it was read") from error

    def _update(
        self,
        payment: PaymentRequest,
        actions: Sequence[PaymentAction],
        condition: Condition,
        *,
        whole_map: bool,
    ) -> None:
        item = to_item(payment)
        attributes = PaymentModel.get_attributes()
        updates: list[Action] = [PaymentModel.version.add(1)]
        for name in MUTABLE_ATTRIBUTES:
            value = getattr(item, name)
            attribute = attributes[name]
            updates.append(attribute.remove() if value is None else attribute.set(value))
        if whole_map:
            records = {str(a.id): _stored_record(a) for a in actions}
            updates.append(PaymentModel.actions.set(records))
        else:
            for action in actions:
                path = PaymentModel.actions[str(action.id)]
                updates.append(path.set(serialize_action(_stored_record(action))))
        self._table.update(str(payment.id), updates, condition=condition)

    def open_payments(self, due_at: datetime, limit: int) -> Iterator[PaymentRequest]:
        """Open payments whose next check is due at `due_at`, earliest first, at most `limit`.

        A Query on the sparse keys-only index (`open_shard = :open AND next_check_at <= :due`)
        finds their ids; each is then read with a strongly consistent GetItem just before it
        is yielded (the index is eventually consistent, and the caller acts on each in turn).
        One deleted since it was found is skipped; one settled or rescheduled since is
        yielded as it now is, for the caller to check.
        """
        entries = self._table.query_index(
            OPEN_PAYMENTS_INDEX, OPEN_SHARD, PaymentModel.next_check_at <= due_at, limit
        )
        for entry in entries:
            try:
                yield self.get(UUID(entry[PaymentModel.payment_id.attr_name][STRING]))
            except PaymentNotFound:
                continue

    def page(self, query: PageQuery) -> PaymentPage:
        """One page of the merchant's list: one Query of the index that serves its filters
        (more only when a status filter drops entries of the reference index), asking for
        one entry more than the page to learn `has_more`, and one more still when a cursor
        is given, since the key condition includes the cursor's own entry (skipped)."""
        filters = query.filters
        index, hash_key = PAYMENTS_BY_MERCHANT_INDEX, str(query.merchant_id)
        status_filter = None
        if filters.reference is not None:
            index, hash_key = PAYMENTS_BY_REFERENCE_INDEX, f"{hash_key}#{filters.reference}"
            if filters.status is not None:
                status_filter = PaymentModel.status == filters.status.value
        elif filters.status is not None:
            index, hash_key = PAYMENTS_BY_STATUS_INDEX, f"{hash_key}#{filters.status.value}"
        # BETWEEN is inclusive; a created bound is a bare second, which no key equals.
        lower = LOWEST_KEY if filters.created_gte is None else _bound(filters.created_gte)
        upper = HIGHEST_KEY if filters.created_lt is None else _bound(filters.created_lt)
        entries, has_more = page_entries(
            self._table,
            index,
            hash_key,
            PaymentModel.created_key,
            (lower, upper),
            query.limit,
            after=_position_key(query.after),
            before=_position_key(query.before),
            filter_condition=status_filter,
        )
        return PaymentPage([to_domain(PaymentModel.from_raw_data(e)) for e in entries], has_more)


def _position_key(position: ListPosition | None) -> str | None:
    if position is None:
        return None
    return created_key(position.created_second, str(position.payment_id))


def _bound(moment: datetime) -> str:
    """A created bound as a key bound: the first whole second at or after `moment`, bare (it
    sorts before every key of that second); past the last second of year 9999, after all."""
    whole = moment.replace(microsecond=0)
    try:
        return created_second(whole if whole == moment else whole + timedelta(seconds=1))
    except OverflowError:
        return HIGHEST_KEY


def _stored_record(action: PaymentAction) -> ActionRecord:
    # What the write leaves stored: the action at its next version.
    record = action_to_record(action)
    record.version = action.version + 1
    return record


def _str_or_none(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _value_or_none(
    value: DeclineReason
    | FailureReason
    | CancellationReason
    | RefundReason
    | ActionFailureReason
    | None,
) -> str | None:
    return None if value is None else value.value
