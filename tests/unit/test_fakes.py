"""The fakes behave like the real adapters where the use cases depend on it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.application.errors import (
    BankRejected,
    BankUnavailable,
    QueueUnavailable,
)
from shared_kernel.application.ports import BankAcceptance, BankPaymentRequest, QueuedPayment
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.money import Money

from .builders import MERCHANT_ID, PAYMENT_ID
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    ScriptedBank,
    SequentialIds,
)

pytestmark = pytest.mark.unit


def request_for(card_number: str) -> BankPaymentRequest:
    """A bank request for the standard payment with the given card."""
    return BankPaymentRequest(
        PAYMENT_ID, MERCHANT_ID, CardSecrets(card_number, "123"), Expiry(12, 2030), Money(1, "GBP")
    )


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
