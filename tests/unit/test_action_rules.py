"""SPEC §8's rules over a payment and its actions: requests, their order of refusals, the
reservation, settling an action, and the authorisation's expiry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
    RefundReason,
)
from shared_kernel.domain.errors import (
    ActionInProgress,
    ActionRefused,
    AmountTooLarge,
    AuthorizationExpired,
    DomainError,
    InvalidTransition,
    PaymentUnexpectedState,
    RefundLimitReached,
    ValidationError,
)
from shared_kernel.domain.money_movements import (
    MAX_REFUNDS,
    ActionRequested,
    Reservation,
    expiry_void_due,
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import (
    AUTHORIZATION_VALIDITY,
    CancellationReason,
    CaptureMethod,
    PaymentRequest,
    PaymentStatus,
)

from .builders import (
    AUTHORIZED,
    CREATED_AT,
    FAILED,
    FRAUD,
    PAID,
    PROCESSING,
    payment_in,
)
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

AMOUNT = 1050  # the SPEC's example payment
AUTHORIZED_AT = CREATED_AT + timedelta(seconds=2)  # the AUTHORIZED update of `authorized()`
CAPTURE_BEFORE = AUTHORIZED_AT + AUTHORIZATION_VALIDITY
NOW = CREATED_AT + timedelta(minutes=5)
LATER = NOW + timedelta(seconds=5)
FIRST_ID = UUID("00000000-0000-4000-8000-000000000001")
SECOND_ID = UUID("00000000-0000-4000-8000-000000000002")
CUSTOMER = RefundReason.REQUESTED_BY_CUSTOMER
MANUAL = CaptureMethod.MANUAL


def authorized() -> PaymentRequest:
    """A manual payment the bank has authorised (processing, then AUTHORIZED)."""
    return payment_in(ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method=MANUAL)


def paid() -> PaymentRequest:
    """An automatic payment the bank has paid: all of it captured."""
    return payment_in(ReversibleCipher(), PROCESSING, PAID)


def captured(amount: int = AMOUNT) -> PaymentRequest:
    """A manual payment captured for `amount` (its capture settled succeeded)."""
    payment = authorized()
    capture = request_capture(payment, amount, NOW, action_id=FIRST_ID).action
    settle_action(payment, capture, True, NOW)
    payment.pull_events()
    return payment


def refunded(payment: PaymentRequest, amount: int, succeeded: bool | None) -> PaymentAction:
    """A refund of `amount` accepted on `payment`, then settled (None: left pending)."""
    action = request_refund(payment, amount, None, NOW, action_id=SECOND_ID).action
    if succeeded is not None:
        settle_action(payment, action, succeeded, NOW)
    return action


def refused(request: Callable[[PaymentRequest], object], payment: PaymentRequest) -> DomainError:
    """The error a request raises, having checked that it changed nothing on the payment."""
    before = payment.copy()
    with pytest.raises(DomainError) as caught:
        request(payment)
    assert before == payment
    return caught.value


def capture(amount: int | None = None, at: datetime = NOW) -> Callable[[PaymentRequest], object]:
    """A capture request of `amount` at `at`."""
    return lambda payment: request_capture(payment, amount, at, action_id=SECOND_ID)


def void(
    reason: CancellationReason = CancellationReason.REQUESTED_BY_MERCHANT, at: datetime = NOW
) -> Callable[[PaymentRequest], object]:
    """A void request at `at` (the merchant's by default)."""
    return lambda payment: request_void(payment, at, action_id=SECOND_ID, reason=reason)


def refund(amount: int | None = None) -> Callable[[PaymentRequest], object]:
    """A refund request of `amount` (None: all that is refundable)."""
    return lambda payment: request_refund(payment, amount, CUSTOMER, NOW, action_id=SECOND_ID)


def with_fields(payment: PaymentRequest, **fields: object) -> PaymentRequest:
    """The payment with some stored fields replaced (a state the rules must rank)."""
    return replace(payment, **fields)  # type: ignore[arg-type]


# -- capture -------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "expected"), [(None, AMOUNT), (AMOUNT, AMOUNT), (600, 600)])
def test_a_capture_request_reserves_the_payments_one_pending_slot(
    amount: int | None, expected: int
) -> None:
    """A capture of all (the default) or part is pending, holds the pending slot, and leaves
    the payment authorised and otherwise unchanged."""
    payment = authorized()
    requested = request_capture(payment, amount, NOW, action_id=FIRST_ID)
    action = requested.action
    assert (ActionType.CAPTURE, ActionStatus.PENDING, expected, "GBP", None, NOW) == (
        action.type,
        action.status,
        action.money.amount,
        action.money.currency,
        action.reason,
        action.created_at,
    )
    assert (payment.id, payment.merchant_id) == (action.payment_id, action.merchant_id)
    assert Reservation(FIRST_ID, ActionType.CAPTURE) == requested.reservation
    assert (PaymentStatus.AUTHORIZED, FIRST_ID, 0) == (
        payment.status,
        payment.pending_action_id,
        payment.amount_captured,
    )


@pytest.mark.parametrize(
    "payment",
    [
        pytest.param(lambda: payment_in(ReversibleCipher(), capture_method=MANUAL), id="pending"),
        pytest.param(
            lambda: payment_in(ReversibleCipher(), PROCESSING, capture_method=MANUAL),
            id="processing",
        ),
        pytest.param(lambda: captured(), id="captured"),
        pytest.param(lambda: paid(), id="automatic-succeeded"),
        pytest.param(lambda: payment_in(ReversibleCipher(), FRAUD), id="declined"),
        pytest.param(lambda: payment_in(ReversibleCipher(), FAILED), id="failed"),
    ],
)
def test_only_an_authorised_payment_takes_a_capture_or_void(
    payment: Callable[[], PaymentRequest],
) -> None:
    """Capture and void of a payment that is not authorised are payment_unexpected_state."""
    errors = [refused(capture(), payment()), refused(void(), payment())]
    assert [PaymentUnexpectedState] * 2 == [type(error) for error in errors]


def test_a_canceled_payment_takes_no_capture() -> None:
    """Once voided, a payment refuses a capture, a void and a refund."""
    payment = authorized()
    settle_action(payment, request_void(payment, NOW, action_id=FIRST_ID).action, True, NOW)
    errors = [refused(request, payment) for request in (capture(), void(), refund())]
    assert [PaymentUnexpectedState] * 3 == [type(error) for error in errors]


@pytest.mark.parametrize("pending", [capture(), void()], ids=["capture", "void"])
def test_a_pending_capture_or_void_blocks_another(
    pending: Callable[[PaymentRequest], object],
) -> None:
    """While a capture or void is pending, a capture or void is action_in_progress."""
    payment = authorized()
    pending(payment)
    errors = [refused(capture(), payment), refused(void(), payment)]
    assert [ActionInProgress, ActionInProgress] == [type(error) for error in errors]


def test_a_capture_at_capture_before_is_too_late() -> None:
    """A capture at capture_before is authorization_expired; one second earlier is taken."""
    payment = authorized()
    error = refused(capture(at=CAPTURE_BEFORE), payment)
    request_capture(payment, None, CAPTURE_BEFORE - timedelta(seconds=1), action_id=FIRST_ID)
    assert (AuthorizationExpired, FIRST_ID) == (type(error), payment.pending_action_id)


def test_a_capture_above_the_authorised_amount_is_too_large() -> None:
    """A capture of one more than the authorised amount is amount_too_large."""
    assert AmountTooLarge is type(refused(capture(AMOUNT + 1), authorized()))


@pytest.mark.parametrize("amount", [0, -1, True, "500", 10.5])
def test_an_action_amount_is_an_integer_of_at_least_one(amount: object) -> None:
    """A capture or refund of 0, a negative, a boolean or a non-integer is a validation
    error on `amount` (before any state rule: here the payment allows neither)."""
    errors = [
        refused(capture(amount), paid()),  # type: ignore[arg-type]
        refused(refund(amount), authorized()),  # type: ignore[arg-type]
    ]
    assert [["amount"], ["amount"]] == [
        [d.field for d in e.details] for e in errors if isinstance(e, ValidationError)
    ]


# -- void ----------------------------------------------------------------------------------


def test_a_void_releases_the_whole_authorised_amount() -> None:
    """A merchant's void is pending for the authorised amount and holds the pending slot."""
    payment = authorized()
    requested = request_void(payment, NOW, action_id=FIRST_ID)
    assert (
        ActionType.VOID,
        AMOUNT,
        CancellationReason.REQUESTED_BY_MERCHANT,
        Reservation(FIRST_ID, ActionType.VOID),
        FIRST_ID,
    ) == (
        requested.action.type,
        requested.action.money.amount,
        requested.action.cancellation_reason,
        requested.reservation,
        payment.pending_action_id,
    )


def test_a_merchant_may_void_an_expired_authorisation() -> None:
    """Expiry stops captures, not the merchant's own void."""
    payment = authorized()
    request_void(payment, CAPTURE_BEFORE, action_id=FIRST_ID)
    assert FIRST_ID == payment.pending_action_id


def test_the_expiry_void_waits_for_the_expiry() -> None:
    """An expiry void before capture_before is refused; at capture_before it is pending."""
    payment = authorized()
    expiry = CancellationReason.AUTHORIZATION_EXPIRED
    error = refused(void(expiry, CAPTURE_BEFORE - timedelta(seconds=1)), payment)
    action = request_void(payment, CAPTURE_BEFORE, action_id=FIRST_ID, reason=expiry).action
    assert (PaymentUnexpectedState, expiry) == (type(error), action.cancellation_reason)


# -- refund --------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "expected"), [(None, AMOUNT), (AMOUNT, AMOUNT), (400, 400)])
def test_a_refund_request_reserves_its_amount(amount: int | None, expected: int) -> None:
    """A refund of all (the default) or part is pending and reserves its amount: the
    refundable amount falls, the refund count rises, amount_refunded waits for the end."""
    payment = paid()
    requested = request_refund(payment, amount, CUSTOMER, NOW, action_id=FIRST_ID)
    assert (ActionType.REFUND, expected, CUSTOMER) == (
        requested.action.type,
        requested.action.money.amount,
        requested.action.reason,
    )
    assert Reservation(FIRST_ID, ActionType.REFUND, expected) == requested.reservation
    assert (PaymentStatus.SUCCEEDED, expected, AMOUNT - expected, 1, 0, NOW) == (
        payment.status,
        payment.amount_refund_pending,
        payment.amount_refundable,
        payment.refund_count,
        payment.amount_refunded,
        payment.updated_at,
    )


def test_only_a_succeeded_payment_takes_a_refund() -> None:
    """A refund of an authorised (not yet captured) payment is payment_unexpected_state."""
    assert PaymentUnexpectedState is type(refused(refund(100), authorized()))


def test_pending_refunds_count_against_the_refundable_amount() -> None:
    """Two refunds of 600 on 1050: the second is amount_too_large while the first is pending."""
    payment = paid()
    refunded(payment, 600, None)
    assert (AmountTooLarge, 450) == (type(refused(refund(600), payment)), payment.amount_refundable)


def test_refunds_are_checked_against_the_captured_amount_not_the_authorised_one() -> None:
    """After a partial capture of 600, a refund of 601 is too large; 600 is taken."""
    payment = captured(600)
    error = refused(refund(601), payment)
    refunded(payment, 600, None)
    assert (AmountTooLarge, 0) == (type(error), payment.amount_refundable)


def test_an_empty_refund_with_nothing_refundable_is_too_large() -> None:
    """A refund body {} (no amount) when all is refunded or pending is amount_too_large."""
    payment = paid()
    refunded(payment, AMOUNT, True)
    assert AmountTooLarge is type(refused(refund(), payment))


def test_the_fifty_first_refund_is_refused_and_failed_ones_count() -> None:
    """Fifty refunds (failed ones included) are the most: the 51st is refund_limit_reached."""
    payment = paid()
    for number in range(MAX_REFUNDS):
        action = request_refund(payment, 1, None, NOW, action_id=UUID(int=number + 1)).action
        settle_action(payment, action, succeeded=number % 2 == 0, now=NOW)
    error = refused(refund(1), payment)
    assert (RefundLimitReached, MAX_REFUNDS, 25, AMOUNT - 25) == (
        type(error),
        payment.refund_count,
        payment.amount_refunded,
        payment.amount_refundable,
    )


# -- the order of refusals (SPEC §8 edge rules) --------------------------------------------


@pytest.mark.parametrize(
    ("request_", "payment", "expected"),
    [
        pytest.param(capture(0), lambda: paid(), ValidationError, id="400-before-state"),
        pytest.param(
            refund(1),
            lambda: with_fields(authorized(), refund_count=MAX_REFUNDS, pending_action_id=FIRST_ID),
            PaymentUnexpectedState,
            id="state-before-in-progress-and-limit",
        ),
        pytest.param(
            capture(AMOUNT + 1, CAPTURE_BEFORE),
            lambda: with_fields(authorized(), pending_action_id=FIRST_ID),
            ActionInProgress,
            id="in-progress-before-expired-and-amount",
        ),
        pytest.param(
            refund(1),
            lambda: with_fields(paid(), pending_action_id=FIRST_ID, refund_count=MAX_REFUNDS),
            ActionInProgress,
            id="in-progress-before-limit",
        ),
        pytest.param(
            capture(AMOUNT + 1, CAPTURE_BEFORE),
            lambda: authorized(),
            AuthorizationExpired,
            id="expired-before-amount",
        ),
        pytest.param(
            refund(AMOUNT + 1),
            lambda: with_fields(paid(), refund_count=MAX_REFUNDS),
            RefundLimitReached,
            id="limit-before-amount",
        ),
    ],
)
def test_the_first_applicable_refusal_is_the_one_raised(
    request_: Callable[[PaymentRequest], object],
    payment: Callable[[], PaymentRequest],
    expected: type[DomainError],
) -> None:
    """When several refusals apply, the earliest in SPEC §8's list is raised."""
    assert expected is type(refused(request_, payment()))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PaymentUnexpectedState, "payment_unexpected_state"),
        (ActionInProgress, "action_in_progress"),
        (AuthorizationExpired, "authorization_expired"),
        (RefundLimitReached, "refund_limit_reached"),
        (AmountTooLarge, "amount_too_large"),
    ],
)
def test_every_refusal_carries_its_spec_error_code(error: type[ActionRefused], code: str) -> None:
    """Each refusal is an ActionRefused whose code is the merchant API's error code."""
    assert (True, code) == (issubclass(error, ActionRefused), error("x").code)


# -- settling an action --------------------------------------------------------------------


def settled(
    request_: Callable[[PaymentRequest], object],
    payment: PaymentRequest,
    succeeded: bool,
    failure: ActionFailureReason = ActionFailureReason.DECLINED_BY_BANK,
) -> tuple[PaymentAction, list[str]]:
    """Request an action, settle it, and return it with the settlement's event types."""
    requested = request_(payment)
    assert isinstance(requested, ActionRequested)
    settlement = settle_action(payment, requested.action, succeeded, LATER, failure)
    assert settlement.changed
    return requested.action, [event.type for event in settlement.events]


@pytest.mark.parametrize("amount", [AMOUNT, 600])
def test_a_succeeded_capture_makes_the_payment_succeeded(amount: int) -> None:
    """The capture's end and its effect: payment succeeded with amount_captured (a partial
    capture releases the rest), the slot free, no capture_before, events action first."""
    payment = authorized()
    action, events = settled(capture(amount), payment, True)
    assert (ActionStatus.SUCCEEDED, ["capture.succeeded", "payment.succeeded"]) == (
        action.status,
        events,
    )
    assert (PaymentStatus.SUCCEEDED, amount, amount, None, None, LATER) == (
        payment.status,
        payment.amount_captured,
        payment.amount_refundable,
        payment.pending_action_id,
        payment.capture_before,
        payment.updated_at,
    )


def test_a_failed_capture_leaves_the_payment_authorised_and_capturable() -> None:
    """A declined capture frees the slot: the payment stays authorised, may be captured again."""
    payment = authorized()
    action, events = settled(capture(), payment, False)
    assert (ActionFailureReason.DECLINED_BY_BANK, ["capture.failed"]) == (
        action.failure_reason,
        events,
    )
    assert (PaymentStatus.AUTHORIZED, None, 0, CAPTURE_BEFORE) == (
        payment.status,
        payment.pending_action_id,
        payment.amount_captured,
        payment.capture_before,
    )
    assert FIRST_ID == request_capture(payment, None, LATER, action_id=FIRST_ID).action.id


@pytest.mark.parametrize("reason", list(CancellationReason))
def test_a_succeeded_void_cancels_the_payment_for_its_reason(reason: CancellationReason) -> None:
    """A void's end: the payment is canceled (the merchant's or the expiry's), nothing
    captured, no capture_before, events void.succeeded then payment.canceled."""
    payment = authorized()
    _, events = settled(void(reason, CAPTURE_BEFORE), payment, True)
    assert (["void.succeeded", "payment.canceled"], PaymentStatus.CANCELED, reason) == (
        events,
        payment.status,
        payment.cancellation_reason,
    )
    assert (0, None, None) == (
        payment.amount_captured,
        payment.capture_before,
        payment.pending_action_id,
    )


def test_a_failed_void_leaves_the_payment_authorised() -> None:
    """A declined void frees the slot and changes nothing else a merchant sees."""
    payment = authorized()
    _, events = settled(void(), payment, False)
    assert (["void.failed"], PaymentStatus.AUTHORIZED, None, None) == (
        events,
        payment.status,
        payment.pending_action_id,
        payment.cancellation_reason,
    )


def test_a_succeeded_refund_adds_to_amount_refunded() -> None:
    """A refund's end: amount_refunded grows, the pending total falls, status stays."""
    payment = paid()
    _, events = settled(refund(400), payment, True)
    assert (["refund.succeeded"], PaymentStatus.SUCCEEDED, 400, 0, AMOUNT - 400, LATER) == (
        events,
        payment.status,
        payment.amount_refunded,
        payment.amount_refund_pending,
        payment.amount_refundable,
        payment.updated_at,
    )


def test_a_failed_refund_gives_its_amount_back() -> None:
    """A rejected refund returns its amount to the refundable amount, and still counts."""
    payment = paid()
    action, events = settled(refund(400), payment, False, ActionFailureReason.REJECTED_BY_BANK)
    assert (["refund.failed"], ActionFailureReason.REJECTED_BY_BANK) == (
        events,
        action.failure_reason,
    )
    assert (0, 0, AMOUNT, 1) == (
        payment.amount_refunded,
        payment.amount_refund_pending,
        payment.amount_refundable,
        payment.refund_count,
    )


@pytest.mark.parametrize("succeeded", [True, False])
def test_settling_an_action_again_the_same_way_changes_nothing(succeeded: bool) -> None:
    """A repeated end (a callback after the reconciler's answer) is a no-op on both."""
    payment = authorized()
    action = request_capture(payment, None, NOW, action_id=FIRST_ID).action
    settle_action(payment, action, succeeded, NOW)
    before = (payment.copy(), action.copy())
    settlement = settle_action(payment, action, succeeded, LATER)
    assert ((False, ()), before) == ((settlement.changed, settlement.events), (payment, action))


def test_another_end_of_a_final_action_is_refused() -> None:
    """A failure after a succeeded capture raises InvalidTransition; nothing changes."""
    payment = authorized()
    action = request_capture(payment, None, NOW, action_id=FIRST_ID).action
    settle_action(payment, action, True, NOW)
    before = (payment.copy(), action.copy())
    with pytest.raises(InvalidTransition):
        settle_action(payment, action, False, LATER)
    assert before == (payment, action)


def test_an_action_without_its_reservation_is_refused() -> None:
    """A capture the payment does not hold as pending cannot settle: nothing changes."""
    payment = authorized()
    action = request_capture(payment.copy(), None, NOW, action_id=FIRST_ID).action
    before = (payment.copy(), action.copy())
    with pytest.raises(InvalidTransition, match="no reservation"):
        settle_action(payment, action, True, LATER)
    assert before == (payment, action)


def test_an_action_of_another_payment_is_refused() -> None:
    """Settling a payment with another payment's action raises ValueError."""
    payment = paid()
    action = request_refund(payment, 10, None, NOW, action_id=FIRST_ID).action
    other = replace(action, payment_id=SECOND_ID)
    with pytest.raises(ValueError, match="another payment"):
        settle_action(payment, other, True, LATER)
    assert ActionStatus.PENDING == other.status


# -- the authorisation's expiry ------------------------------------------------------------


def test_capture_before_is_the_first_authorised_update_plus_the_validity() -> None:
    """AUTHORIZED sets capture_before from its time; a repeat later does not move it."""
    payment = payment_in(ReversibleCipher(), PROCESSING, capture_method=MANUAL)
    validity = timedelta(seconds=30)
    payment.apply(AUTHORIZED, NOW, authorization_validity=validity)
    repeated = payment.apply(AUTHORIZED, LATER, authorization_validity=validity)
    assert (False, NOW + validity, NOW) == (repeated, payment.capture_before, payment.updated_at)


def test_an_authorisation_expires_at_capture_before() -> None:
    """authorization_expired is false a second before capture_before, true from it on."""
    payment = authorized()
    assert [False, True, True] == [
        payment.authorization_expired(at)
        for at in (
            CAPTURE_BEFORE - timedelta(seconds=1),
            CAPTURE_BEFORE,
            CAPTURE_BEFORE + timedelta(days=1),
        )
    ]


def test_the_reconciler_never_voids_while_a_capture_is_pending() -> None:
    """expiry_void_due: not before expiry, not while a capture is pending, else due."""
    payment = authorized()
    early = expiry_void_due(payment, CAPTURE_BEFORE - timedelta(seconds=1))
    request_capture(payment, None, CAPTURE_BEFORE - timedelta(seconds=1), action_id=FIRST_ID)
    while_pending = expiry_void_due(payment, CAPTURE_BEFORE)
    payment.pending_action_id = None
    assert (False, False, True) == (early, while_pending, expiry_void_due(payment, CAPTURE_BEFORE))


def test_a_captured_or_canceled_payment_never_expires() -> None:
    """Leaving authorized clears capture_before: no expiry void is ever due after it."""
    payment = captured()
    assert (None, False) == (payment.capture_before, expiry_void_due(payment, CAPTURE_BEFORE))
