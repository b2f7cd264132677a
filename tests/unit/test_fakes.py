"""The fakes behave like the real adapters where the use cases depend on it."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.errors import (
    BankRejected,
    BankUnavailable,
    ConcurrentUpdate,
    DuplicatePayment,
    QueueUnavailable,
)
from shared_kernel.application.ports import BankAcceptance, BankPaymentRequest, QueuedPayment
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.errors import PaymentNotFound
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import PaymentStatus

from .builders import CREATED_AT, MERCHANT_ID, OTHER_MERCHANT_ID, PAID, PAYMENT_ID, pending_payment
from .fakes import (
    CipherRefused,
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
    SequentialIds,
)

pytestmark = pytest.mark.unit


def request_for(card_number: str) -> BankPaymentRequest:
    """A bank request for the standard payment with the given card."""
    return BankPaymentRequest(
        PAYMENT_ID, MERCHANT_ID, CardSecrets(card_number, "123"), Expiry(12, 2030), Money(1, "GBP")
    )


def test_repository_stores_and_returns_copies(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """Changing a payment after add or get does not change what is stored."""
    payment = pending_payment(cipher)
    repository.add(payment)
    payment.apply(PAID, CREATED_AT)
    repository.get(PAYMENT_ID).apply(PAID, CREATED_AT)
    assert PaymentStatus.PENDING == repository.get(PAYMENT_ID).status


def test_repository_refuses_a_duplicate_id(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """Adding a second payment with the same id raises DuplicatePayment."""
    repository.add(pending_payment(cipher))
    with pytest.raises(DuplicatePayment):
        repository.add(pending_payment(cipher))


def test_repository_save_checks_and_bumps_the_version(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """A save from a stale read raises ConcurrentUpdate; a fresh one bumps the version."""
    repository.add(pending_payment(cipher))
    first, second = repository.get(PAYMENT_ID), repository.get(PAYMENT_ID)
    first.apply(PAID, CREATED_AT)
    repository.save(first)
    with pytest.raises(ConcurrentUpdate):
        repository.save(second)
    assert (1, 1, PaymentStatus.SUCCEEDED) == (
        first.version,
        repository.get(PAYMENT_ID).version,
        repository.get(PAYMENT_ID).status,
    )


def test_repository_unknown_id_is_not_found(repository: InMemoryPaymentRepository) -> None:
    """get of an id never added raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        repository.get(PAYMENT_ID)


def test_open_payments_returns_open_payments_due_earliest_first(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher
) -> None:
    """open_payments returns open payments whose next check is due, earliest first, up to
    the limit; a final payment and one not due yet are left out."""
    ids = [UUID(int=n, version=4) for n in range(1, 5)]
    for n, payment_id in enumerate(ids):
        repository.add(
            pending_payment(cipher, payment_id=payment_id, at=CREATED_AT - timedelta(minutes=n))
        )
    paid = repository.get(ids[3])
    paid.apply(PAID, CREATED_AT - timedelta(minutes=10))
    repository.save(paid)
    found = repository.open_payments(CREATED_AT, limit=10)
    first = repository.open_payments(CREATED_AT, limit=1)
    assert ([ids[2], ids[1]], [ids[2]]) == ([p.id for p in found], [p.id for p in first])


def test_queue_records_messages_until_told_to_fail() -> None:
    """The queue keeps what it is given and raises QueueUnavailable while failing."""
    queue = InMemoryPaymentQueue()
    message = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "c")
    queue.publish(message)
    queue.failing = True
    with pytest.raises(QueueUnavailable):
        queue.publish(message)
    assert [message] == queue.messages


def test_queue_records_the_redelivery_delays_asked_for() -> None:
    """delay_retry records (receipt handle, seconds) and says the queue took it."""
    queue = InMemoryPaymentQueue()
    assert (True, [("h-1", 4.0)]) == (queue.delay_retry("h-1", 4.0), queue.delays)


def test_bank_answers_from_its_scripts_then_accepts(bank: ScriptedBank) -> None:
    """Card scripts come first, then per-call scripts, then acceptance; all requests recorded."""
    bank.on_card("4000000000000119", BankUnavailable("503"))
    bank.then(BankRejected)
    with pytest.raises(BankUnavailable):
        bank.submit(request_for("4000000000000119"))
    with pytest.raises(BankRejected):
        bank.submit(request_for("4000000000000119"))
    assert (BankAcceptance(f"bank-{PAYMENT_ID}"), 3) == (
        bank.submit(request_for("4000000000000119")),
        bank.charges_of(PAYMENT_ID),
    )


def test_cipher_round_trips_and_binds_to_the_payment(cipher: ReversibleCipher) -> None:
    """The sealed blob hides the number; only the same payment and merchant can unseal it."""
    secrets = CardSecrets("4242424242424242", "123")
    sealed = cipher.seal(secrets, PAYMENT_ID, MERCHANT_ID)
    assert (False, secrets) == (
        b"4242424242424242" in sealed.blob,
        cipher.unseal(sealed, PAYMENT_ID, MERCHANT_ID),
    )
    with pytest.raises(CipherRefused):
        cipher.unseal(sealed, PAYMENT_ID, OTHER_MERCHANT_ID)
    with pytest.raises(CipherRefused):
        cipher.unseal(sealed, UUID(int=1, version=4), MERCHANT_ID)


def test_clock_and_ids_are_predictable(clock: FixedClock, ids: SequentialIds) -> None:
    """The clock moves only when told; ids are distinct version-4 UUIDs."""
    start = clock.now()
    clock.advance(timedelta(seconds=5))
    first, second = ids(), ids()
    assert (timedelta(seconds=5), 4, 4, True) == (
        clock.now() - start,
        first.version,
        second.version,
        first != second,
    )
