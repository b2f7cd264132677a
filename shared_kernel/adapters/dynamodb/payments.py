"""PaymentRepository on DynamoDB: explicit mapping between PaymentRequest and PaymentModel.

Writes are conditional: `add` never overwrites a payment, `save` succeeds only if the item
still has the version that was read (optimistic locking), and removes every attribute that
became empty (the sealed card once the bank has the payment, `open_shard` and
`next_check_at` once it is final: that takes it out of the reconciler's index).

`save` writes only the mutable attributes that differ from what is stored at the version it
is conditioned on: the repository remembers the stored values of `MUTABLE_ATTRIBUTES` per
(payment id, version) it read or wrote, in a small bounded map. The version condition makes
that safe (the item at one version has one set of values); a payment whose stored values
are not remembered gets every mutable attribute written, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from pynamodb.constants import NONE
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from shared_kernel.adapters.dynamodb.models import OPEN_SHARD, PaymentModel
from shared_kernel.application.errors import ConcurrentUpdate, DuplicatePayment
from shared_kernel.domain.card import CardSummary, Expiry, SealedCard
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import (
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
)
# How many (payment id, version) snapshots of stored values a repository keeps: a Lambda
# container handles at most a batch of payments at a time, so this is plenty.
STORED_VALUES_CAPACITY = 512

# The values of MUTABLE_ATTRIBUTES as an item holds them, in that order.
StoredValues = tuple[Any, ...]


def stored_values(item: PaymentModel) -> StoredValues:
    """The mutable attributes' values of a storage item, in MUTABLE_ATTRIBUTES order."""
    return tuple(getattr(item, name) for name in MUTABLE_ATTRIBUTES)


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
        open_shard=None if payment.status.is_final else OPEN_SHARD,
        version=payment.version,
        reconcile_attempts=payment.reconcile_attempts or None,
        next_check_at=payment.next_check_at,
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
    )


class DynamoPaymentRepository:
    """Payments in the payments table, one item per payment, versioned."""

    def __init__(self, stored_values_capacity: int = STORED_VALUES_CAPACITY) -> None:
        # (payment id, version) -> the stored values of MUTABLE_ATTRIBUTES at that version.
        self._stored: OrderedDict[tuple[UUID, int], StoredValues] = OrderedDict()
        self._capacity = stored_values_capacity
        self._lock = threading.Lock()  # the forwarder reads and saves from several threads

    def add(self, payment: PaymentRequest) -> None:
        """Store a new payment (PutItem if attribute_not_exists(payment_id)).

        Raises DuplicatePayment if a payment with this id is already stored.
        """
        item = to_item(payment)
        try:
            item.save(condition=PaymentModel.payment_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
                raise DuplicatePayment(f"payment {payment.id} already exists") from error
            raise
        self._remember(payment.id, payment.version, stored_values(item))

    def get(self, payment_id: UUID) -> PaymentRequest:
        """The payment with this id (strongly consistent read); raises PaymentNotFound."""
        try:
            item = PaymentModel.get(str(payment_id), consistent_read=True)
        except PaymentModel.DoesNotExist:
            raise PaymentNotFound(str(payment_id)) from None
        return self._loaded(item)

    def save(self, payment: PaymentRequest) -> None:
        """Write what changed (UpdateItem if version = payment.version), then bump the version.

        Raises ConcurrentUpdate when someone else wrote first, PaymentNotFound if the
        payment was never added. Attributes that became None are REMOVEd from the item.
        """
        values = stored_values(to_item(payment))
        before = self._recall(payment.id, payment.version)
        attributes = PaymentModel.get_attributes()
        actions: list[Action] = [PaymentModel.version.add(1)]
        for index, name in enumerate(MUTABLE_ATTRIBUTES):
            value = values[index]
            if before is not None and before[index] == value:
                continue
            attribute = attributes[name]
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            # No ReturnValues: the caller has the new state already.
            PaymentModel._get_connection().update_item(
                str(payment.id),
                actions=actions,
                condition=PaymentModel.version == payment.version,
                return_values=NONE,
            )
        except UpdateError as error:
            if error.cause_response_code != CONDITIONAL_CHECK_FAILED:
                raise
            # Rare path: one more read tells a lost race from a payment that is not there.
            self.get(payment.id)
            raise ConcurrentUpdate(f"payment {payment.id} changed since it was read") from error
        self._forget(payment.id, payment.version)
        payment.version += 1
        self._remember(payment.id, payment.version, values)

    def open_payments(self, due_at: datetime, limit: int) -> Iterator[PaymentRequest]:
        """Open payments whose next check is due at `due_at`, earliest first, at most `limit`.

        A Query on the sparse keys-only index (`open_shard = :open AND next_check_at <= :due`)
        finds their ids; each is then read with a strongly consistent GetItem just before it
        is yielded (the index is eventually consistent, and the caller acts on each in turn).
        One deleted since it was found is skipped; one settled or rescheduled since is
        yielded as it now is, for the caller to check.
        """
        keys = PaymentModel.open_payments.query(
            OPEN_SHARD, PaymentModel.next_check_at <= due_at, limit=limit
        )
        for key in keys:
            try:
                yield self.get(UUID(key.payment_id))
            except PaymentNotFound:
                continue

    def _loaded(self, item: PaymentModel) -> PaymentRequest:
        payment = to_domain(item)
        self._remember(payment.id, payment.version, stored_values(item))
        return payment

    def _remember(self, payment_id: UUID, version: int, values: StoredValues) -> None:
        with self._lock:
            self._stored[(payment_id, version)] = values
            self._stored.move_to_end((payment_id, version))
            while len(self._stored) > self._capacity:
                self._stored.popitem(last=False)

    def _recall(self, payment_id: UUID, version: int) -> StoredValues | None:
        with self._lock:
            return self._stored.get((payment_id, version))

    def _forget(self, payment_id: UUID, version: int) -> None:
        with self._lock:
            self._stored.pop((payment_id, version), None)


def _value_or_none(value: DeclineReason | FailureReason | None) -> str | None:
    return None if value is None else value.value
