"""The business metrics the use cases record through the Metrics port (in-memory fake)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared_kernel.application.apply_bank_update import ApplyBankUpdate, BankUpdate
from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankRejected, BankUnavailable
from shared_kernel.application.forward_delivery import Done, ForwardDelivery, RetryAfter
from shared_kernel.application.forward_payment import ForwardPayment
from shared_kernel.application.ports import BankStatusReport, QueuedPayment
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.application.redrive_dead_letters import RedriveDeadLetters
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.payment import Outcome

from .builders import (
    CREATED_AT,
    INSUFFICIENT_FUNDS,
    MERCHANT_ID,
    PAID,
    PAYMENT_ID,
    PROCESSING,
    body,
    pending_payment,
)
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    RecordingMetrics,
    ReversibleCipher,
    ScriptedBank,
    SequentialIds,
)
from .test_redrive_dead_letters import FakeDeadLetterQueue

pytestmark = pytest.mark.unit

MESSAGE = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1")


@pytest.fixture
def metrics() -> RecordingMetrics:
    """An empty recorder."""
    return RecordingMetrics()


def stored_pending(repository: InMemoryPaymentRepository, cipher: ReversibleCipher) -> None:
    """The SPEC example payment, pending."""
    repository.add(pending_payment(cipher))


def test_a_submission_counts_one_accepted_payment(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
    metrics: RecordingMetrics,
) -> None:
    """Submit counts PaymentsAccepted once; a resumed submission of a stored id counts nothing."""
    submit = SubmitPayment(repository, queue, cipher, clock, ids, metrics=metrics)
    payment = submit(MERCHANT_ID, body(), "corr-1")
    submit(MERCHANT_ID, body(), "corr-1", payment_id=payment.id, resume=True)
    assert {("PaymentsAccepted", ()): 1} == metrics.counts()


def test_a_submission_the_queue_refuses_is_counted_as_left_unqueued(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
    metrics: RecordingMetrics,
) -> None:
    """With the queue down, the payment is accepted and counted as left for the reconciler."""
    queue.failing = True
    SubmitPayment(repository, queue, cipher, clock, ids, metrics=metrics)(
        MERCHANT_ID, body(), "corr-1"
    )
    assert {("PaymentsAccepted", ()): 1, ("PaymentsLeftUnqueued", ()): 1} == metrics.counts()


def test_a_delivery_counts_its_retry_and_the_next_its_result(
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
) -> None:
    """A bank outage counts one retry (and no result); the next delivery counts `accepted`."""
    stored_pending(repository, cipher)
    forward = ForwardPayment(repository, bank, cipher, clock, metrics)
    deliver = ForwardDelivery(forward, Backoff(2.0, 300.0), max_attempts=6, metrics=metrics)
    bank.then(BankUnavailable("down"))
    outcomes = [deliver(MESSAGE, 1), deliver(MESSAGE, 2)]
    assert [RetryAfter, Done] == [type(outcome) for outcome in outcomes]
    assert {
        ("ForwardRetries", ()): 1,
        ("PaymentsForwarded", (("result", "accepted"),)): 1,
    } == metrics.counts()


@pytest.mark.parametrize(
    ("answer", "final_attempt", "reason"),
    [(BankRejected("invalid"), False, "bank_rejected"), (BankUnavailable("down"), True, None)],
    ids=["rejected", "gave-up"],
)
def test_a_payment_the_forwarder_fails_is_counted_failed_with_its_reason(
    repository: InMemoryPaymentRepository,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
    answer: Exception,
    final_attempt: bool,
    reason: str | None,
) -> None:
    """Rejected by the bank, or given up on (the bank never had it): failed, with the reason."""
    stored_pending(repository, cipher)
    bank.then(answer)
    result = ForwardPayment(repository, bank, cipher, clock, metrics)(MESSAGE, final_attempt)
    expected_reason = reason or "retries_exhausted"
    assert {
        ("PaymentsForwarded", (("result", result.value),)): 1,
        ("PaymentsFinalised", (("reason", expected_reason), ("status", "failed"))): 1,
    } == metrics.counts()


def test_a_callback_counts_the_final_status_once_and_a_repeat_as_repeated(
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
) -> None:
    """The decline and its reason are counted once; the bank's repeat of it only as a repeat."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref-1", CREATED_AT)
    repository.add(payment)
    apply = ApplyBankUpdate(repository, clock, metrics)
    update = BankUpdate(PAYMENT_ID, MERCHANT_ID, INSUFFICIENT_FUNDS, "bank-ref-1", CREATED_AT)
    apply(update)
    apply(update)
    assert {
        ("BankUpdatesApplied", ()): 1,
        ("BankUpdatesRepeated", ()): 1,
        ("PaymentsFinalised", (("reason", "insufficient_funds"), ("status", "declined"))): 1,
    } == metrics.counts()


def test_a_callback_that_keeps_the_payment_open_counts_no_final_status(
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
) -> None:
    """A PROCESSING update of a pending payment changes it, but it is not final."""
    stored_pending(repository, cipher)
    ApplyBankUpdate(repository, clock, metrics)(
        BankUpdate(PAYMENT_ID, MERCHANT_ID, PROCESSING, "bank-ref-1", CREATED_AT)
    )
    assert {("BankUpdatesApplied", ()): 1} == metrics.counts()


def silent_processing(
    repository: InMemoryPaymentRepository,
    cipher: ReversibleCipher,
    bank: ScriptedBank,
    clock: FixedClock,
    outcome: Outcome,
) -> None:
    """A payment processing since CREATED_AT, two hours ago, that the bank reports `outcome`."""
    payment = pending_payment(cipher)
    payment.record_bank_acceptance("bank-ref-1", CREATED_AT)
    repository.add(payment)
    bank.statuses[PAYMENT_ID] = BankStatusReport("bank-ref-1", outcome)
    clock.set(CREATED_AT + timedelta(hours=2))


def test_a_reconciler_pass_counts_every_action_and_its_alerts(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
) -> None:
    """A processing payment the bank still reports PROCESSING past the bound is one ALERT."""
    silent_processing(repository, cipher, bank, clock, PROCESSING)
    report = Reconcile(repository, queue, bank, clock, max_checks=1, metrics=metrics)()
    assert (1, 1) == (report.alerts, report.still_processing)
    assert {
        ("ReconcileRequeued", ()): 0,
        ("ReconcileSettled", ()): 0,
        ("ReconcileStillProcessing", ()): 1,
        ("ReconcileUnreachable", ()): 0,
        ("ReconcileForwarded", ()): 0,
        ("ReconcileFailed", ()): 0,
        ("ReconcileAlerts", ()): 1,
        ("ReconcileActionsSettled", ()): 0,
        ("ReconcileActionsRequeued", ()): 0,
        ("ReconcileActionsFailed", ()): 0,
        ("ReconcileExpiryVoids", ()): 0,
    } == metrics.counts()


def test_a_payment_the_reconciler_settles_is_counted_with_its_status(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    metrics: RecordingMetrics,
) -> None:
    """The bank's PAID answer to a silent processing payment counts it succeeded."""
    silent_processing(repository, cipher, bank, clock, PAID)
    Reconcile(repository, queue, bank, clock, metrics=metrics)()
    finalised = {k: v for k, v in metrics.counts().items() if k[0] == "PaymentsFinalised"}
    assert {("PaymentsFinalised", (("reason", "none"), ("status", "succeeded"))): 1} == finalised


def test_a_dlq_redrive_counts_the_letters_moved_and_refused(metrics: RecordingMetrics) -> None:
    """Three letters, one refused by the payment queue: 2 redriven, 1 refused."""
    dead_letters = FakeDeadLetterQueue(["a", "b", "c"], refuse={"b"})
    RedriveDeadLetters(dead_letters, metrics)(limit=3)
    assert {("DlqMessagesRedriven", ()): 2, ("DlqMessagesRefused", ()): 1} == metrics.counts()
