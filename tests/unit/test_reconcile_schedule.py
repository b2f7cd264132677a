"""The reconciler's schedule, `next_check_at` (the range key of its index): set when a
payment is stored, left alone by status changes between open states, moved only by the
reconciler, removed when the payment is final."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from shared_kernel.application.ports import BankStatusReport
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.payment import FailureReason, Outcome, PaymentRequest, PaymentStatus

from .builders import (
    CREATED_AT,
    FIRST_CHECK_AFTER,
    INSUFFICIENT_FUNDS,
    MERCHANT_ID,
    PAID,
    PAYMENT_ID,
    PROCESSING,
    SPEC_BODY,
    pending_payment,
)
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
    SequentialIds,
)

pytestmark = pytest.mark.unit

LATER = CREATED_AT + timedelta(seconds=5)
FIRST_CHECK = CREATED_AT + FIRST_CHECK_AFTER


def test_a_submitted_payment_is_first_checked_after_the_pending_grace(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
) -> None:
    """Submit stores the payment with its first check at acceptance + `first_check_after`."""
    submit = SubmitPayment(
        repository, queue, cipher, clock, ids, first_check_after=timedelta(seconds=20)
    )
    payment = submit(MERCHANT_ID, SPEC_BODY, "corr-1")
    assert clock.now() + timedelta(seconds=20) == repository.get(payment.id).next_check_at


def test_bank_acceptance_keeps_the_next_check(cipher: ReversibleCipher) -> None:
    """pending → processing by the forwarder leaves `next_check_at` where submit put it."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref", LATER)
    assert (PaymentStatus.PROCESSING, FIRST_CHECK) == (payment.status, payment.next_check_at)


def test_a_processing_callback_keeps_the_next_check(cipher: ReversibleCipher) -> None:
    """pending → processing by a bank PROCESSING callback leaves `next_check_at` too."""
    payment = pending_payment(cipher)
    payment.apply(PROCESSING, LATER, "bank-ref")
    assert (PaymentStatus.PROCESSING, FIRST_CHECK) == (payment.status, payment.next_check_at)


@pytest.mark.parametrize("outcome", [PAID, INSUFFICIENT_FUNDS], ids=["paid", "declined"])
def test_a_final_status_removes_the_next_check(cipher: ReversibleCipher, outcome: Outcome) -> None:
    """A payment settled by the bank has no next check (it leaves the index)."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref", LATER)
    payment.note_reconcile_attempt(PaymentStatus.PROCESSING, LATER)
    payment.apply(outcome, LATER)
    assert (None, 0) == (payment.next_check_at, payment.reconcile_attempts)


def test_a_failed_payment_has_no_next_check(cipher: ReversibleCipher) -> None:
    """A payment the gateway gives up on has no next check either."""
    payment = pending_payment(cipher)
    payment.fail(FailureReason.RETRIES_EXHAUSTED, LATER)
    assert (PaymentStatus.FAILED, None) == (payment.status, payment.next_check_at)


def test_an_attempt_moves_the_next_check_and_counts(cipher: ReversibleCipher) -> None:
    """The reconciler acting without progress moves the check to its back-off and counts."""
    payment = pending_payment(cipher)
    later = FIRST_CHECK + timedelta(minutes=1)
    changed = payment.note_reconcile_attempt(PaymentStatus.PENDING, later)
    assert (True, later, 1, CREATED_AT) == (
        changed,
        payment.next_check_at,
        payment.reconcile_attempts,
        payment.updated_at,
    )


def test_postponing_moves_the_next_check_without_counting(cipher: ReversibleCipher) -> None:
    """A payment not stuck yet is looked at later; no attempt is counted."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref", LATER)
    until = LATER + timedelta(seconds=60)
    changed = payment.postpone_check(PaymentStatus.PROCESSING, until)
    assert (True, until, 0) == (changed, payment.next_check_at, payment.reconcile_attempts)


def test_postponing_changes_nothing_once_the_status_moved_or_to_the_same_time(
    cipher: ReversibleCipher,
) -> None:
    """Postponing for a status the payment left, or to its current check, is a no-op."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref", LATER)
    assert (False, False, FIRST_CHECK) == (
        payment.postpone_check(PaymentStatus.PENDING, LATER + timedelta(hours=1)),
        payment.postpone_check(PaymentStatus.PROCESSING, FIRST_CHECK),
        payment.next_check_at,
    )


def test_due_from_its_next_check_and_never_once_final(cipher: ReversibleCipher) -> None:
    """An open payment is due at and after its next check, not before; a final one never."""
    payment = pending_payment(cipher)
    open_due = [
        payment.is_due_for_check(FIRST_CHECK - timedelta(microseconds=1)),
        payment.is_due_for_check(FIRST_CHECK),
        payment.is_due_for_check(FIRST_CHECK + timedelta(hours=1)),
    ]
    payment.apply(PAID, LATER)
    assert ([False, True, True], False) == (
        open_due,
        payment.is_due_for_check(FIRST_CHECK + timedelta(hours=1)),
    )


def test_an_open_payment_without_a_schedule_is_due_from_its_last_change(
    cipher: ReversibleCipher,
) -> None:
    """Built without `next_check_at` (e.g. read from an older item), an open payment is due
    at its `updated_at`, so it cannot be missing from the index; a final one keeps none."""
    payment = pending_payment(cipher)
    unscheduled = replace(payment, next_check_at=None)
    payment.apply(PAID, LATER)
    final = replace(payment, next_check_at=LATER)
    assert (CREATED_AT, None) == (unscheduled.next_check_at, final.next_check_at)


class StaleIndexRepository(InMemoryPaymentRepository):
    """A repository whose index still lists every payment, due or not, open or not (an
    eventually consistent index read before other writers' changes arrived)."""

    def open_payments(self, due_at: datetime, limit: int) -> Iterable[PaymentRequest]:
        """Every stored payment, as it is now."""
        return [p.copy() for p in self.items.values()][:limit]


def test_a_candidate_no_longer_due_or_open_is_left_alone(
    queue: InMemoryPaymentQueue, bank: ScriptedBank, cipher: ReversibleCipher
) -> None:
    """The reconciler re-checks what it read: a payment rescheduled or settled since the
    index was read is neither requeued, asked about, nor written."""
    repository = StaleIndexRepository()
    rescheduled = pending_payment(cipher)
    rescheduled.note_reconcile_attempt(PaymentStatus.PENDING, CREATED_AT + timedelta(hours=2))
    settled = pending_payment(cipher, payment_id=UUID(int=7, version=4))
    settled.apply(PAID, LATER)
    repository.add(rescheduled)
    repository.add(settled)
    now = CREATED_AT + timedelta(hours=1)
    report = Reconcile(repository, queue, bank, FixedClock(now))()
    assert ([], [], 0, 0, 1) == (
        queue.messages,
        bank.status_queries,
        repository.saves,
        report.requeued,
        repository.get(PAYMENT_ID).reconcile_attempts,
    )


def test_a_recently_acknowledged_payment_is_postponed_then_asked_about(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """Due at its first check but acknowledged by the bank only 10 s before, a processing
    payment is not asked about: its check moves to updated_at + processing_after, no
    attempt counted; at that time the bank is asked and its answer applied."""
    payment = pending_payment(cipher)
    acknowledged = FIRST_CHECK - timedelta(seconds=10)
    payment.record_bank_acceptance("bank-ref", acknowledged)
    repository.add(payment)
    bank.statuses[PAYMENT_ID] = BankStatusReport("bank-ref", PAID)
    reconcile = Reconcile(repository, queue, bank, clock, processing_after=timedelta(seconds=60))
    clock.set(FIRST_CHECK)
    reconcile()
    postponed = repository.get(PAYMENT_ID)
    asked_early = list(bank.status_queries)
    clock.set(acknowledged + timedelta(seconds=60))
    report = reconcile()
    assert (
        (acknowledged + timedelta(seconds=60), 0, []),
        (1, [PAYMENT_ID], PaymentStatus.SUCCEEDED, None),
    ) == (
        (postponed.next_check_at, postponed.reconcile_attempts, asked_early),
        (
            report.settled,
            bank.status_queries,
            repository.get(PAYMENT_ID).status,
            repository.get(PAYMENT_ID).next_check_at,
        ),
    )


def test_a_payment_not_due_yet_is_not_read_by_the_pass(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
) -> None:
    """Before its first check a pending payment is neither requeued nor rescheduled."""
    repository.add(pending_payment(cipher))
    clock.set(FIRST_CHECK - timedelta(seconds=1))
    report = Reconcile(repository, queue, bank, clock)()
    assert (0, [], 0, FIRST_CHECK) == (
        report.requeued,
        queue.messages,
        repository.saves,
        repository.get(PAYMENT_ID).next_check_at,
    )
