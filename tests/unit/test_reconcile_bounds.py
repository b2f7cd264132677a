"""Reconcile's bounds (SPEC §6): back-off between tries, the give-up path for pending
payments requeued without progress, and the end of the checks of silent processing ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankUnavailable
from shared_kernel.application.forward_payment import ForwardPayment
from shared_kernel.application.ports import BankStatusReport
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.domain.payment import FailureReason, PaymentRequest, PaymentStatus

from .builders import CREATED_AT, INSUFFICIENT_FUNDS, PAID, PAYMENT_ID, PROCESSING, pending_payment
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
)

pytestmark = pytest.mark.unit

# No jitter: waits are exactly 10, 20, 40, 40, ... seconds.
BACKOFF = Backoff(10.0, 40.0, jitter=lambda: 1.0)
START = CREATED_AT + timedelta(minutes=5)


@pytest.fixture
def reconcile(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> Reconcile:
    """A reconciler with a short back-off, 3 requeues, 4 checks or 1 hour, and the forwarder
    as its give-up path; the clock five minutes after the payment was accepted."""
    clock.set(START)
    return Reconcile(
        repository,
        queue,
        bank,
        clock,
        forward=lambda: ForwardPayment(repository, bank, cipher, clock),
        backoff=BACKOFF,
        max_requeues=3,
        max_checks=4,
        give_up_after=timedelta(hours=1),
    )


def store(
    repository: InMemoryPaymentRepository, cipher: ReversibleCipher, processing: bool
) -> PaymentRequest:
    """The SPEC example payment, accepted at CREATED_AT, pending or processing."""
    payment = pending_payment(cipher)
    if processing:
        payment.record_bank_acceptance(f"bank-{PAYMENT_ID}", CREATED_AT)
    repository.add(payment)
    return payment


def run_passes(reconcile: Reconcile, clock: FixedClock, count: int) -> None:
    """`count` passes, each one second after the payment's next reconcile time."""
    for _ in range(count):
        reconcile()
        due = reconcile.repository.get(PAYMENT_ID).next_check_at
        if due is not None:
            clock.set(max(clock.now(), due) + timedelta(seconds=1))


def test_a_requeue_waits_for_its_back_off_before_the_next(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """Requeued once, the payment is not requeued again until 10 s later, then again."""
    store(repository, cipher, processing=False)
    reconcile()
    clock.advance(timedelta(seconds=9))
    early = reconcile().requeued
    clock.advance(timedelta(seconds=1))
    due = reconcile().requeued
    assert (2, 0, 1, 2) == (
        len(queue.messages),
        early,
        due,
        repository.get(PAYMENT_ID).reconcile_attempts,
    )


def test_pending_past_its_requeue_bound_is_sent_to_the_bank_directly(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """After 3 requeues without progress the reconciler forwards the payment itself, with
    the payment id as Idempotency-Key: it becomes processing, its count restarts and its
    next check stays where it was (due: the next pass reschedules it)."""
    store(repository, cipher, processing=False)
    run_passes(reconcile, clock, 3)
    due = repository.get(PAYMENT_ID).next_check_at
    report = reconcile()
    stored = repository.get(PAYMENT_ID)
    assert (3, 1, [PAYMENT_ID], PaymentStatus.PROCESSING, 0, due) == (
        len(queue.messages),
        report.forwarded,
        [r.payment_id for r in bank.requests],
        stored.status,
        stored.reconcile_attempts,
        stored.next_check_at,
    )


def test_pending_past_its_bound_the_bank_never_received_ends_failed(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """The last re-send's outcome is unknown and the bank has no record: failed."""
    store(repository, cipher, processing=False)
    run_passes(reconcile, clock, 3)
    bank.then(BankUnavailable("timeout"))
    report = reconcile()
    stored = repository.get(PAYMENT_ID)
    assert (1, PaymentStatus.FAILED, FailureReason.RETRIES_EXHAUSTED) == (
        report.failed,
        stored.status,
        stored.failure_reason,
    )


def test_pending_past_its_bound_found_paid_at_the_bank_is_settled_not_failed(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """The re-send times out but the bank has the payment, paid: it ends succeeded."""
    store(repository, cipher, processing=False)
    run_passes(reconcile, clock, 3)
    bank.then(BankUnavailable("timeout"))
    bank.statuses[PAYMENT_ID] = BankStatusReport("r", PAID)
    report = reconcile()
    assert (1, 0, PaymentStatus.SUCCEEDED) == (
        report.forwarded,
        report.failed,
        repository.get(PAYMENT_ID).status,
    )


def test_pending_past_its_bound_with_the_bank_unreachable_stays_pending(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """Neither the re-send nor the status query gets an answer: nothing is decided, the
    payment stays visibly pending and is tried again after the back-off."""
    store(repository, cipher, processing=False)
    run_passes(reconcile, clock, 3)
    bank.then(BankUnavailable("down"))
    bank.unreachable = True
    report = reconcile()
    stored = repository.get(PAYMENT_ID)
    assert (1, PaymentStatus.PENDING, 4) == (
        report.unreachable,
        stored.status,
        stored.reconcile_attempts,
    )


def test_processing_checks_back_off_and_stop_at_the_due_time(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """A silent processing payment is asked about at most once per back-off step."""
    store(repository, cipher, processing=True)
    bank.statuses[PAYMENT_ID] = BankStatusReport("r", PROCESSING)
    reconcile()
    reconcile()
    clock.advance(timedelta(seconds=10))
    reconcile()
    clock.advance(timedelta(seconds=10))
    reconcile()
    assert ([PAYMENT_ID] * 2, START + timedelta(seconds=30)) == (
        bank.status_queries,
        repository.get(PAYMENT_ID).next_check_at,
    )


def test_processing_past_the_bound_still_processing_at_the_bank_is_an_alert(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At the 4th check the bank still says PROCESSING: it stays processing, logged as an
    alert, and is still checked (at the back-off's cap)."""
    store(repository, cipher, processing=True)
    bank.statuses[PAYMENT_ID] = BankStatusReport("r", PROCESSING)
    run_passes(reconcile, clock, 3)
    report = reconcile()
    stored = repository.get(PAYMENT_ID)
    assert (1, PaymentStatus.PROCESSING, clock.now() + timedelta(seconds=40)) == (
        report.alerts,
        stored.status,
        stored.next_check_at,
    )
    assert any("ALERT" in r.getMessage() for r in caplog.records)


def test_processing_past_the_bound_unknown_at_the_bank_ends_failed(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """The bank never had it (404) at the 4th check: the payment ends failed."""
    store(repository, cipher, processing=True)
    run_passes(reconcile, clock, 3)
    report = reconcile()
    stored = repository.get(PAYMENT_ID)
    assert (1, PaymentStatus.FAILED, FailureReason.UNKNOWN_AT_BANK) == (
        report.failed,
        stored.status,
        stored.failure_reason,
    )


def test_processing_older_than_the_time_bound_unknown_at_the_bank_ends_failed(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """One hour after its last change, the first 404 already ends the payment failed."""
    store(repository, cipher, processing=True)
    clock.set(CREATED_AT + timedelta(hours=1))
    assert 1 == reconcile().failed


def test_settled_counts_only_payments_the_answer_moved(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
) -> None:
    """A callback settled the payment with the same outcome just before: not counted."""
    store(repository, cipher, processing=True)
    bank.statuses[PAYMENT_ID] = BankStatusReport("r", INSUFFICIENT_FUNDS)
    repository.interleave(lambda p: p.apply(INSUFFICIENT_FUNDS, START, "r"))
    report = reconcile()
    assert (0, PaymentStatus.DECLINED) == (report.settled, repository.get(PAYMENT_ID).status)


def test_a_new_status_restarts_the_schedule(cipher: ReversibleCipher) -> None:
    """Bookkeeping keeps updated_at; acceptance by the bank clears the pending count and
    keeps the next check (an index key: the forwarder's update must not move it)."""
    payment = pending_payment(cipher)
    payment.note_reconcile_attempt(PaymentStatus.PENDING, START)
    noted = (payment.reconcile_attempts, payment.next_check_at, payment.updated_at)
    payment.record_bank_acceptance("r", START)
    assert ((1, START, CREATED_AT), (0, START)) == (
        noted,
        (payment.reconcile_attempts, payment.next_check_at),
    )


def test_an_attempt_is_not_noted_once_the_payment_left_that_status(
    cipher: ReversibleCipher,
) -> None:
    """A note for `pending` on a payment that became processing changes nothing."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("r", START)
    assert (False, 0) == (
        payment.note_reconcile_attempt(PaymentStatus.PENDING, START),
        payment.reconcile_attempts,
    )
