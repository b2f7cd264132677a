"""GetAction and ListActions: a payment's actions for its own merchant only, oldest first."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.get_action import GetAction, ListActions
from shared_kernel.domain.errors import ActionNotFound, PaymentNotFound
from shared_kernel.domain.money_movements import request_refund
from shared_kernel.domain.payment import PaymentRequest

from .builders import CREATED_AT, MERCHANT_ID, OTHER_MERCHANT_ID, PAID, PAYMENT_ID, payment_in
from .fakes import InMemoryPaymentRepository, ReversibleCipher

pytestmark = pytest.mark.unit

FIRST = UUID(int=9, version=4)
SECOND = UUID(int=2, version=4)


def refunded_twice(repository: InMemoryPaymentRepository) -> PaymentRequest:
    """A succeeded payment with two pending refunds, FIRST a minute before SECOND (whose id
    sorts first)."""
    payment = payment_in(ReversibleCipher(), PAID)
    repository.add(payment)
    for minutes, action_id in ((1, FIRST), (2, SECOND)):
        payment = repository.get(PAYMENT_ID)
        at = CREATED_AT + timedelta(minutes=minutes)
        requested = request_refund(payment, 100, None, at, action_id=action_id)
        repository.save(payment, [requested.action])
    return payment


def test_the_actions_are_listed_oldest_first(repository: InMemoryPaymentRepository) -> None:
    """created_at orders the list, whatever the ids."""
    refunded_twice(repository)

    assert [FIRST, SECOND] == [a.id for a in ListActions(repository)(MERCHANT_ID, PAYMENT_ID)]


def test_a_payment_without_actions_lists_none(repository: InMemoryPaymentRepository) -> None:
    """The merchant's payment with no action lists an empty list."""
    repository.add(payment_in(ReversibleCipher(), PAID))

    assert [] == list(ListActions(repository)(MERCHANT_ID, PAYMENT_ID))


@pytest.mark.parametrize("with_actions", [True, False], ids=["with-actions", "without"])
def test_another_merchants_payment_lists_as_not_found(
    repository: InMemoryPaymentRepository, with_actions: bool
) -> None:
    """Another merchant's payment is PaymentNotFound, with or without actions."""
    if with_actions:
        refunded_twice(repository)
    else:
        repository.add(payment_in(ReversibleCipher(), PAID))

    with pytest.raises(PaymentNotFound):
        ListActions(repository)(OTHER_MERCHANT_ID, PAYMENT_ID)


def test_an_action_is_read_by_its_merchant(repository: InMemoryPaymentRepository) -> None:
    """GetAction returns the stored action."""
    refunded_twice(repository)

    assert repository.get_action(PAYMENT_ID, SECOND) == GetAction(repository)(
        MERCHANT_ID, PAYMENT_ID, SECOND
    )


@pytest.mark.parametrize(
    ("merchant_id", "payment_id", "action_id", "error"),
    [
        (OTHER_MERCHANT_ID, PAYMENT_ID, FIRST, PaymentNotFound),
        (MERCHANT_ID, UUID(int=77, version=4), FIRST, PaymentNotFound),
        (MERCHANT_ID, PAYMENT_ID, UUID(int=78, version=4), ActionNotFound),
    ],
    ids=["other-merchant", "unknown-payment", "unknown-action"],
)
def test_an_action_not_of_this_merchant_or_payment_is_not_found(
    repository: InMemoryPaymentRepository,
    merchant_id: UUID,
    payment_id: UUID,
    action_id: UUID,
    error: type[Exception],
) -> None:
    """Another merchant's action is PaymentNotFound (never forbidden); an unknown payment
    PaymentNotFound; an unknown action of the payment ActionNotFound."""
    refunded_twice(repository)

    with pytest.raises(error):
        GetAction(repository)(merchant_id, payment_id, action_id)
