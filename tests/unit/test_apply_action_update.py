"""ApplyActionUpdate: the bank's end of an action and its effect on the payment are saved in
one write; a repeat changes nothing; a mismatch is not found; a final action never changes.
And the callback's parsing of a signed action update (verified_action_update)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.adapters.bank.signature import sign
from shared_kernel.api.bank_callback import verified_action_update
from shared_kernel.application.apply_action_update import ActionUpdate, ApplyActionUpdate
from shared_kernel.domain.action import ActionFailureReason, ActionStatus, ActionType
from shared_kernel.domain.errors import ActionNotFound, InvalidTransition, PaymentNotFound
from shared_kernel.domain.money_movements import request_capture, request_refund
from shared_kernel.domain.payment import PaymentStatus

from .builders import (
    AUTHORIZED,
    CREATED_AT,
    MERCHANT_ID,
    OTHER_MERCHANT_ID,
    PAID,
    PAYMENT_ID,
    PROCESSING,
    payment_in,
)
from .fakes import FixedClock, InMemoryPaymentRepository, RecordingMetrics, ReversibleCipher

pytestmark = pytest.mark.unit

ACTION_ID = UUID("00000000-0000-4000-8000-0000000000cb")
REQUESTED_AT = CREATED_AT + timedelta(minutes=1)
OCCURRED_AT = datetime(2026, 11, 26, 10, 2, 1, tzinfo=UTC)
SECRET = "callback-secret"


def update(
    succeeded: bool = True,
    kind: ActionType = ActionType.CAPTURE,
    merchant_id: UUID = MERCHANT_ID,
    action_id: UUID = ACTION_ID,
) -> ActionUpdate:
    """A verified action update for the stored payment."""
    return ActionUpdate(PAYMENT_ID, merchant_id, action_id, kind, succeeded, OCCURRED_AT)


@pytest.fixture
def apply_update(repository: InMemoryPaymentRepository, clock: FixedClock) -> ApplyActionUpdate:
    """The use case over an authorised payment of 1050 with a pending capture of 600."""
    payment = payment_in(ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method="manual")
    repository.add(payment)
    capture = request_capture(payment, 600, REQUESTED_AT, action_id=ACTION_ID).action
    repository.save(payment, [capture])
    clock.set(REQUESTED_AT + timedelta(seconds=2))
    return ApplyActionUpdate(repository, clock)


def test_a_succeeded_capture_and_its_payment_are_one_write(
    apply_update: ApplyActionUpdate, repository: InMemoryPaymentRepository, clock: FixedClock
) -> None:
    """SUCCEEDED: the capture succeeded, the payment succeeded with 600 captured, one save."""
    saves = repository.saves
    changed = apply_update(update())
    payment, action = repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (True, 1) == (changed, repository.saves - saves)
    assert (ActionStatus.SUCCEEDED, clock.now()) == (action.status, action.updated_at)
    assert (PaymentStatus.SUCCEEDED, 600, None) == (
        payment.status,
        payment.amount_captured,
        payment.next_check_at,
    )


def test_a_declined_capture_leaves_the_payment_authorised(
    apply_update: ApplyActionUpdate, repository: InMemoryPaymentRepository
) -> None:
    """DECLINED: failed declined_by_bank, the payment authorised with nothing pending."""
    apply_update(update(succeeded=False))
    payment, action = repository.get(PAYMENT_ID), repository.get_action(PAYMENT_ID, ACTION_ID)
    assert (ActionStatus.FAILED, ActionFailureReason.DECLINED_BY_BANK) == (
        action.status,
        action.failure_reason,
    )
    assert (PaymentStatus.AUTHORIZED, None, 0) == (
        payment.status,
        payment.pending_action_id,
        payment.amount_captured,
    )


def test_a_repeat_changes_nothing(
    apply_update: ApplyActionUpdate, repository: InMemoryPaymentRepository
) -> None:
    """The same SUCCEEDED twice: the second is False and writes nothing."""
    apply_update(update())
    saves = repository.saves
    assert (False, 0) == (apply_update(update()), repository.saves - saves)


def test_the_other_end_of_a_final_action_is_an_invalid_transition(
    apply_update: ApplyActionUpdate, repository: InMemoryPaymentRepository
) -> None:
    """DECLINED after SUCCEEDED: InvalidTransition, the payment still captured."""
    apply_update(update())
    before = repository.get(PAYMENT_ID)
    with pytest.raises(InvalidTransition):
        apply_update(update(succeeded=False))
    assert before == repository.get(PAYMENT_ID)


@pytest.mark.parametrize(
    ("wrong", "error"),
    [
        (update(kind=ActionType.REFUND), ActionNotFound),
        (update(action_id=UUID(int=5)), ActionNotFound),
        (update(merchant_id=OTHER_MERCHANT_ID), PaymentNotFound),
        (
            ActionUpdate(
                UUID(int=6), MERCHANT_ID, ACTION_ID, ActionType.CAPTURE, True, OCCURRED_AT
            ),
            PaymentNotFound,
        ),
    ],
    ids=["other-type", "unknown-action", "other-merchant", "unknown-payment"],
)
def test_an_update_that_does_not_match_the_action_is_not_found(
    apply_update: ApplyActionUpdate,
    repository: InMemoryPaymentRepository,
    wrong: ActionUpdate,
    error: type[Exception],
) -> None:
    """Wrong type, action, merchant or payment: not found, nothing written."""
    saves = repository.saves
    with pytest.raises(error):
        apply_update(wrong)
    assert 0 == repository.saves - saves


def test_a_concurrent_write_is_retried_against_the_fresh_state(
    apply_update: ApplyActionUpdate, repository: InMemoryPaymentRepository
) -> None:
    """Another writer bumps the payment first: the update is decided again and saved (the
    version shows both writes: the other's, then ours)."""
    version = repository.get(PAYMENT_ID).version
    repository.interleave(lambda p: None)
    assert True is apply_update(update())
    assert (ActionStatus.SUCCEEDED, version + 2) == (
        repository.get_action(PAYMENT_ID, ACTION_ID).status,
        repository.get(PAYMENT_ID).version,
    )


def test_a_succeeded_refund_adds_to_the_refunded_amount(
    repository: InMemoryPaymentRepository, clock: FixedClock
) -> None:
    """A refund of 300 of a paid payment: amount_refunded 300, nothing pending, unwatched."""
    payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    repository.add(payment)
    refund = request_refund(payment, 300, None, REQUESTED_AT, action_id=ACTION_ID).action
    repository.save(payment, [refund])
    ApplyActionUpdate(repository, clock)(update(kind=ActionType.REFUND))
    stored = repository.get(PAYMENT_ID)
    assert (300, 0, None) == (
        stored.amount_refunded,
        stored.amount_refund_pending,
        stored.next_check_at,
    )


def event(body: dict[str, Any], secret: str = SECRET, at: float | None = None) -> dict[str, Any]:
    """A callback request as API Gateway delivers it, signed with `secret` at `at`."""
    raw = json.dumps(body).encode()
    t = int(time.time() if at is None else at)
    return {
        "headers": {
            "Content-Type": "application/json",
            "X-Bank-Signature": f"t={t},v1={sign(secret, t, raw)}",
        },
        "body": raw.decode(),
    }


BODY = {
    "payment_request_id": str(PAYMENT_ID),
    "merchant_id": str(MERCHANT_ID),
    "action_id": str(ACTION_ID),
    "type": "refund",
    "status": "DECLINED",
    "occurred_at": "2026-11-26T10:02:01Z",
}


def test_a_signed_action_update_is_parsed() -> None:
    """The body of a correctly signed request becomes the ActionUpdate it says."""
    parsed = verified_action_update(event(BODY), [SECRET], time.time())
    assert update(succeeded=False, kind=ActionType.REFUND) == parsed


@pytest.mark.parametrize(
    ("make_event", "status", "code"),
    [
        (lambda: event(BODY, secret="wrong"), 401, "unauthorized"),
        (lambda: event(BODY, at=time.time() - 301), 401, "unauthorized"),
        (lambda: event({**BODY, "status": "PAID"}), 400, "validation_error"),
        (lambda: event({**BODY, "type": "chargeback"}), 400, "validation_error"),
    ],
    ids=["wrong-secret", "stale", "payment-status", "unknown-type"],
)
def test_a_forged_or_invalid_action_update_is_refused(
    make_event: Callable[[], dict[str, Any]], status: int, code: str
) -> None:
    """Signed with another secret or too old: 401; a body breaking the contract: 400. The
    requests are signed when the test runs (signed at collection, they would be stale when
    a long suite reaches them)."""
    with pytest.raises(HttpError) as caught:
        verified_action_update(make_event(), [SECRET], time.time())
    assert (status, code) == (caught.value.status, caught.value.code)


def test_applied_and_repeated_updates_are_counted(
    repository: InMemoryPaymentRepository, clock: FixedClock, apply_update: ApplyActionUpdate
) -> None:
    """One ActionUpdatesApplied for the change, one ActionUpdatesRepeated for its repeat."""
    metrics = RecordingMetrics()
    counted = ApplyActionUpdate(repository, clock, metrics)
    counted(update())
    counted(update())
    assert {("ActionUpdatesApplied", ()): 1, ("ActionUpdatesRepeated", ()): 1} == metrics.counts()
