"""SubmitPayment: validate, seal the card, store as pending, queue ids only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared_kernel.application.ports import QueuedPayment
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.card import CardSecrets
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.payment import PaymentStatus

from .builders import MERCHANT_ID, SPEC_BODY, body
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    SequentialIds,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def submit(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
) -> SubmitPayment:
    """The use case wired to fresh fakes."""
    return SubmitPayment(repository, queue, cipher, clock, ids)


def test_stores_the_payment_as_pending(
    submit: SubmitPayment, repository: InMemoryPaymentRepository, clock: FixedClock
) -> None:
    """The returned payment is stored, pending, with the card summary and money submitted."""
    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    stored = repository.get(payment.id)
    assert (payment, PaymentStatus.PENDING, "4242", "visa", 1050, "GBP", clock.now()) == (
        stored,
        stored.status,
        stored.card.last4,
        stored.card.brand,
        stored.money.amount,
        stored.money.currency,
        stored.created_at,
    )


def test_stored_card_is_sealed_and_unreadable(
    submit: SubmitPayment, repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """The stored payment holds the card only sealed: no plain number, unsealable for it."""
    payment = submit(MERCHANT_ID, body(cvv="7391"), "corr-1")
    sealed = repository.get(payment.id).sealed_card
    assert sealed is not None
    assert (False, False) == (b"4242424242424242" in sealed.blob, b"7391" in sealed.blob)
    assert "4242424242424242" not in repr(repository.get(payment.id))
    expected = CardSecrets("4242424242424242", "7391")
    assert expected == cipher.unseal(sealed, payment.id, MERCHANT_ID)


def test_queues_one_message_with_ids_only(
    submit: SubmitPayment, queue: InMemoryPaymentQueue
) -> None:
    """Exactly one QueuedPayment is published, naming the payment, merchant and correlation."""
    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    assert [QueuedPayment(payment.id, MERCHANT_ID, "corr-1")] == queue.messages


def test_payment_takes_a_new_id_and_the_correlation_id(
    submit: SubmitPayment, ids: SequentialIds
) -> None:
    """The payment id comes from the id generator and the correlation id is kept."""
    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    assert (ids.issued, "corr-1", MERCHANT_ID) == (
        [payment.id],
        payment.correlation_id,
        payment.merchant_id,
    )


def test_queue_failure_still_returns_the_stored_pending_payment(
    submit: SubmitPayment,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
) -> None:
    """With the queue down the payment is still stored pending and returned (for the reconciler)."""
    queue.failing = True
    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    stored = repository.get(payment.id)
    assert (payment, PaymentStatus.PENDING, True, []) == (
        stored,
        stored.status,
        stored.sealed_card is not None,
        queue.messages,
    )


def test_invalid_input_raises_and_stores_and_queues_nothing(
    submit: SubmitPayment,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
) -> None:
    """A ValidationError names the bad fields; nothing is sealed, stored or queued."""
    with pytest.raises(ValidationError) as caught:
        submit(MERCHANT_ID, body(amount=0, cvv="x"), "corr-1")
    assert (["amount", "cvv"], {}, [], 0) == (
        [d.field for d in caught.value.details],
        repository.items,
        queue.messages,
        cipher.sealed,
    )


def test_expiry_is_checked_against_the_clocks_date(
    submit: SubmitPayment, clock: FixedClock, repository: InMemoryPaymentRepository
) -> None:
    """A 12/2030 card is accepted on 2030-12-31 and rejected on 2031-01-01 (clock's UTC date)."""
    clock.set(datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC))
    accepted = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    clock.set(datetime(2031, 1, 1, 0, 0, tzinfo=UTC))
    with pytest.raises(ValidationError) as caught:
        submit(MERCHANT_ID, SPEC_BODY, "corr-2")
    assert ([accepted.id], ["expiry_year"]) == (
        list(repository.items),
        [d.field for d in caught.value.details],
    )
