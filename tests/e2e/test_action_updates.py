"""End to end over HTTP: a manual payment authorised by a signed AUTHORIZED update, the signed
action updates of POST /bank/action-updates (SPEC §8) and their answers, and the reconciler
voiding an authorisation past its (shortened) capture_before.

The merchant routes that create actions are built apart: here the test records an action in
the payments table as a route does (reservation and action in one write, through the
gateway's own repository), then either posts the bank's signed updates itself or queues the
action and lets the forwarder and the bank simulator walk it to its end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.application.ports import QueuedPayment
from shared_kernel.bootstrap import Gateway, build_gateway
from shared_kernel.domain.action import ActionFailureReason, ActionStatus, ActionType
from shared_kernel.domain.money_movements import request_capture, request_refund
from shared_kernel.domain.payment import CancellationReason, PaymentRequest, PaymentStatus
from shared_kernel.settings import Settings
from tests.conftest import TEST_TUNING
from tests.e2e.conftest import Merchant
from tests.e2e.test_callback import signed_post
from tests.e2e.test_payment_flow import payment_body, submit, wait_final

pytestmark = pytest.mark.e2e

ACTION_UPDATES = "/bank/action-updates"
VALIDITY_S = float(TEST_TUNING["AUTHORIZATION_VALIDITY_S"])
T = TypeVar("T")


@pytest.fixture(scope="module")
def gateway(stack: LocalStack) -> Gateway:
    """The gateway's use cases in this process, on the running stack's tables and queue."""
    return build_gateway(Settings.from_env(stack.settings_env()))


@pytest.fixture(scope="module")
def payments(gateway: Gateway) -> DynamoPaymentRepository:
    """The running stack's payments table, through the gateway's repository."""
    return gateway.payments


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """`read()` until `done` holds for its value (AssertionError naming it after `timeout`)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(0.2)
        value = read()
    return value


def authorised(
    gateway: Gateway, callback_api: httpx.Client, stack: LocalStack, merchant: Merchant
) -> PaymentRequest:
    """A manual payment submitted through the submit use case (the merchant API opens
    manual capture with the capture route), sent by the forwarder, then made authorised by
    a signed AUTHORIZED update (200); as stored."""
    payments = gateway.payments
    body = payment_body(capture_method="manual")
    payment_id = gateway.submit_payment(UUID(merchant.id), body, "corr-e2e-manual").id
    created = {"id": str(payment_id)}
    eventually(
        lambda: payments.get(payment_id).status, lambda s: s is not PaymentStatus.PENDING, 30
    )
    answer = signed_post(
        callback_api,
        stack.callback_secret,
        {
            "payment_request_id": created["id"],
            "merchant_id": merchant.id,
            "status": "AUTHORIZED",
            "bank_reference": "ref-e2e",
            "occurred_at": "2026-11-26T10:00:01Z",
        },
    )
    assert (200, {"received": True}) == (answer.status_code, answer.json())
    return payments.get(payment_id)


@pytest.fixture
def capture(
    gateway: Gateway,
    callback_api: httpx.Client,
    stack: LocalStack,
    merchant: Merchant,
    payments: DynamoPaymentRepository,
) -> dict[str, Any]:
    """An authorised payment with a pending capture of 600 recorded as the capture route
    records it; the body of the bank's SUCCEEDED update for it."""
    payment = authorised(gateway, callback_api, stack, merchant)
    action = request_capture(payment, 600, datetime.now(UTC), action_id=uuid.uuid4()).action
    payments.save(payment, [action])
    return {
        "payment_request_id": str(payment.id),
        "merchant_id": merchant.id,
        "action_id": str(action.id),
        "type": "capture",
        "status": "SUCCEEDED",
        "occurred_at": "2026-11-26T10:05:01Z",
    }


def test_an_authorized_update_holds_the_funds_until_capture_before(
    gateway: Gateway, callback_api: httpx.Client, stack: LocalStack, merchant: Merchant
) -> None:
    """AUTHORIZED for a manual payment: authorised, capture_before = the time the update was
    applied + AUTHORIZATION_VALIDITY_S."""
    before = datetime.now(UTC)
    payment = authorised(gateway, callback_api, stack, merchant)
    after = datetime.now(UTC)
    window = timedelta(seconds=VALIDITY_S)
    assert payment.capture_before is not None
    assert (PaymentStatus.AUTHORIZED, True) == (
        payment.status,
        before + window <= payment.capture_before <= after + window,
    )


def test_a_signed_capture_update_captures_the_payment_in_one_change(
    callback_api: httpx.Client,
    stack: LocalStack,
    payments: DynamoPaymentRepository,
    capture: dict[str, Any],
) -> None:
    """SUCCEEDED: 200, the capture succeeded and the payment succeeded with 600 captured; a
    repeat is 200 and changes nothing."""
    first = signed_post(callback_api, stack.callback_secret, capture, path=ACTION_UPDATES)
    payment_id, action_id = UUID(capture["payment_request_id"]), UUID(capture["action_id"])
    after_first = payments.get(payment_id)
    repeat = signed_post(callback_api, stack.callback_secret, capture, path=ACTION_UPDATES)
    assert [(200, {"received": True}), (200, {"received": True})] == [
        (first.status_code, first.json()),
        (repeat.status_code, repeat.json()),
    ]
    assert (ActionStatus.SUCCEEDED, PaymentStatus.SUCCEEDED, 600) == (
        payments.get_action(payment_id, action_id).status,
        after_first.status,
        after_first.amount_captured,
    )
    assert after_first == payments.get(payment_id)


def test_the_other_end_of_a_final_action_is_409(
    callback_api: httpx.Client,
    stack: LocalStack,
    payments: DynamoPaymentRepository,
    capture: dict[str, Any],
) -> None:
    """DECLINED after SUCCEEDED: 409 invalid_transition, the payment still captured."""
    signed_post(callback_api, stack.callback_secret, capture, path=ACTION_UPDATES)
    declined = {**capture, "status": "DECLINED"}
    answer = signed_post(callback_api, stack.callback_secret, declined, path=ACTION_UPDATES)
    assert (409, "invalid_transition", PaymentStatus.SUCCEEDED) == (
        answer.status_code,
        answer.json()["error"]["code"],
        payments.get(UUID(capture["payment_request_id"])).status,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"type": "refund"},
        {"action_id": "00000000-0000-4000-8000-000000000000"},
        {"merchant_id": "00000000-0000-4000-8000-000000000001"},
        {"payment_request_id": "00000000-0000-4000-8000-000000000002"},
    ],
    ids=["other-type", "unknown-action", "other-merchant", "unknown-payment"],
)
def test_an_update_that_does_not_match_the_action_is_404_and_changes_nothing(
    callback_api: httpx.Client,
    stack: LocalStack,
    payments: DynamoPaymentRepository,
    capture: dict[str, Any],
    change: dict[str, str],
) -> None:
    """Wrong type, action, merchant or payment: 404 not_found, the capture still pending."""
    answer = signed_post(
        callback_api, stack.callback_secret, {**capture, **change}, path=ACTION_UPDATES
    )
    action = payments.get_action(UUID(capture["payment_request_id"]), UUID(capture["action_id"]))
    assert (404, "not_found", ActionStatus.PENDING) == (
        answer.status_code,
        answer.json()["error"]["code"],
        action.status,
    )


def test_forged_or_invalid_action_updates_are_refused(
    callback_api: httpx.Client,
    stack: LocalStack,
    payments: DynamoPaymentRepository,
    capture: dict[str, Any],
) -> None:
    """Wrong secret, stale or missing signature: 401; a payment status in it: 400; nothing
    changes."""
    wrong = signed_post(callback_api, "not-the-secret", capture, path=ACTION_UPDATES)
    stale = signed_post(
        callback_api, stack.callback_secret, capture, at=time.time() - 301, path=ACTION_UPDATES
    )
    unsigned = callback_api.post(ACTION_UPDATES, json=capture)
    invalid = signed_post(
        callback_api, stack.callback_secret, {**capture, "status": "PAID"}, path=ACTION_UPDATES
    )
    action = payments.get_action(UUID(capture["payment_request_id"]), UUID(capture["action_id"]))
    assert [401, 401, 401, 400] == [r.status_code for r in (wrong, stale, unsigned, invalid)]
    assert ("validation_error", ActionStatus.PENDING) == (
        invalid.json()["error"]["code"],
        action.status,
    )


def test_the_reconciler_voids_an_authorisation_past_capture_before(
    gateway: Gateway,
    callback_api: httpx.Client,
    stack: LocalStack,
    merchant: Merchant,
    payments: DynamoPaymentRepository,
) -> None:
    """With AUTHORIZATION_VALIDITY_S shortened, the reconciler records a void of the whole
    amount (authorization_expired) once capture_before has passed, not before."""
    payment = authorised(gateway, callback_api, stack, merchant)
    assert payment.capture_before is not None
    voids = eventually(
        lambda: [a for a in payments.actions(payment.id) if a.type is ActionType.VOID],
        bool,
        VALIDITY_S + 30,
    )
    # The first void is the expiry's (a bank refusing it would see more, one per pass).
    first = voids[0]
    assert (CancellationReason.AUTHORIZATION_EXPIRED, 1050, True) == (
        first.cancellation_reason,
        first.money.amount,
        first.created_at >= payment.capture_before,
    )


@pytest.mark.parametrize(
    ("card_number", "status", "refunded", "failure"),
    [
        ("4242424242424242", ActionStatus.SUCCEEDED, 300, None),
        ("4000000000005126", ActionStatus.FAILED, 0, ActionFailureReason.DECLINED_BY_BANK),
    ],
    ids=["succeeds", "declined-card"],
)
def test_a_queued_refund_is_forwarded_once_and_settled_by_the_banks_callback(
    api: httpx.Client,
    bank: httpx.Client,
    gateway: Gateway,
    merchant: Merchant,
    card_number: str,
    status: ActionStatus,
    refunded: int,
    failure: ActionFailureReason | None,
) -> None:
    """A paid payment, a refund of 300 recorded and queued as the refund route does: the
    forwarder sends it (sent_at), the simulator applies it once and calls back; the refund
    ends `status` and the payment shows its effect (refundable restored on a decline)."""
    created = submit(api, merchant, payment_body(card_number)).json()
    final, _ = wait_final(api, merchant, created["id"])
    assert "succeeded" == final["status"]
    payment = gateway.payments.get(UUID(created["id"]))
    refund = request_refund(payment, 300, None, datetime.now(UTC), action_id=uuid.uuid4()).action
    gateway.payments.save(payment, [refund])
    gateway.queue.publish(QueuedPayment(payment.id, payment.merchant_id, "corr-e2e", refund.id))

    ended = eventually(
        lambda: gateway.payments.get_action(payment.id, refund.id),
        lambda a: a.status.is_final,
        30,
    )
    after = gateway.payments.get(payment.id)
    at_bank = bank.get(f"/_sim/actions/{refund.id}").json()
    assert (status, failure, True) == (
        ended.status,
        ended.failure_reason,
        ended.sent_at is not None,
    )
    assert (refunded, 1050 - refunded, None) == (
        after.amount_refunded,
        after.amount_refundable,
        after.next_check_at,
    )
    assert 1 == at_bank["applied"]
