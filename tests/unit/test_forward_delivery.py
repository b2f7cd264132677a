"""ForwardDelivery: one delivery of a queued payment is done, or retried after its back-off;
the FORWARD_MAX_ATTEMPTS-th delivery is the final attempt."""

from __future__ import annotations

import logging

import pytest

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankUnavailable
from shared_kernel.application.forward_delivery import Done, ForwardDelivery, RetryAfter
from shared_kernel.application.forward_payment import ForwardPayment, ForwardResult
from shared_kernel.application.ports import QueuedPayment
from shared_kernel.domain.payment import FailureReason, PaymentStatus

from .builders import MERCHANT_ID, PAYMENT_ID
from .fakes import InMemoryPaymentRepository, ScriptedBank

pytestmark = pytest.mark.unit

MESSAGE = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")
# No jitter: the full exponential step, 2 s doubling per delivery, at most 300 s.
BACKOFF = Backoff(2.0, 300.0, lambda: 1.0)


def test_a_payment_the_bank_takes_is_done(
    forward: ForwardPayment, repository: InMemoryPaymentRepository
) -> None:
    """The bank's 202: Done(accepted), the payment processing."""
    outcome = ForwardDelivery(forward, BACKOFF, max_attempts=6)(MESSAGE, 1)

    assert (Done(ForwardResult.ACCEPTED), PaymentStatus.PROCESSING) == (
        outcome,
        repository.get(PAYMENT_ID).status,
    )


@pytest.mark.parametrize(("receive_count", "seconds"), [(1, 2.0), (2, 4.0), (4, 16.0), (9, 300.0)])
def test_bank_unavailable_is_retried_after_the_back_off_of_the_delivery(
    forward: ForwardPayment,
    bank: ScriptedBank,
    repository: InMemoryPaymentRepository,
    receive_count: int,
    seconds: float,
) -> None:
    """Before the final attempt, an unknown bank outcome is RetryAfter(2·2^(n-1) s, cap
    300) for the n-th delivery, and the payment stays pending with its card."""
    bank.then(BankUnavailable("503"))

    outcome = ForwardDelivery(forward, BACKOFF, max_attempts=10)(MESSAGE, receive_count)

    stored = repository.get(PAYMENT_ID)
    assert (RetryAfter(seconds), PaymentStatus.PENDING) == (outcome, stored.status)
    assert stored.sealed_card is not None


def test_the_back_off_is_jittered_down_by_up_to_half() -> None:
    """With the jitter at its lowest the wait is half the step (equal jitter)."""

    def unavailable(message: QueuedPayment, final_attempt: bool) -> ForwardResult:
        raise BankUnavailable("timeout")

    delivery = ForwardDelivery(unavailable, Backoff(2.0, 300.0, lambda: 0.0), max_attempts=6)

    assert RetryAfter(4.0) == delivery(MESSAGE, 3)


def test_any_other_failure_is_retried_after_the_back_off_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A table or KMS outage (any exception) is RetryAfter too, logged with its traceback."""

    def broken(message: QueuedPayment, final_attempt: bool) -> ForwardResult:
        raise RuntimeError("table unavailable")

    with caplog.at_level(logging.WARNING):
        outcome = ForwardDelivery(broken, BACKOFF, max_attempts=6)(MESSAGE, 2)

    [line] = [r for r in caplog.records if r.getMessage() == "forwarding failed; will retry"]
    assert (RetryAfter(4.0), RuntimeError) == (outcome, line.exc_info and line.exc_info[0])


@pytest.mark.parametrize(("receive_count", "final"), [(1, False), (5, False), (6, True), (7, True)])
def test_the_max_attempts_th_delivery_and_later_are_the_final_attempt(
    receive_count: int, final: bool
) -> None:
    """Forwarding is told it is the final attempt from the max_attempts-th delivery on."""
    told: list[bool] = []

    def forward(message: QueuedPayment, final_attempt: bool) -> ForwardResult:
        told.append(final_attempt)
        return ForwardResult.ACCEPTED

    ForwardDelivery(forward, BACKOFF, max_attempts=6)(MESSAGE, receive_count)

    assert [final] == told


def test_the_final_attempt_with_the_bank_down_and_the_payment_unknown_there_is_done(
    forward: ForwardPayment, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """On the final delivery an unknown outcome is not retried: the bank is asked, and a
    payment it never received fails (retries_exhausted); the message is done."""
    bank.then(BankUnavailable("timeout"))

    outcome = ForwardDelivery(forward, BACKOFF, max_attempts=6)(MESSAGE, 6)

    stored = repository.get(PAYMENT_ID)
    assert (Done(ForwardResult.GAVE_UP), PaymentStatus.FAILED) == (outcome, stored.status)
    assert FailureReason.RETRIES_EXHAUSTED == stored.failure_reason
