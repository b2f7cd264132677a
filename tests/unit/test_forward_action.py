"""ForwardAction: a queued capture, void or refund is sent to the bank once in effect (its id
the Idempotency-Key), never again after a known 202; a rejected one fails and releases its
reservation; an unknown outcome is retried after the back-off, and the last attempt asks."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.backoff import Backoff
from shared_kernel.application.errors import BankRejected, BankUnavailable, BankUnknownPayment
from shared_kernel.application.forward_action import ForwardAction, ForwardQueued
from shared_kernel.application.forward_delivery import Done, ForwardDelivery, RetryAfter
from shared_kernel.application.forward_payment import ForwardPayment, ForwardResult
from shared_kernel.application.ports import (
    BankActionRequest,
    BankActionStatus,
    QueuedPayment,
)
from shared_kernel.domain.action import ActionFailureReason, ActionStatus, ActionType
from shared_kernel.domain.money_movements import (
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import PaymentRequest, PaymentStatus

from .bank_actions_fake import ScriptedBankActions
from .builders import AUTHORIZED, CREATED_AT, MERCHANT_ID, PAID, PAYMENT_ID, PROCESSING, payment_in
from .fakes import (
    FixedClock,
    InMemoryPaymentRepository,
    RecordingMetrics,
    ReversibleCipher,
    ScriptedBank,
)

pytestmark = pytest.mark.unit

ACTION_ID = UUID("00000000-0000-4000-8000-0000000000ac")
REQUESTED_AT = CREATED_AT + timedelta(minutes=1)
MESSAGE = QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1", ACTION_ID)
BACKOFF = Backoff(2.0, 300.0, lambda: 1.0)
HORIZON = timedelta(seconds=330)


def stored(repository: InMemoryPaymentRepository, kind: ActionType = ActionType.CAPTURE) -> None:
    """A manual payment with a pending action of `kind`, stored: a capture of 600 or a void
    of the authorisation, or (for a refund) a refund of 300 of the captured payment."""
    if kind is ActionType.REFUND:
        payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    else:
        payment = payment_in(ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method="manual")
    repository.add(payment)
    match kind:
        case ActionType.CAPTURE:
            requested = request_capture(payment, 600, REQUESTED_AT, action_id=ACTION_ID)
        case ActionType.VOID:
            requested = request_void(payment, REQUESTED_AT, action_id=ACTION_ID)
        case ActionType.REFUND:
            requested = request_refund(payment, 300, None, REQUESTED_AT, action_id=ACTION_ID)
    repository.save(payment, [requested.action])


@pytest.fixture
def actions_bank() -> ScriptedBankActions:
    """A bank that accepts every action until scripted otherwise."""
    return ScriptedBankActions()


@pytest.fixture
def forward_action(
    repository: InMemoryPaymentRepository, actions_bank: ScriptedBankActions, clock: FixedClock
) -> ForwardAction:
    """The use case over a stored authorised payment with a pending capture of 600."""
    stored(repository)
    clock.set(REQUESTED_AT + timedelta(seconds=1))
    return ForwardAction(repository, actions_bank, clock, retry_horizon=HORIZON)


def state(repository: InMemoryPaymentRepository) -> tuple[PaymentRequest, ActionStatus]:
    """The stored payment and its action's status."""
    return repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, ACTION_ID).status


@pytest.mark.parametrize(
    ("kind", "amount"),
    [(ActionType.CAPTURE, 600), (ActionType.VOID, None), (ActionType.REFUND, 300)],
)
def test_an_action_is_sent_with_its_id_and_recorded_as_sent(
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
    kind: ActionType,
    amount: int | None,
) -> None:
    """The bank gets the action's id (its Idempotency-Key), type and amount (none for a void);
    its 202 is recorded as `sent_at`, the action still pending."""
    stored(repository, kind)
    result = ForwardAction(repository, actions_bank, clock)(MESSAGE)
    action = repository.get_action(PAYMENT_ID, ACTION_ID)
    expected = BankActionRequest(PAYMENT_ID, MERCHANT_ID, ACTION_ID, kind, amount, "corr-1")
    assert (ForwardResult.ACCEPTED, [expected]) == (result, actions_bank.requests)
    assert (clock.now(), ActionStatus.PENDING) == (action.sent_at, action.status)


def test_an_action_the_bank_accepted_is_never_sent_again(
    forward_action: ForwardAction, actions_bank: ScriptedBankActions
) -> None:
    """A redelivered message after the 202 is done without a second request."""
    first = forward_action(MESSAGE)
    second = forward_action(MESSAGE)
    assert (ForwardResult.ACCEPTED, ForwardResult.ALREADY_FORWARDED, 1) == (
        first,
        second,
        actions_bank.sends_of(ACTION_ID),
    )


def test_an_ended_action_is_not_sent(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
) -> None:
    """The callback ended the action before its message came: nothing is sent."""
    payment, action = repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, ACTION_ID)
    settle_action(payment, action, True, REQUESTED_AT)
    repository.save(payment, [action])
    assert (ForwardResult.ALREADY_FORWARDED, []) == (forward_action(MESSAGE), actions_bank.requests)


@pytest.mark.parametrize("error", [BankRejected("422"), BankUnknownPayment("404")])
def test_a_rejected_action_fails_and_releases_its_reservation(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    error: Exception,
) -> None:
    """400/422 or 404: failed rejected_by_bank, the payment authorised with nothing pending."""
    actions_bank.then(error)
    result = forward_action(MESSAGE)
    payment, status = state(repository)
    failure = repository.get_action(PAYMENT_ID, ACTION_ID).failure_reason
    assert (ForwardResult.REJECTED, ActionStatus.FAILED, ActionFailureReason.REJECTED_BY_BANK) == (
        result,
        status,
        failure,
    )
    assert (PaymentStatus.AUTHORIZED, None) == (payment.status, payment.pending_action_id)


def test_an_unknown_outcome_is_raised_for_a_retry_and_holds_the_reconciler(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """BankUnavailable before the last attempt: raised, the action pending and unsent, the
    reconciler held off until the retry has run."""
    actions_bank.then(BankUnavailable("503"))
    with pytest.raises(BankUnavailable):
        forward_action(MESSAGE)
    payment, status = state(repository)
    assert (ActionStatus.PENDING, clock.now() + HORIZON) == (status, payment.next_check_at)


def test_the_last_attempt_fails_an_action_the_bank_never_received(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
) -> None:
    """Unknown outcome on the final attempt and no record at the bank: unknown_at_bank."""
    actions_bank.then(BankUnavailable("timeout"))
    result = forward_action(MESSAGE, final_attempt=True)
    action = repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (ForwardResult.GAVE_UP, ActionFailureReason.UNKNOWN_AT_BANK, [ACTION_ID]) == (
        result,
        action.failure_reason,
        actions_bank.status_queries,
    )
    assert None is repository.get(PAYMENT_ID).pending_action_id


def test_the_last_attempt_leaves_an_action_processing_at_the_bank_to_its_callback(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """The bank has it (PROCESSING): recorded as sent, still pending; never resent."""
    actions_bank.then(BankUnavailable("timeout"))
    actions_bank.knows(ACTION_ID, ActionType.CAPTURE, BankActionStatus.PROCESSING)
    result = forward_action(MESSAGE, final_attempt=True)
    again = forward_action(MESSAGE)
    action = repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (ForwardResult.FOUND_AT_BANK, ForwardResult.ALREADY_FORWARDED) == (result, again)
    assert (ActionStatus.PENDING, clock.now(), 1) == (
        action.status,
        action.sent_at,
        actions_bank.sends_of(ACTION_ID),
    )


def test_the_last_attempt_settles_an_action_the_bank_has_ended(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
) -> None:
    """The bank reports SUCCEEDED: the capture succeeded and the payment captured 600."""
    actions_bank.then(BankUnavailable("timeout"))
    actions_bank.knows(ACTION_ID, ActionType.CAPTURE, BankActionStatus.SUCCEEDED)
    result = forward_action(MESSAGE, final_attempt=True)
    payment, status = state(repository)
    assert (ForwardResult.FOUND_AT_BANK, ActionStatus.SUCCEEDED) == (result, status)
    assert (PaymentStatus.SUCCEEDED, 600) == (payment.status, payment.amount_captured)


@pytest.mark.parametrize(
    "message",
    [
        QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1", UUID(int=7)),
        QueuedPayment(PAYMENT_ID, UUID(int=8), "corr-1", ACTION_ID),
        QueuedPayment(UUID(int=9), MERCHANT_ID, "corr-1", ACTION_ID),
    ],
    ids=["unknown-action", "other-merchant", "unknown-payment"],
)
def test_a_message_naming_no_known_action_is_done_without_sending(
    forward_action: ForwardAction, actions_bank: ScriptedBankActions, message: QueuedPayment
) -> None:
    """An unknown action or payment, or another merchant's: done, nothing sent."""
    assert (ForwardResult.UNKNOWN_PAYMENT, []) == (forward_action(message), actions_bank.requests)


def payment_forwarding(repository: InMemoryPaymentRepository, clock: FixedClock) -> ForwardPayment:
    """The payment's own forwarding over the same repository (a bank that accepts)."""
    return ForwardPayment(repository, ScriptedBank(), ReversibleCipher(), clock)


def test_deliveries_retry_after_the_back_off_and_the_capped_last_one_asks_the_bank(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """Through the forwarder's ForwardDelivery: 2 s, 4 s back-off on 503s, and the third
    (last) delivery asks the bank, which never got it: failed unknown_at_bank."""
    actions_bank.then(BankUnavailable("503"), BankUnavailable("503"), BankUnavailable("503"))
    delivery = ForwardDelivery(
        ForwardQueued(payment_forwarding(repository, clock), lambda: forward_action),
        BACKOFF,
        max_attempts=3,
    )
    outcomes = [delivery(MESSAGE, count) for count in (1, 2, 3)]
    assert [RetryAfter(2.0), RetryAfter(4.0), Done(ForwardResult.GAVE_UP)] == outcomes
    assert ([ACTION_ID] * 3, [ACTION_ID]) == (
        [r.action_id for r in actions_bank.requests],
        actions_bank.status_queries,
    )


def test_the_router_sends_a_payment_message_to_the_payment_forwarding(
    forward_action: ForwardAction,
    repository: InMemoryPaymentRepository,
    actions_bank: ScriptedBankActions,
    clock: FixedClock,
) -> None:
    """A message without an action id is the payment's own: the action use case is not built."""
    built: list[bool] = []

    def action() -> ForwardAction:
        built.append(True)
        return forward_action

    router = ForwardQueued(payment_forwarding(repository, clock), action)
    result = router(QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1"))
    assert (ForwardResult.ALREADY_FORWARDED, [], []) == (result, built, actions_bank.requests)


def test_each_forwarded_action_is_counted_by_result(
    repository: InMemoryPaymentRepository, actions_bank: ScriptedBankActions, clock: FixedClock
) -> None:
    """ActionsForwarded{result}: accepted, then already_forwarded for the redelivery."""
    stored(repository)
    metrics = RecordingMetrics()
    forward = ForwardAction(repository, actions_bank, clock, metrics)
    forward(MESSAGE)
    forward(MESSAGE)
    assert {
        ("ActionsForwarded", (("result", "accepted"),)): 1,
        ("ActionsForwarded", (("result", "already_forwarded"),)): 1,
    } == metrics.counts()
