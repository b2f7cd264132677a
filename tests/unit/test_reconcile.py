"""Reconcile: requeue stale pending payments, ask the bank about stale processing ones."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.ports import BankStatusReport, QueuedPayment
from shared_kernel.application.reconcile import Reconcile, ReconcileReport
from shared_kernel.domain.payment import Outcome, PaymentRequest, PaymentStatus

from .builders import CREATED_AT, INSUFFICIENT_FUNDS, MERCHANT_ID, PAID, PROCESSING, pending_payment
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
)

pytestmark = pytest.mark.unit

NOW = CREATED_AT + timedelta(minutes=10)
STALE_PENDING = UUID("11111111-1111-4111-8111-111111111111")
FRESH_PENDING = UUID("22222222-2222-4222-8222-222222222222")
STALE_PROCESSING = UUID("33333333-3333-4333-8333-333333333333")
FRESH_PROCESSING = UUID("44444444-4444-4444-8444-444444444444")


def stored(
    repository: InMemoryPaymentRepository, payment_id: UUID, age: timedelta, processing: bool
) -> PaymentRequest:
    """Store a payment last changed `age` before NOW, pending or processing."""
    payment = pending_payment(ReversibleCipher(), payment_id=payment_id, at=NOW - age)
    if processing:
        payment.record_bank_acceptance(f"bank-{payment_id}", NOW - age)
    repository.add(payment)
    return payment


@pytest.fixture
def reconcile(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    clock: FixedClock,
) -> Reconcile:
    """The use case (30 s pending, 60 s processing thresholds) over four open payments."""
    stored(repository, STALE_PENDING, timedelta(seconds=31), processing=False)
    stored(repository, FRESH_PENDING, timedelta(seconds=10), processing=False)
    stored(repository, STALE_PROCESSING, timedelta(seconds=61), processing=True)
    stored(repository, FRESH_PROCESSING, timedelta(seconds=10), processing=True)
    clock.set(NOW)
    return Reconcile(repository, queue, bank, clock)


def test_stale_pending_is_requeued_and_fresh_pending_is_not(
    reconcile: Reconcile, queue: InMemoryPaymentQueue
) -> None:
    """Only the pending payment older than the threshold is queued again, with its ids."""
    report = reconcile()
    assert ([QueuedPayment(STALE_PENDING, MERCHANT_ID, "corr-1")], 1) == (
        queue.messages,
        report.requeued,
    )


def test_only_stale_processing_payments_are_queried(
    reconcile: Reconcile, bank: ScriptedBank
) -> None:
    """The bank is asked about the processing payment past the threshold, and no other."""
    reconcile()
    assert [STALE_PROCESSING] == bank.status_queries


@pytest.mark.parametrize("outcome", [PAID, INSUFFICIENT_FUNDS], ids=["paid", "declined"])
def test_stale_processing_is_settled_from_the_banks_answer(
    reconcile: Reconcile,
    bank: ScriptedBank,
    repository: InMemoryPaymentRepository,
    outcome: Outcome,
) -> None:
    """A final answer from the bank is applied to the stale processing payment."""
    bank.statuses[STALE_PROCESSING] = BankStatusReport(f"bank-{STALE_PROCESSING}", outcome)
    report = reconcile()
    payment = repository.get(STALE_PROCESSING)
    assert (1, outcome.status, outcome.decline_reason, NOW) == (
        report.settled,
        payment.status,
        payment.decline_reason,
        payment.updated_at,
    )


def test_bank_still_processing_is_counted_and_only_schedules_the_next_check(
    reconcile: Reconcile, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """A PROCESSING answer is counted as still processing; status and updated_at stay, and
    the next check is scheduled after the back-off (one minute, jittered down to half)."""
    before = repository.get(STALE_PROCESSING)
    bank.statuses[STALE_PROCESSING] = BankStatusReport(f"bank-{STALE_PROCESSING}", PROCESSING)
    report = reconcile()
    after = repository.get(STALE_PROCESSING)
    assert next_check_is_due_within(after, timedelta(seconds=30), timedelta(seconds=60))
    assert ((0, 1), (before.status, before.updated_at), 1) == (
        (report.settled, report.still_processing),
        (after.status, after.updated_at),
        after.reconcile_attempts,
    )


def test_bank_with_no_record_is_counted_as_still_processing(
    reconcile: Reconcile, repository: InMemoryPaymentRepository
) -> None:
    """A 404 from the bank for a processing payment (before the bound) is counted; the
    payment stays processing, its check counted."""
    before = repository.get(STALE_PROCESSING)
    report = reconcile()
    after = repository.get(STALE_PROCESSING)
    assert (1, before.status, before.updated_at, 1) == (
        report.still_processing,
        after.status,
        after.updated_at,
        after.reconcile_attempts,
    )


def test_unreachable_bank_is_counted(
    reconcile: Reconcile, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """BankUnavailable while querying is counted as unreachable and changes nothing."""
    bank.unreachable = True
    report = reconcile()
    assert (1, 0, PaymentStatus.PROCESSING) == (
        report.unreachable,
        report.settled,
        repository.get(STALE_PROCESSING).status,
    )


def test_queue_down_is_noted_and_processing_still_reconciled(
    reconcile: Reconcile, queue: InMemoryPaymentQueue, bank: ScriptedBank
) -> None:
    """With the queue down nothing is requeued, the run says so, and the bank is still asked."""
    queue.failing = True
    bank.statuses[STALE_PROCESSING] = BankStatusReport("r", PAID)
    report = reconcile()
    assert ReconcileReport(requeued=0, settled=1, notes=["queue unavailable"]) == report


def test_a_conflicting_settlement_is_not_overridden(
    reconcile: Reconcile, bank: ScriptedBank, repository: InMemoryPaymentRepository
) -> None:
    """If a callback declined the payment meanwhile, the bank's PAID answer does not replace it."""
    del repository.items[STALE_PENDING]  # its requeue bookkeeping would be the first save
    bank.statuses[STALE_PROCESSING] = BankStatusReport("r", PAID)
    repository.interleave(lambda p: p.apply(INSUFFICIENT_FUNDS, NOW, "r"))
    report = reconcile()
    assert (0, PaymentStatus.DECLINED) == (
        report.settled,
        repository.get(STALE_PROCESSING).status,
    )


def next_check_is_due_within(
    payment: PaymentRequest, shortest: timedelta, longest: timedelta
) -> bool:
    """The payment's next reconcile time lies between NOW + shortest and NOW + longest."""
    due = payment.next_check_at
    return due is not None and NOW + shortest <= due <= NOW + longest


def test_nothing_open_means_an_empty_report(
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    clock: FixedClock,
    repository: InMemoryPaymentRepository,
) -> None:
    """A run over an empty repository does nothing and reports zeros."""
    assert ReconcileReport() == Reconcile(repository, queue, bank, clock)()
