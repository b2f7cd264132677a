"""The events of a stored change (SPEC §10), derived from the payment and its actions before
and after it, for every transition: they must be the events the aggregates recorded when
they made the change, in the same order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.domain.action import ActionFailureReason, PaymentAction
from shared_kernel.domain.change_events import (
    EVENT_TYPES,
    PaymentSnapshot,
    events_of_change,
)
from shared_kernel.domain.events import DomainEvent
from shared_kernel.domain.money_movements import (
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import (
    CancellationReason,
    CaptureMethod,
    FailureReason,
    Outcome,
    PaymentRequest,
)

from .builders import (
    AUTHORIZED,
    CREATED_AT,
    FAILED,
    FRAUD,
    PAID,
    PROCESSING,
    payment_in,
    pending_payment,
)
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

NOW = CREATED_AT + timedelta(minutes=5)
ACTION_ID = UUID("00000000-0000-4000-8000-00000000000a")
REFUND_ID = UUID("00000000-0000-4000-8000-00000000000b")
MANUAL = CaptureMethod.MANUAL

Change = Callable[[PaymentRequest, dict[UUID, PaymentAction]], Sequence[DomainEvent]]


def snapshot(payment: PaymentRequest, actions: dict[UUID, PaymentAction]) -> PaymentSnapshot:
    """An independent copy of the payment and its actions, as one stored item holds them."""
    return PaymentSnapshot(payment.copy(), {i: a.copy() for i, a in actions.items()})


def derived_and_recorded(
    payment: PaymentRequest, actions: dict[UUID, PaymentAction], change: Change
) -> tuple[list[str], list[str]]:
    """The event types derived from the images around `change`, and those the aggregates
    recorded making it."""
    payment.pull_events()
    for action in actions.values():
        action.pull_events()
    before = snapshot(payment, actions)
    recorded = change(payment, actions)
    derived = events_of_change(before, snapshot(payment, actions))
    return [e.type for e in derived], [e.type for e in recorded]


def bank_update(outcome: Outcome) -> Change:
    """The bank's update to `outcome`."""

    def change(payment: PaymentRequest, _: dict[UUID, PaymentAction]) -> list[DomainEvent]:
        payment.apply(outcome, NOW)
        return payment.pull_events()

    return change


def settled(action_id: UUID, succeeded: bool) -> Change:
    """The end of the action `action_id`, and its effect on the payment."""

    def change(payment: PaymentRequest, actions: dict[UUID, PaymentAction]) -> list[DomainEvent]:
        return list(settle_action(payment, actions[action_id], succeeded, NOW).events)

    return change


def authorized() -> PaymentRequest:
    """A manual payment the bank authorised."""
    return payment_in(ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method=MANUAL)


def with_capture() -> tuple[PaymentRequest, dict[UUID, PaymentAction]]:
    """An authorised payment with a pending capture of the whole amount."""
    payment = authorized()
    return payment, {ACTION_ID: request_capture(payment, None, NOW, action_id=ACTION_ID).action}


def with_void(reason: CancellationReason) -> tuple[PaymentRequest, dict[UUID, PaymentAction]]:
    """An authorised payment with a pending void."""
    payment = authorized()
    if reason is CancellationReason.AUTHORIZATION_EXPIRED:
        later = NOW + timedelta(days=8)
        action = request_void(payment, later, action_id=ACTION_ID, reason=reason).action
    else:
        action = request_void(payment, NOW, action_id=ACTION_ID).action
    return payment, {ACTION_ID: action}


def with_refund() -> tuple[PaymentRequest, dict[UUID, PaymentAction]]:
    """A paid payment with a pending refund of 500."""
    payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    action = request_refund(payment, 500, None, NOW, action_id=REFUND_ID).action
    return payment, {REFUND_ID: action}


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        (
            lambda: pending_payment(ReversibleCipher()),
            bank_update(PROCESSING),
            ["payment.processing"],
        ),
        (lambda: pending_payment(ReversibleCipher()), bank_update(PAID), ["payment.succeeded"]),
        (
            lambda: payment_in(ReversibleCipher(), PROCESSING),
            bank_update(PAID),
            ["payment.succeeded"],
        ),
        (
            lambda: payment_in(ReversibleCipher(), PROCESSING),
            bank_update(FRAUD),
            ["payment.declined"],
        ),
        (
            lambda: payment_in(ReversibleCipher(), PROCESSING),
            bank_update(FAILED),
            ["payment.failed"],
        ),
        (
            lambda: payment_in(ReversibleCipher(), PROCESSING, capture_method=MANUAL),
            bank_update(AUTHORIZED),
            ["payment.authorized"],
        ),
        # A repeated update changes nothing a merchant sees.
        (lambda: payment_in(ReversibleCipher(), PROCESSING), bank_update(PROCESSING), []),
    ],
    ids=[
        "pending-processing",
        "pending-succeeded",
        "succeeded",
        "declined",
        "failed",
        "authorized",
        "repeat",
    ],
)
def test_a_payments_status_change_records_the_payment_event(
    start: Callable[[], PaymentRequest], change: Change, expected: list[str]
) -> None:
    """Entering processing, authorized, succeeded, declined or failed records
    `payment.<status>` (the aggregate's own event); a repeat records nothing."""
    derived, recorded = derived_and_recorded(start(), {}, change)

    assert (expected, expected) == (derived, recorded)


def test_a_failure_the_gateway_decides_records_payment_failed() -> None:
    """The forwarder's or reconciler's give-up (`fail`) records `payment.failed`."""

    def give_up(payment: PaymentRequest, _: dict[UUID, PaymentAction]) -> list[DomainEvent]:
        payment.fail(FailureReason.UNKNOWN_AT_BANK, NOW)
        return payment.pull_events()

    derived, recorded = derived_and_recorded(pending_payment(ReversibleCipher()), {}, give_up)

    assert (["payment.failed"], ["payment.failed"]) == (derived, recorded)


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        (with_capture, settled(ACTION_ID, True), ["capture.succeeded", "payment.succeeded"]),
        (with_capture, settled(ACTION_ID, False), ["capture.failed"]),
        (
            lambda: with_void(CancellationReason.REQUESTED_BY_MERCHANT),
            settled(ACTION_ID, True),
            ["void.succeeded", "payment.canceled"],
        ),
        (
            lambda: with_void(CancellationReason.AUTHORIZATION_EXPIRED),
            settled(ACTION_ID, True),
            ["void.succeeded", "payment.canceled"],
        ),
        (
            lambda: with_void(CancellationReason.REQUESTED_BY_MERCHANT),
            settled(ACTION_ID, False),
            ["void.failed"],
        ),
        (with_refund, settled(REFUND_ID, True), ["refund.succeeded"]),
        (with_refund, settled(REFUND_ID, False), ["refund.failed"]),
    ],
    ids=[
        "capture-ok",
        "capture-failed",
        "void-ok",
        "expiry-void",
        "void-failed",
        "refund-ok",
        "refund-failed",
    ],
)
def test_an_action_that_ends_records_its_event_before_the_payments(
    start: Callable[[], tuple[PaymentRequest, dict[UUID, PaymentAction]]],
    change: Change,
    expected: list[str],
) -> None:
    """An action's end records `<type>.<result>`, then the payment's event if the payment
    changed status (a refund changes none): as the aggregates record them."""
    payment, actions = start()

    derived, recorded = derived_and_recorded(payment, actions, change)

    assert (expected, expected) == (derived, recorded)


def test_an_action_event_carries_the_action_and_the_time_of_its_end() -> None:
    """`capture.succeeded` names the capture and its end; `payment.succeeded` the payment."""
    payment, actions = with_capture()
    before = snapshot(payment, actions)
    settle_action(payment, actions[ACTION_ID], True, NOW)

    action_event, payment_event = events_of_change(before, snapshot(payment, actions))

    assert (ACTION_ID, payment.id, NOW) == (
        getattr(action_event, "action_id", None),
        action_event.payment_id,
        action_event.occurred_at,
    )
    assert (payment.id, NOW) == (payment_event.payment_id, payment_event.occurred_at)


@pytest.mark.parametrize("kind", ["capture", "void", "refund"])
def test_requesting_an_action_records_nothing(kind: str) -> None:
    """A new pending action (and its reservation on the payment) is no event."""
    payment = authorized() if kind != "refund" else payment_in(ReversibleCipher(), PROCESSING, PAID)
    actions: dict[UUID, PaymentAction] = {}
    before = snapshot(payment, actions)
    match kind:
        case "capture":
            action = request_capture(payment, None, NOW, action_id=ACTION_ID).action
        case "void":
            action = request_void(payment, NOW, action_id=ACTION_ID).action
        case _:
            action = request_refund(payment, 100, None, NOW, action_id=ACTION_ID).action
    actions[action.id] = action

    assert [] == events_of_change(before, snapshot(payment, actions))


def test_a_change_that_leaves_an_ended_action_ended_records_no_action_event() -> None:
    """A later change of the payment (a second refund requested) does not repeat the events
    of actions that had ended before it."""
    payment, actions = with_refund()
    settle_action(payment, actions[REFUND_ID], True, NOW)
    before = snapshot(payment, actions)
    second = request_refund(payment, 100, None, NOW, action_id=ACTION_ID).action
    actions[second.id] = second

    assert [] == events_of_change(before, snapshot(payment, actions))


def test_reconciler_bookkeeping_records_nothing() -> None:
    """The reconciler's schedule (attempts, next check) is no change a merchant sees."""
    payment = payment_in(ReversibleCipher(), PROCESSING)
    before = snapshot(payment, {})
    payment.note_reconcile_attempt(payment.status, NOW + timedelta(minutes=1))

    assert [] == events_of_change(before, snapshot(payment, {}))


def test_a_new_item_records_the_events_of_its_status() -> None:
    """An inserted item (no old image) records nothing while pending, and its status's event
    otherwise (with its ended actions')."""
    pending = pending_payment(ReversibleCipher())
    paid = payment_in(ReversibleCipher(), PROCESSING, PAID)

    assert [] == events_of_change(None, snapshot(pending, {}))
    assert ["payment.succeeded"] == [e.type for e in events_of_change(None, snapshot(paid, {}))]


def test_two_actions_ending_in_one_change_record_oldest_first() -> None:
    """Actions that end in one change are recorded oldest first (created_at, then id)."""
    payment, actions = with_refund()
    older = actions[REFUND_ID]
    newer = request_refund(payment, 100, None, NOW + timedelta(seconds=1), action_id=ACTION_ID)
    actions[ACTION_ID] = newer.action
    before = snapshot(payment, actions)
    settle_action(payment, newer.action, False, NOW, ActionFailureReason.DECLINED_BY_BANK)
    settle_action(payment, older, True, NOW)

    events = events_of_change(before, snapshot(payment, actions))

    assert [(REFUND_ID, "refund.succeeded"), (ACTION_ID, "refund.failed")] == [
        (getattr(e, "action_id", None), e.type) for e in events
    ]


def test_the_event_types_are_the_twelve_of_the_spec() -> None:
    """payment.<six statuses> and <capture|void|refund>.<succeeded|failed>."""
    expected = {
        *(f"payment.{s}" for s in ("processing", "authorized", "succeeded", "declined")),
        "payment.failed",
        "payment.canceled",
        *(f"{t}.{r}" for t in ("capture", "void", "refund") for r in ("succeeded", "failed")),
    }
    assert expected == EVENT_TYPES
