"""The reconciler's view of money movements in the domain: an authorisation is next checked
at its expiry, a payment with an action pending stays watched (due at once), and the end of
its last action puts it back (authorised: its expiry; final: out of view)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.apply_bank_update import ApplyBankUpdate, BankUpdate
from shared_kernel.domain.money_movements import (
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import CaptureMethod, PaymentRequest, PaymentStatus
from shared_kernel.settings import Settings

from .builders import AUTHORIZED, CREATED_AT, PAID, PROCESSING, payment_in
from .fakes import FixedClock, InMemoryPaymentRepository, ReversibleCipher

pytestmark = pytest.mark.unit

AUTHORIZED_AT = CREATED_AT + timedelta(seconds=2)  # payment_in's second update
NOW = CREATED_AT + timedelta(minutes=5)
ACTION_ID = UUID("00000000-0000-4000-8000-00000000000a")
OTHER_ID = UUID("00000000-0000-4000-8000-00000000000b")


def authorized(validity: timedelta | None = None) -> PaymentRequest:
    """A manual payment authorised by the bank at AUTHORIZED_AT."""
    payment = payment_in(ReversibleCipher(), PROCESSING, capture_method=CaptureMethod.MANUAL)
    if validity is None:
        payment.apply(AUTHORIZED, AUTHORIZED_AT)
    else:
        payment.apply(AUTHORIZED, AUTHORIZED_AT, authorization_validity=validity)
    return payment


def test_an_authorisation_is_next_checked_at_its_expiry() -> None:
    """AUTHORIZED sets capture_before = its time + 7 days, and the next check to it."""
    payment = authorized()
    expected = AUTHORIZED_AT + timedelta(days=7)
    assert (expected, expected) == (payment.capture_before, payment.next_check_at)


def test_a_repeated_authorisation_moves_neither_the_expiry_nor_the_check() -> None:
    """A second AUTHORIZED an hour later changes nothing."""
    payment = authorized(timedelta(seconds=60))
    changed = payment.apply(AUTHORIZED, AUTHORIZED_AT + timedelta(hours=1))
    expected = AUTHORIZED_AT + timedelta(seconds=60)
    assert (False, expected, expected) == (
        changed,
        payment.capture_before,
        payment.next_check_at,
    )


def test_a_pending_capture_makes_the_check_due_at_once_and_its_failure_restores_expiry() -> None:
    """A capture's request moves the check to its creation; its failure back to the expiry."""
    payment = authorized()
    capture = request_capture(payment, None, NOW, action_id=ACTION_ID).action
    due_while_pending = payment.next_check_at
    settle_action(payment, capture, False, NOW + timedelta(seconds=1))
    assert (NOW, payment.capture_before, PaymentStatus.AUTHORIZED) == (
        due_while_pending,
        payment.next_check_at,
        payment.status,
    )


def test_a_succeeded_capture_or_void_takes_the_payment_out_of_view() -> None:
    """After a capture or void succeeds the payment is final with no check scheduled."""
    captured, voided = authorized(), authorized()
    capture = request_capture(captured, None, NOW, action_id=ACTION_ID).action
    void = request_void(voided, NOW, action_id=ACTION_ID).action
    settle_action(captured, capture, True, NOW)
    settle_action(voided, void, True, NOW)
    assert [(PaymentStatus.SUCCEEDED, None), (PaymentStatus.CANCELED, None)] == [
        (captured.status, captured.next_check_at),
        (voided.status, voided.next_check_at),
    ]


def test_a_refund_keeps_a_succeeded_payment_watched_until_the_last_one_ends() -> None:
    """Two pending refunds: watched (due at the first) until both have ended."""
    payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    assert (None, False) == (payment.next_check_at, payment.is_watched)
    first = request_refund(payment, 100, None, NOW, action_id=ACTION_ID).action
    second = request_refund(payment, 100, None, NOW + timedelta(seconds=9), action_id=OTHER_ID)
    settle_action(payment, first, True, NOW + timedelta(seconds=10))
    after_first = (payment.is_watched, payment.next_check_at)
    settle_action(payment, second.action, False, NOW + timedelta(seconds=11))
    assert [(True, NOW), (False, None)] == [
        after_first,
        (payment.is_watched, payment.next_check_at),
    ]


def test_the_action_check_count_restarts_when_an_action_ends() -> None:
    """Checks without progress are counted on the payment; an action's end resets them."""
    payment = authorized()
    capture = request_capture(payment, None, NOW, action_id=ACTION_ID).action
    payment.note_action_check(NOW + timedelta(minutes=1))
    payment.note_action_check(NOW + timedelta(minutes=2))
    counted = payment.reconcile_attempts
    settle_action(payment, capture, False, NOW + timedelta(minutes=3))
    assert (2, 0) == (counted, payment.reconcile_attempts)


def test_nothing_pending_means_no_action_check_or_hold() -> None:
    """Without a pending action the action checks change nothing."""
    payment = authorized()
    before = payment.copy()
    results = (
        payment.note_action_check(NOW),
        payment.hold_action_checks_until(NOW + timedelta(days=30)),
    )
    assert ((False, False), before) == (results, payment)


def test_a_hold_never_moves_the_check_earlier() -> None:
    """hold_action_checks_until moves a pending action's check later, never earlier."""
    payment = authorized()
    request_capture(payment, None, NOW, action_id=ACTION_ID)
    later = payment.hold_action_checks_until(NOW + timedelta(minutes=5))
    earlier = payment.hold_action_checks_until(NOW + timedelta(minutes=1))
    assert (True, False, NOW + timedelta(minutes=5)) == (later, earlier, payment.next_check_at)


def test_the_callback_sets_capture_before_from_the_configured_validity() -> None:
    """AUTHORIZATION_VALIDITY_S=60 in the environment: the AUTHORIZED update applied at T
    gives capture_before T + 60 s (and the reconciler's check then)."""
    settings = Settings.from_env(
        {"PAYMENTS_TABLE": "p", "MERCHANTS_TABLE": "m", "AUTHORIZATION_VALIDITY_S": "60"}
    )
    repository, clock = InMemoryPaymentRepository(), FixedClock(NOW)
    payment = payment_in(ReversibleCipher(), PROCESSING, capture_method=CaptureMethod.MANUAL)
    repository.add(payment)
    validity = timedelta(seconds=settings.authorization_validity_s)
    ApplyBankUpdate(repository, clock, authorization_validity=validity)(
        BankUpdate(payment.id, payment.merchant_id, AUTHORIZED, "ref", NOW)
    )
    stored = repository.get(payment.id)
    expected = NOW + timedelta(seconds=60)
    assert (PaymentStatus.AUTHORIZED, expected, expected) == (
        stored.status,
        stored.capture_before,
        stored.next_check_at,
    )


def test_the_validity_defaults_to_seven_days() -> None:
    """Without AUTHORIZATION_VALIDITY_S the window is SPEC §8's 7 days."""
    settings = Settings.from_env({"PAYMENTS_TABLE": "p", "MERCHANTS_TABLE": "m"})
    assert timedelta(days=7) == timedelta(seconds=settings.authorization_validity_s)
