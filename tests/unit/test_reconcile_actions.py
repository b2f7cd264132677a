"""Reconcile and money movements: pending actions are settled by asking the bank on the
bounded back-off (requeued while the bank never got them and requeues remain, failed
unknown_at_bank after), and authorisations past capture_before are voided — never while a
capture is pending."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.ports import BankActionStatus, BankStatusReport, QueuedPayment
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.domain.action import ActionFailureReason, ActionStatus, ActionType
from shared_kernel.domain.money_movements import (
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import (
    CancellationReason,
    PaymentRequest,
    PaymentStatus,
)

from .bank_actions_fake import ScriptedBankActions
from .builders import AUTHORIZED, CREATED_AT, MERCHANT_ID, PAID, PAYMENT_ID, PROCESSING, payment_in
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
)

pytestmark = pytest.mark.unit

AUTHORIZED_AT = CREATED_AT + timedelta(seconds=2)
CAPTURE_BEFORE = AUTHORIZED_AT + timedelta(days=7)
ACTION_ID = UUID("00000000-0000-4000-8000-0000000000d1")
VOID_ID = UUID("00000000-0000-4000-8000-0000000000d2")
REQUESTED_AT = CREATED_AT + timedelta(minutes=1)
STUCK_AT = REQUESTED_AT + timedelta(seconds=61)  # past the 60 s processing_after
# No jitter: checks 60 s, 120 s, ... apart.
BACKOFF = Backoff(60.0, 3600.0, lambda: 1.0)


@pytest.fixture
def actions_bank() -> ScriptedBankActions:
    """A bank for actions that knows none until told."""
    return ScriptedBankActions()


@pytest.fixture
def reconcile(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> Reconcile:
    """The use case with the bank for actions, fixed back-off, and VOID_ID for its voids."""
    return Reconcile(
        repository,
        queue,
        bank,
        clock,
        backoff=BACKOFF,
        bank_actions=actions_bank,
        new_id=lambda: VOID_ID,
    )


def authorised(repository: InMemoryPaymentRepository) -> PaymentRequest:
    """A manual payment authorised at AUTHORIZED_AT, stored."""
    payment = payment_in(ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method="manual")
    repository.add(payment)
    return payment


def with_pending_refund(repository: InMemoryPaymentRepository) -> PaymentRequest:
    """A paid payment with a pending refund of 300 requested at REQUESTED_AT, stored."""
    payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    repository.add(payment)
    refund = request_refund(payment, 300, None, REQUESTED_AT, action_id=ACTION_ID).action
    repository.save(payment, [refund])
    return payment


def refund_status(repository: InMemoryPaymentRepository) -> ActionStatus:
    """The stored refund's status."""
    return repository.get_action(PAYMENT_ID, ACTION_ID).status


def test_a_succeeded_payment_with_a_pending_refund_is_in_view_and_a_fresh_one_waits(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """Due at once, but 10 s old: not asked about, looked at again when it is 60 s old."""
    with_pending_refund(repository)
    clock.set(REQUESTED_AT + timedelta(seconds=10))
    reconcile()
    assert ([], REQUESTED_AT + timedelta(seconds=60)) == (
        actions_bank.status_queries,
        repository.get(PAYMENT_ID).next_check_at,
    )


@pytest.mark.parametrize(
    ("status", "expected", "refunded"),
    [
        (BankActionStatus.SUCCEEDED, ActionStatus.SUCCEEDED, 300),
        (BankActionStatus.DECLINED, ActionStatus.FAILED, 0),
    ],
)
def test_a_stuck_refund_is_settled_from_the_banks_answer(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
    status: BankActionStatus,
    expected: ActionStatus,
    refunded: int,
) -> None:
    """The bank's SUCCEEDED/DECLINED ends the refund and the payment leaves the index."""
    with_pending_refund(repository)
    actions_bank.knows(ACTION_ID, ActionType.REFUND, status)
    clock.set(STUCK_AT)
    report = reconcile()
    payment = repository.get(PAYMENT_ID)
    assert (1, expected, refunded, None) == (
        report.actions_settled,
        refund_status(repository),
        payment.amount_refunded,
        payment.next_check_at,
    )


def test_an_action_still_processing_is_counted_and_checked_again_after_the_back_off(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """PROCESSING: one attempt counted, next check 60 s later, and recorded as at the bank
    (so no delivery sends it again)."""
    with_pending_refund(repository)
    actions_bank.knows(ACTION_ID, ActionType.REFUND, BankActionStatus.PROCESSING)
    clock.set(STUCK_AT)
    report = reconcile()
    payment, action = repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (1, 1, STUCK_AT + timedelta(seconds=60)) == (
        report.still_processing,
        payment.reconcile_attempts,
        payment.next_check_at,
    )
    assert (STUCK_AT, ActionStatus.PENDING) == (action.sent_at, action.status)


def test_an_action_still_processing_past_the_bound_is_an_alert(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """With max_checks 1 the first PROCESSING answer is past the bound: an ALERT."""
    with_pending_refund(repository)
    actions_bank.knows(ACTION_ID, ActionType.REFUND, BankActionStatus.PROCESSING)
    clock.set(STUCK_AT)
    report = Reconcile(repository, queue, bank, clock, max_checks=1, bank_actions=actions_bank)()
    assert (1, ActionStatus.PENDING) == (report.alerts, refund_status(repository))


def test_an_action_the_bank_never_received_is_requeued_while_requeues_remain(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """No record at the bank, never sent: its message is queued again (it names the action)."""
    with_pending_refund(repository)
    clock.set(STUCK_AT)
    report = reconcile()
    assert (1, [QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1", ACTION_ID)]) == (
        report.actions_requeued,
        queue.messages,
    )
    assert (1, ActionStatus.PENDING) == (
        repository.get(PAYMENT_ID).reconcile_attempts,
        refund_status(repository),
    )


def test_an_action_the_bank_never_received_fails_once_the_requeues_are_spent(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """Five requeues on the back-off (60, 120, 240, 480 s apart), then unknown_at_bank on the
    sixth check: the refund's 300 is refundable again."""
    with_pending_refund(repository)
    clock.set(STUCK_AT)
    reports = []
    for _ in range(6):
        reports.append(reconcile())
        due = repository.get(PAYMENT_ID).next_check_at
        if due is not None:
            clock.set(due)
    action = repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (5, [0, 0, 0, 0, 0, 1]) == (len(queue.messages), [r.actions_failed for r in reports])
    assert (ActionFailureReason.UNKNOWN_AT_BANK, 1050, None) == (
        action.failure_reason,
        repository.get(PAYMENT_ID).amount_refundable,
        repository.get(PAYMENT_ID).next_check_at,
    )


def test_an_action_the_bank_accepted_is_never_failed_for_lack_of_a_record(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """Sent (a 202 recorded) but unknown to the bank's query: an ALERT, neither requeued nor
    failed."""
    payment = with_pending_refund(repository)
    action = repository.get_action(PAYMENT_ID, ACTION_ID)
    action.record_bank_acceptance(REQUESTED_AT)
    repository.save(repository.get(payment.id), [action])
    clock.set(STUCK_AT)
    report = reconcile()
    assert (1, [], ActionStatus.PENDING) == (
        report.alerts,
        queue.messages,
        refund_status(repository),
    )


def test_an_unreachable_bank_counts_an_attempt(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """BankUnavailable on the query: unreachable, one attempt, the refund still pending."""
    with_pending_refund(repository)
    actions_bank.unreachable = True
    clock.set(STUCK_AT)
    report = reconcile()
    assert (1, [ACTION_ID], 1) == (
        report.unreachable,
        actions_bank.status_queries,
        repository.get(PAYMENT_ID).reconcile_attempts,
    )


def test_an_authorisation_before_its_expiry_is_left_until_then(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """An authorised payment with a stale earlier check: moved to capture_before, nothing else."""
    payment = authorised(repository)
    stored = repository.get(payment.id)
    stored.postpone_check(PaymentStatus.AUTHORIZED, AUTHORIZED_AT)  # an old, due check
    repository.save(stored)
    clock.set(AUTHORIZED_AT + timedelta(hours=1))
    report = reconcile()
    assert ([], 0, CAPTURE_BEFORE) == (
        queue.messages,
        report.expiry_voids,
        repository.get(PAYMENT_ID).next_check_at,
    )


def test_an_expired_authorisation_is_voided_in_one_write_and_queued(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """At capture_before: a pending void (authorization_expired, the whole 1050) reserved on
    the payment and recorded with it, and its message queued."""
    authorised(repository)
    clock.set(CAPTURE_BEFORE)
    saves = repository.saves
    report = reconcile()
    payment, void = repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, VOID_ID)
    assert (1, 1, [QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1", VOID_ID)]) == (
        report.expiry_voids,
        repository.saves - saves,
        queue.messages,
    )
    assert (ActionType.VOID, CancellationReason.AUTHORIZATION_EXPIRED, 1050, VOID_ID) == (
        void.type,
        void.cancellation_reason,
        void.money.amount,
        payment.pending_action_id,
    )


def test_the_expiry_void_then_cancels_the_payment(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """The bank reports the expiry void SUCCEEDED: canceled, authorization_expired."""
    authorised(repository)
    clock.set(CAPTURE_BEFORE)
    reconcile()
    actions_bank.knows(VOID_ID, ActionType.VOID, BankActionStatus.SUCCEEDED)
    clock.advance(timedelta(seconds=61))
    reconcile()
    payment = repository.get(PAYMENT_ID)
    assert (PaymentStatus.CANCELED, CancellationReason.AUTHORIZATION_EXPIRED, None) == (
        payment.status,
        payment.cancellation_reason,
        payment.next_check_at,
    )


def test_an_expired_authorisation_with_a_capture_pending_is_not_voided(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """A capture asked just before capture_before is still pending after it: no void; the
    capture is asked about instead (and succeeds)."""
    payment = authorised(repository)
    capture = request_capture(
        payment, None, CAPTURE_BEFORE - timedelta(seconds=1), action_id=ACTION_ID
    )
    repository.save(payment, [capture.action])
    actions_bank.knows(ACTION_ID, ActionType.CAPTURE, BankActionStatus.SUCCEEDED)
    clock.set(CAPTURE_BEFORE + timedelta(minutes=5))
    report = reconcile()
    assert (0, [], PaymentStatus.SUCCEEDED) == (
        report.expiry_voids,
        queue.messages,
        repository.get(PAYMENT_ID).status,
    )


def test_voids_the_bank_keeps_refusing_stop_at_the_bound_with_an_alert(
    reconcile: Reconcile,
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    clock: FixedClock,
) -> None:
    """Five failed expiry voids: the sixth pass creates none, alerts and backs off."""
    payment = authorised(repository)
    for n in range(5):
        void_id = UUID(int=100 + n)
        stored = repository.get(payment.id)
        void = request_void(
            stored,
            CAPTURE_BEFORE,
            action_id=void_id,
            reason=CancellationReason.AUTHORIZATION_EXPIRED,
        ).action
        settle_action(stored, void, False, CAPTURE_BEFORE, ActionFailureReason.REJECTED_BY_BANK)
        repository.save(stored, [void])
    clock.set(CAPTURE_BEFORE + timedelta(minutes=1))
    report = reconcile()
    assert (0, 1, [], 1) == (
        report.expiry_voids,
        report.alerts,
        queue.messages,
        repository.get(PAYMENT_ID).reconcile_attempts,
    )


class BrokenBankActions(ScriptedBankActions):
    """A bank adapter for actions that fails with an unexpected error (a bug, an outage)."""

    def action_status_of(self, payment_id: UUID, action_id: UUID) -> None:
        """Record the query, then fail."""
        self.status_queries.append(action_id)
        raise RuntimeError("adapter bug (fake)")


def test_one_payments_failure_never_stops_the_pass(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    clock: FixedClock,
) -> None:
    """The action query of one payment raises: noted; the stale processing payment after it is
    still asked about and settled."""
    with_pending_refund(repository)
    processing = payment_in(ReversibleCipher(), PROCESSING, payment_id=UUID(int=77))
    repository.add(processing)
    bank.statuses[processing.id] = BankStatusReport("ref", PAID)
    broken = BrokenBankActions()
    clock.set(STUCK_AT + timedelta(hours=1))
    report = Reconcile(repository, queue, bank, clock, bank_actions=broken)()
    assert ([ACTION_ID], [f"reconciling {PAYMENT_ID} failed"], 1) == (
        broken.status_queries,
        report.notes,
        report.settled,
    )
