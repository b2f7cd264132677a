"""The rules of SPEC §8 that tie a payment to its captures, voids and refunds.

`request_capture`, `request_void` and `request_refund` check a request against the payment in
the order of SPEC §8's edge rules (validation, payment_unexpected_state, action_in_progress,
authorization_expired, refund_limit_reached, amount_too_large), then return the new pending
action with the reservation it makes on the payment — the one pending capture or void, or
the refund's amount — and apply that reservation to the payment. The repository must write
the action and the reserved payment in one conditional write, so that concurrent requests can
never reserve more than the rules allow. `settle_action` applies an action's end and its
effect on the payment as one change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
    RefundReason,
)
from shared_kernel.domain.errors import (
    ActionInProgress,
    AmountTooLarge,
    AuthorizationExpired,
    FieldError,
    InvalidTransition,
    PaymentUnexpectedState,
    RefundLimitReached,
    ValidationError,
)
from shared_kernel.domain.events import DomainEvent
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import CancellationReason, PaymentRequest, PaymentStatus

# Refunds accepted per payment, failed ones included: a runaway retry loop stops here.
MAX_REFUNDS = 50


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an accepted action holds on its payment until it ends: a capture or void holds
    the payment's one pending slot; a refund holds its amount and one of the refunds."""

    action_id: UUID
    type: ActionType
    refund_amount: int = 0


@dataclass(frozen=True, slots=True)
class ActionRequested:
    """An accepted request: the new pending action and the reservation it made."""

    action: PaymentAction
    reservation: Reservation


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of settling an action: whether anything changed, and the events of the
    change in the order they are recorded (the action's, then the payment's)."""

    changed: bool
    events: tuple[DomainEvent, ...] = ()


def request_capture(
    payment: PaymentRequest, amount: int | None, now: datetime, *, action_id: UUID
) -> ActionRequested:
    """Capture `amount` (default: all) of an authorised payment; one capture per payment."""
    _check_amount(amount)
    _check_status(payment, PaymentStatus.AUTHORIZED, ActionType.CAPTURE)
    _check_nothing_pending(payment)
    if payment.authorization_expired(now):
        raise AuthorizationExpired("the authorisation expired; it can no longer be captured")
    captured = payment.money.amount if amount is None else amount
    if captured > payment.money.amount:
        raise AmountTooLarge(f"a capture takes at most the authorised {payment.money.amount}")
    return _reserve(payment, _new_action(payment, ActionType.CAPTURE, captured, now, action_id))


def request_void(
    payment: PaymentRequest,
    now: datetime,
    *,
    action_id: UUID,
    reason: CancellationReason = CancellationReason.REQUESTED_BY_MERCHANT,
) -> ActionRequested:
    """Release an authorised payment's hold: the merchant's void, or (with reason
    authorization_expired) the reconciler's once the authorisation has expired."""
    _check_status(payment, PaymentStatus.AUTHORIZED, ActionType.VOID)
    _check_nothing_pending(payment)
    expiry = reason is CancellationReason.AUTHORIZATION_EXPIRED
    if expiry and not payment.authorization_expired(now):
        raise PaymentUnexpectedState("the authorisation has not expired")
    action = _new_action(payment, ActionType.VOID, payment.money.amount, now, action_id, reason)
    return _reserve(payment, action)


def request_refund(
    payment: PaymentRequest,
    amount: int | None,
    reason: RefundReason | None,
    now: datetime,
    *,
    action_id: UUID,
) -> ActionRequested:
    """Refund `amount` (default: all still refundable) of a succeeded payment."""
    _check_amount(amount)
    _check_status(payment, PaymentStatus.SUCCEEDED, ActionType.REFUND)
    _check_nothing_pending(payment)
    if payment.refund_count >= MAX_REFUNDS:
        raise RefundLimitReached(f"a payment takes at most {MAX_REFUNDS} refunds")
    refundable = payment.amount_refundable
    refunded = refundable if amount is None else amount
    if not 1 <= refunded <= refundable:
        raise AmountTooLarge(f"at most {refundable} is still refundable")
    action = _new_action(payment, ActionType.REFUND, refunded, now, action_id, refund=reason)
    return _reserve(payment, action)


def settle_action(
    payment: PaymentRequest,
    action: PaymentAction,
    succeeded: bool,
    now: datetime,
    failure_reason: ActionFailureReason = ActionFailureReason.DECLINED_BY_BANK,
) -> Settlement:
    """End `action` (succeeded, or failed for `failure_reason`) and apply its effect on its
    payment as one change; a repeat of the end it already has changes nothing.

    Raises InvalidTransition for a different end of a final action, or when the payment
    does not hold the action's reservation; ValueError for an action of another payment.
    """
    if (action.payment_id, action.merchant_id) != (payment.id, payment.merchant_id):
        raise ValueError("the action belongs to another payment")
    status = ActionStatus.SUCCEEDED if succeeded else ActionStatus.FAILED
    reason = None if succeeded else failure_reason
    if action.status.is_final:
        action.end(status, now, reason)  # raises unless it repeats the action's end
        return Settlement(changed=False)
    _check_reserved(payment, action)
    first_action_event, first_payment_event = len(action.events), len(payment.events)
    action.end(status, now, reason)
    amount = action.money.amount
    match action.type:
        case ActionType.CAPTURE:
            payment.pending_action_id = None
            if succeeded:
                payment.record_capture(amount, now)
        case ActionType.VOID:
            payment.pending_action_id = None
            if succeeded:
                assert action.cancellation_reason is not None  # a void always has one
                payment.record_cancellation(action.cancellation_reason, now)
        case ActionType.REFUND:
            payment.amount_refund_pending -= amount
            if succeeded:
                payment.amount_refunded += amount
            payment.updated_at = now
    payment.note_action_ended()
    events = action.events[first_action_event:] + payment.events[first_payment_event:]
    return Settlement(changed=True, events=tuple(events))


def expiry_void_due(payment: PaymentRequest, now: datetime) -> bool:
    """Whether the reconciler should void the payment's authorisation at `now`: it has
    expired and no capture or void is pending (a pending capture may still succeed)."""
    return payment.authorization_expired(now) and payment.pending_action_id is None


def _check_amount(amount: int | None) -> None:
    if amount is None:
        return
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValidationError([FieldError("amount", "must be an integer of at least 1")])


def _check_status(payment: PaymentRequest, needed: PaymentStatus, kind: ActionType) -> None:
    if payment.status is not needed:
        raise PaymentUnexpectedState(f"a {payment.status} payment cannot take a {kind}")


def _check_nothing_pending(payment: PaymentRequest) -> None:
    if payment.pending_action_id is not None:
        raise ActionInProgress("a capture or void of this payment is still pending")


def _check_reserved(payment: PaymentRequest, action: PaymentAction) -> None:
    if action.type is ActionType.REFUND:
        held = (
            payment.status is PaymentStatus.SUCCEEDED
            and payment.amount_refund_pending >= action.money.amount
        )
    else:
        held = payment.pending_action_id == action.id
    if not held:
        raise InvalidTransition(f"the payment holds no reservation for this {action.type}")


def _new_action(
    payment: PaymentRequest,
    kind: ActionType,
    amount: int,
    now: datetime,
    action_id: UUID,
    cancellation: CancellationReason | None = None,
    refund: RefundReason | None = None,
) -> PaymentAction:
    return PaymentAction(
        id=action_id,
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        type=kind,
        money=Money(amount, payment.money.currency),
        created_at=now,
        updated_at=now,
        reason=refund,
        cancellation_reason=cancellation,
    )


def _reserve(payment: PaymentRequest, action: PaymentAction) -> ActionRequested:
    if action.type is ActionType.REFUND:
        reservation = Reservation(action.id, action.type, refund_amount=action.money.amount)
        payment.amount_refund_pending += action.money.amount
        payment.refund_count += 1
        # The refundable amount a merchant sees has changed.
        payment.updated_at = action.created_at
    else:
        reservation = Reservation(action.id, action.type)
        payment.pending_action_id = action.id
    # Due at once: the reconciler decides from the action's age whether it is stuck, so a
    # succeeded payment with a pending refund comes back into its view.
    payment.check_actions_by(action.created_at)
    return ActionRequested(action, reservation)
