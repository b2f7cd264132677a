"""End to end over HTTP: captures, voids and refunds (SPEC §8) through the running stack —
the errors that need no bank answer, idempotent replays, and concurrent refunds that never
reserve more than was captured.

States the bank cannot produce yet without an answer (an authorised manual payment, a pending
payment that stays pending, 50 failed refunds) are written through the payments repository,
with no sealed card and the reconciler's next look an hour away, so no part of the stack
touches them but the requests of the test."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel import contracts
from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.bootstrap import build_gateway
from shared_kernel.domain.action import ActionFailureReason, ActionStatus
from shared_kernel.domain.card import CardSummary, Expiry
from shared_kernel.domain.money import Money
from shared_kernel.domain.money_movements import (
    MAX_REFUNDS,
    request_capture,
    request_refund,
    settle_action,
)
from shared_kernel.domain.payment import (
    CaptureMethod,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)
from shared_kernel.settings import Settings
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, submit, wait_final

pytestmark = pytest.mark.e2e

PARALLEL_REFUNDS = 20


@pytest.fixture(scope="module")
def payments(stack: LocalStack) -> DynamoPaymentRepository:
    """The stack's payments table, through the product's repository."""
    return build_gateway(Settings.from_env(stack.settings_env())).payments


def stored(
    payments: DynamoPaymentRepository,
    merchant: Merchant,
    status: PaymentStatus,
    *,
    amount: int = 1050,
    manual: bool = False,
) -> PaymentRequest:
    """A payment of `merchant` written straight to the table in `status` (pending,
    authorised or succeeded), without card data, not due to the reconciler for an hour."""
    now = datetime.now(UTC)
    payment = PaymentRequest(
        id=uuid.uuid4(),
        merchant_id=uuid.UUID(merchant.id),
        money=Money(amount, "GBP"),
        card=CardSummary("4242", "visa", Expiry(12, 2030)),
        reference=None,
        created_at=now,
        updated_at=now,
        capture_method=CaptureMethod.MANUAL if manual else CaptureMethod.AUTOMATIC,
        next_check_at=now + timedelta(hours=1),
        bank_reference=None if status is PaymentStatus.PENDING else f"bank-{uuid.uuid4()}",
    )
    if status is not PaymentStatus.PENDING:
        payment.apply(Outcome(PaymentStatus.PROCESSING), now)
        payment.apply(Outcome(status), now)
    payments.add(payment)
    return payments.get(payment.id)


def post(
    api: httpx.Client,
    merchant: Merchant,
    payment_id: object,
    route: str,
    body: object,
    key: str | None = None,
    as_merchant: Merchant | None = None,
) -> httpx.Response:
    """POST `body` to a payment's capture, void or refunds route (as `as_merchant`, in its
    own path, when given)."""
    caller = as_merchant or merchant
    headers = {**caller.auth, **({"Idempotency-Key": key} if key is not None else {})}
    path = f"/merchant/{caller.id}/payment/{payment_id}/{route}"
    return api.post(path, json=body, headers=headers)


def error_of(response: httpx.Response) -> tuple[int, str, list[str]]:
    """Status, code and failing fields of an error answer (contract-checked)."""
    body = response.json()
    contracts.assert_valid("error", body)
    return (
        response.status_code,
        body["error"]["code"],
        [d["field"] for d in body["error"]["details"]],
    )


def test_a_refund_of_a_succeeded_payment_is_202_and_a_pending_action(
    api: httpx.Client, merchant: Merchant
) -> None:
    """A payment taken through the stack to succeeded, refunded in part: 202, a pending
    refund at its Location, the payment showing the amount no longer refundable."""
    created = submit(api, merchant, payment_body())
    payment_id = created.json()["id"]
    final, _ = wait_final(api, merchant, payment_id)
    assert ("succeeded", 1050, 1050) == (
        final["status"],
        final["amount_captured"],
        final["amount_refundable"],
    )

    response = post(api, merchant, payment_id, "refunds", {"amount": 400, "reason": "duplicate"})

    assert 202 == response.status_code, response.text
    action = response.json()
    contracts.assert_valid("action-resource", action)
    assert ("refund", "pending", 400, "duplicate") == (
        action["type"],
        action["status"],
        action["amount"],
        action["reason"],
    )
    read = api.get(response.headers["Location"], headers=merchant.auth)
    listed = api.get(f"/merchant/{merchant.id}/payment/{payment_id}/actions", headers=merchant.auth)
    resource = api.get(f"/merchant/{merchant.id}/payment/{payment_id}", headers=merchant.auth)
    assert (200, action["id"]) == (read.status_code, read.json()["id"])
    assert [action["id"]] == [a["id"] for a in listed.json()["data"]]
    assert 650 == resource.json()["amount_refundable"]


def wait_status(
    api: httpx.Client, merchant: Merchant, payment_id: str, wanted: str, timeout: float = 45
) -> dict[str, Any]:
    """Poll the payment (contract-checked) until it is `wanted` or final, or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/merchant/{merchant.id}/payment/{payment_id}", headers=merchant.auth)
        resource: dict[str, Any] = response.json()
        contracts.assert_valid("payment-resource", resource)
        if resource["status"] in {wanted, "succeeded", "declined", "failed", "canceled"}:
            return resource
        if time.monotonic() > deadline:
            return resource
        time.sleep(0.25)


def test_a_manual_payment_is_only_authorised_and_takes_a_capture(
    api: httpx.Client, bank: httpx.Client, merchant: Merchant
) -> None:
    """Submitted with capture_method manual, the payment is sent with capture false and
    becomes authorized (capture_before set, nothing captured); a partial capture is then
    202, a pending capture of 800."""
    created = submit(api, merchant, payment_body(capture_method="manual"))
    assert 201 == created.status_code, created.text
    payment_id = created.json()["id"]
    assert "manual" == created.json()["capture_method"]

    resource = wait_status(api, merchant, payment_id, "authorized")

    at_bank = bank.get(f"/_sim/payments/{payment_id}").json()
    assert ("authorized", 0, 0, False, 0) == (
        resource["status"],
        resource["amount_captured"],
        resource["amount_refundable"],
        at_bank["capture"],
        at_bank["amount_captured"],
    )
    assert resource["capture_before"] is not None
    capture = post(api, merchant, payment_id, "capture", {"amount": 800})
    assert (202, "capture", "pending", 800) == (
        capture.status_code,
        capture.json()["type"],
        capture.json()["status"],
        capture.json()["amount"],
    )


def test_a_capture_of_a_pending_payment_is_payment_unexpected_state(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """A pending payment refuses a capture, a void and a refund alike: 409
    payment_unexpected_state, and no action stored."""
    payment = stored(payments, merchant, PaymentStatus.PENDING, manual=True)

    answers = [
        error_of(post(api, merchant, payment.id, route, {}))[:2]
        for route in ("capture", "void", "refunds")
    ]

    assert [(409, "payment_unexpected_state")] * 3 == answers
    assert [] == list(payments.actions(payment.id))


def test_a_void_while_a_capture_is_pending_is_action_in_progress(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """With a capture pending on an authorised payment, a void and a second capture are 409
    action_in_progress."""
    payment = stored(payments, merchant, PaymentStatus.AUTHORIZED, manual=True)
    capture = request_capture(payment, None, datetime.now(UTC), action_id=uuid.uuid4())
    payments.save(payment, [capture.action])

    answers = [error_of(post(api, merchant, payment.id, r, {}))[:2] for r in ("void", "capture")]

    assert [(409, "action_in_progress")] * 2 == answers
    assert [capture.action.id] == [a.id for a in payments.actions(payment.id)]


@pytest.mark.parametrize(
    ("route", "body", "fields"),
    [
        ("refunds", {"amount": 0, "reason": "whim", "note": 1}, ["amount", "note", "reason"]),
        ("capture", {"amount": "800", "reason": "duplicate"}, ["amount", "reason"]),
        ("void", {"amount": 5}, ["amount"]),
    ],
)
def test_a_bad_body_is_one_400_naming_every_bad_field(
    api: httpx.Client,
    merchant: Merchant,
    payments: DynamoPaymentRepository,
    route: str,
    body: dict[str, Any],
    fields: list[str],
) -> None:
    """Every bad field of the body and a bad Idempotency-Key in one 400; nothing stored."""
    payment = stored(payments, merchant, PaymentStatus.AUTHORIZED, manual=True)

    answer = error_of(post(api, merchant, payment.id, route, body, key=""))

    assert (400, "validation_error", ["Idempotency-Key", *fields]) == (
        answer[0],
        answer[1],
        sorted(answer[2]),
    )
    assert [] == list(payments.actions(payment.id))


def test_a_path_id_that_is_no_uuid_is_400_naming_it(api: httpx.Client, merchant: Merchant) -> None:
    """A payment id or an action id that is not a UUID is 400 naming the parameter."""
    refund = error_of(post(api, merchant, "not-a-uuid", "refunds", {}))
    read = error_of(
        api.get(
            f"/merchant/{merchant.id}/payment/{uuid.uuid4()}/actions/nope", headers=merchant.auth
        )
    )

    assert [
        (400, "validation_error", ["payment_id"]),
        (400, "validation_error", ["action_id"]),
    ] == [
        refund,
        read,
    ]


def test_another_merchants_payment_is_404_on_every_action_route(
    api: httpx.Client,
    merchant: Merchant,
    other_merchant: Merchant,
    payments: DynamoPaymentRepository,
) -> None:
    """The other merchant, in its own path, meets 404 on the three POSTs and both reads of
    this merchant's payment; nothing is stored."""
    payment = stored(payments, merchant, PaymentStatus.SUCCEEDED)
    refund = request_refund(payment, 100, None, datetime.now(UTC), action_id=uuid.uuid4())
    payments.save(payment, [refund.action])
    base = f"/merchant/{other_merchant.id}/payment/{payment.id}"

    answers = [
        error_of(post(api, merchant, payment.id, r, {}, as_merchant=other_merchant))[:2]
        for r in ("capture", "void", "refunds")
    ]
    for path in (f"{base}/actions", f"{base}/actions/{refund.action.id}"):
        answers.append(error_of(api.get(path, headers=other_merchant.auth))[:2])

    assert [(404, "not_found")] * 5 == answers
    assert [refund.action.id] == [a.id for a in payments.actions(payment.id)]


def test_an_unknown_action_is_404(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """An action id the merchant's payment does not have is 404 not_found."""
    payment = stored(payments, merchant, PaymentStatus.SUCCEEDED)
    path = f"/merchant/{merchant.id}/payment/{payment.id}/actions/{uuid.uuid4()}"

    assert (404, "not_found") == error_of(api.get(path, headers=merchant.auth))[:2]


def test_the_51st_refund_is_refund_limit_reached_failed_ones_counting(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """A payment with 50 refunds, all failed (nothing refunded, all still refundable): a
    51st is 409 refund_limit_reached, and nothing more is stored."""
    payment = stored(payments, merchant, PaymentStatus.SUCCEEDED)
    now = datetime.now(UTC)
    refunds = []
    for _ in range(MAX_REFUNDS):
        refund = request_refund(payment, 1, None, now, action_id=uuid.uuid4()).action
        settle_action(payment, refund, False, now, ActionFailureReason.DECLINED_BY_BANK)
        refunds.append(refund)
    payments.save(payment, refunds)
    assert (1050, MAX_REFUNDS) == (payment.amount_refundable, len(payments.actions(payment.id)))

    answer = error_of(post(api, merchant, payment.id, "refunds", {"amount": 1}))

    assert ((409, "refund_limit_reached"), MAX_REFUNDS) == (
        answer[:2],
        len(payments.actions(payment.id)),
    )


@pytest.mark.parametrize(
    ("route", "body", "status", "manual"),
    [
        ("refunds", {"amount": 1051}, PaymentStatus.SUCCEEDED, False),
        ("capture", {"amount": 1051}, PaymentStatus.AUTHORIZED, True),
    ],
    ids=["refund-above-captured", "capture-above-authorised"],
)
def test_an_amount_above_what_is_left_is_amount_too_large(
    api: httpx.Client,
    merchant: Merchant,
    payments: DynamoPaymentRepository,
    route: str,
    body: dict[str, Any],
    status: PaymentStatus,
    manual: bool,
) -> None:
    """A refund above the captured amount, or a capture above the authorised one: 409
    amount_too_large, nothing stored."""
    payment = stored(payments, merchant, status, manual=manual)

    answer = error_of(post(api, merchant, payment.id, route, body))

    assert ((409, "amount_too_large"), []) == (answer[:2], list(payments.actions(payment.id)))


def test_a_refund_with_nothing_refundable_is_amount_too_large(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """Once a pending refund holds the whole amount, a refund {} is 409 amount_too_large."""
    payment = stored(payments, merchant, PaymentStatus.SUCCEEDED)
    refund = request_refund(payment, None, None, datetime.now(UTC), action_id=uuid.uuid4())
    payments.save(payment, [refund.action])

    assert (409, "amount_too_large") == error_of(post(api, merchant, payment.id, "refunds", {}))[:2]


@pytest.mark.parametrize(
    ("route", "status", "manual", "body"),
    [
        ("capture", PaymentStatus.AUTHORIZED, True, {"amount": 800}),
        ("refunds", PaymentStatus.SUCCEEDED, False, {"amount": 300}),
    ],
)
def test_a_repeat_with_the_key_replays_the_first_202(
    api: httpx.Client,
    merchant: Merchant,
    payments: DynamoPaymentRepository,
    route: str,
    status: PaymentStatus,
    manual: bool,
    body: dict[str, Any],
) -> None:
    """The same key and body again: the first 202, body and Location, with
    Idempotent-Replayed; one action stored. Another body with the key is 422."""
    payment = stored(payments, merchant, status, manual=manual)
    key = f"e2e-{uuid.uuid4()}"

    first = post(api, merchant, payment.id, route, body, key=key)
    again = post(api, merchant, payment.id, route, body, key=key)
    reused = post(api, merchant, payment.id, route, {"amount": 1}, key=key)

    assert (202, 202, "true") == (
        first.status_code,
        again.status_code,
        again.headers.get("Idempotent-Replayed"),
    )
    assert (first.json(), first.headers["Location"]) == (again.json(), again.headers["Location"])
    assert (422, "idempotency_key_reused") == error_of(reused)[:2]
    assert [first.json()["id"]] == [str(a.id) for a in payments.actions(payment.id)]


def test_a_refused_action_leaves_its_key_free(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """A refund refused amount_too_large stores nothing under its key: the same key with a
    smaller amount is judged afresh and accepted."""
    payment = stored(payments, merchant, PaymentStatus.SUCCEEDED)
    key = f"e2e-{uuid.uuid4()}"

    refused = post(api, merchant, payment.id, "refunds", {"amount": 5000}, key=key)
    accepted = post(api, merchant, payment.id, "refunds", {"amount": 500}, key=key)

    assert ((409, "amount_too_large"), 202) == (error_of(refused)[:2], accepted.status_code)
    assert "idempotent-replayed" not in accepted.headers


def in_parallel(count: int, request: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """`count` calls of `request`, each from its own thread, released together."""
    barrier = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        barrier.wait()
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def warm_up(client: httpx.Client, merchant: Merchant, payment_id: object) -> None:
    """Start PARALLEL_REFUNDS warm Lambda workers of the refund route, a few at a time, on
    a pending payment (each refused, nothing stored): 20 cold Python starts at once on a few
    CPUs outlast the function's 10 s timeout, and this test is about the reservation."""
    for count in range(5, PARALLEL_REFUNDS + 1, 5):
        in_parallel(count, lambda: post(client, merchant, payment_id, "refunds", {}))


def test_concurrent_refunds_never_reserve_more_than_was_captured(
    api: httpx.Client, merchant: Merchant, payments: DynamoPaymentRepository
) -> None:
    """20 refunds of 30 at once on a payment of 100 that succeeded through the stack: exactly
    3 accepted, 17 refused amount_too_large, and its actions sum to 90 (not above 100)."""
    created = submit(api, merchant, payment_body(amount=100))
    payment_id = created.json()["id"]
    assert "succeeded" == wait_final(api, merchant, payment_id)[0]["status"]
    limits = httpx.Limits(max_connections=PARALLEL_REFUNDS)
    with httpx.Client(base_url=api.base_url, timeout=60, limits=limits) as client:
        warm_up(client, merchant, stored(payments, merchant, PaymentStatus.PENDING).id)
        answers = in_parallel(
            PARALLEL_REFUNDS,
            lambda: post(client, merchant, payment_id, "refunds", {"amount": 30}),
        )

    outcomes = Counter("accepted" if r.status_code == 202 else error_of(r)[1] for r in answers)
    stored_actions = payments.actions(uuid.UUID(payment_id))
    accepted_ids = sorted(r.json()["id"] for r in answers if r.status_code == 202)
    assert {"accepted": 3, "amount_too_large": PARALLEL_REFUNDS - 3} == dict(outcomes)
    assert (accepted_ids, 90) == (
        sorted(str(a.id) for a in stored_actions),
        sum(a.money.amount for a in stored_actions),
    )
    held = sum(a.money.amount for a in stored_actions if a.status is not ActionStatus.FAILED)
    assert held <= 100
