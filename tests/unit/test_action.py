"""The PaymentAction aggregate: pending until it ends, a final status is final, its events."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
    RefundReason,
)
from shared_kernel.domain.errors import InvalidTransition
from shared_kernel.domain.events import ActionEnded
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import CancellationReason

from .builders import CREATED_AT, MERCHANT_ID, PAYMENT_ID

pytestmark = pytest.mark.unit

ACTION_ID = UUID("7a4b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d")
LATER = CREATED_AT + timedelta(seconds=5)
DECLINED = ActionFailureReason.DECLINED_BY_BANK
ENDS = [
    (ActionStatus.SUCCEEDED, None),
    (ActionStatus.FAILED, ActionFailureReason.DECLINED_BY_BANK),
    (ActionStatus.FAILED, ActionFailureReason.REJECTED_BY_BANK),
    (ActionStatus.FAILED, ActionFailureReason.UNKNOWN_AT_BANK),
]


def a_refund(**overrides: object) -> PaymentAction:
    """A pending refund of 500 GBP minor units, for a customer's request."""
    fields: dict[str, object] = {
        "id": ACTION_ID,
        "payment_id": PAYMENT_ID,
        "merchant_id": MERCHANT_ID,
        "type": ActionType.REFUND,
        "money": Money(500, "GBP"),
        "created_at": CREATED_AT,
        "updated_at": CREATED_AT,
        "reason": RefundReason.REQUESTED_BY_CUSTOMER,
        **overrides,
    }
    return PaymentAction(**fields)  # type: ignore[arg-type]


def end_id(end: object) -> str:
    """A short test id for an (ActionStatus, failure reason) pair."""
    if isinstance(end, tuple):
        return "-".join(str(part) for part in end if part)
    return str(end)


def test_a_new_action_is_pending_without_failure_reason() -> None:
    """An action starts pending, version 0, with no failure reason and no events."""
    action = a_refund()
    assert (ActionStatus.PENDING, None, 0, []) == (
        action.status,
        action.failure_reason,
        action.version,
        action.events,
    )


@pytest.mark.parametrize("end", ENDS, ids=end_id)
def test_a_pending_action_ends_succeeded_or_failed(
    end: tuple[ActionStatus, ActionFailureReason | None],
) -> None:
    """end() moves a pending action to its final status, reason and time."""
    action = a_refund()
    status, reason = end
    assert (True, status, reason, LATER) == (
        action.end(status, LATER, reason),
        action.status,
        action.failure_reason,
        action.updated_at,
    )


@pytest.mark.parametrize("end", ENDS, ids=end_id)
def test_repeating_the_end_changes_nothing(
    end: tuple[ActionStatus, ActionFailureReason | None],
) -> None:
    """The same end a second time returns False and records no second event."""
    action = a_refund()
    status, reason = end
    action.end(status, LATER, reason)
    before = action.copy()
    assert (False, before, 1) == (
        action.end(status, LATER + timedelta(seconds=1), reason),
        action,
        len(action.events),
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [(a, b) for a in ENDS for b in ENDS if a != b],
    ids=end_id,
)
def test_a_final_status_is_final(
    first: tuple[ActionStatus, ActionFailureReason | None],
    second: tuple[ActionStatus, ActionFailureReason | None],
) -> None:
    """Another end of a final action raises InvalidTransition and changes nothing."""
    action = a_refund()
    action.end(first[0], LATER, first[1])
    before = action.copy()
    with pytest.raises(InvalidTransition):
        action.end(second[0], LATER + timedelta(seconds=1), second[1])
    assert before == action


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        (ActionStatus.PENDING, None, "cannot be moved to pending"),
        (ActionStatus.FAILED, None, "failure reason"),
        (ActionStatus.SUCCEEDED, DECLINED, "failure reason"),
    ],
)
def test_an_end_must_be_final_with_a_matching_failure_reason(
    status: ActionStatus, reason: ActionFailureReason | None, message: str
) -> None:
    """end() refuses pending, a failure without reason, and a success with one."""
    action = a_refund()
    with pytest.raises(ValueError, match=message):
        action.end(status, LATER, reason)
    assert ActionStatus.PENDING == action.status


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": ActionType.CAPTURE}, "only a refund has a reason"),
        ({"type": ActionType.VOID, "reason": None}, "cancellation reason"),
        (
            {"cancellation_reason": CancellationReason.REQUESTED_BY_MERCHANT},
            "cancellation reason",
        ),
        ({"status": ActionStatus.FAILED}, "failure reason"),
        ({"failure_reason": DECLINED}, "failure reason"),
    ],
)
def test_an_action_refuses_fields_that_do_not_go_with_it(
    overrides: dict[str, object], message: str
) -> None:
    """A reason on a non-refund, a void without (or a non-void with) a cancellation reason,
    and a failure reason that does not match the status are refused."""
    with pytest.raises(ValueError, match=message):
        a_refund(**overrides)


def test_ending_records_one_event_named_by_type_and_status() -> None:
    """A refund that fails records `refund.failed`, naming the action and its payment."""
    action = a_refund()
    action.end(ActionStatus.FAILED, LATER, DECLINED)
    expected = [ActionEnded(ACTION_ID, PAYMENT_ID, MERCHANT_ID, "refund", "failed", LATER)]
    assert (expected, ["refund.failed"]) == (action.events, [e.type for e in action.events])


def test_pull_events_hands_them_over_once() -> None:
    """pull_events returns the recorded events and leaves none behind."""
    action = a_refund(type=ActionType.CAPTURE, reason=None)
    action.end(ActionStatus.SUCCEEDED, LATER)
    assert (["capture.succeeded"], []) == (
        [e.type for e in action.pull_events()],
        action.pull_events(),
    )


def test_copy_is_independent() -> None:
    """Ending a copy leaves the original pending and without events."""
    action = a_refund()
    twin = action.copy()
    twin.end(ActionStatus.SUCCEEDED, LATER)
    assert (ActionStatus.PENDING, [], 1) == (action.status, action.events, len(twin.events))
