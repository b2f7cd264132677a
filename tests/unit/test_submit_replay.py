"""The submit handler with an Idempotency-Key, wired to fakes: a replay is rebuilt from the
payment stored under the claim's submission id, exactly as the first answer was given."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from merchant_api_handlers import submit_payment
from shared_kernel import contracts
from shared_kernel.api.merchant import created_resource, payment_resource
from shared_kernel.application.idempotent_submit import scope_of
from shared_kernel.domain.payment import DeclineReason, Outcome, PaymentStatus

from .builders import MERCHANT_ID, SPEC_BODY, pending_payment
from .fakes import ReversibleCipher, SubmitWiring

pytestmark = pytest.mark.unit

CONTEXT = SimpleNamespace(
    function_name="submit_payment",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:submit_payment",
    aws_request_id="req-1",
)
KEY = "order-1234-attempt-1"


@pytest.fixture
def app() -> SubmitWiring:
    """Nothing stored yet."""
    return SubmitWiring()


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, app: SubmitWiring) -> Any:
    """The submit handler, its `gateway()` returning `app`."""
    monkeypatch.setattr(submit_payment, "gateway", lambda: app)
    return submit_payment.handler


def post(key: str = KEY) -> dict[str, Any]:
    """The SPEC's example POST by its merchant, with an Idempotency-Key."""
    return {
        "httpMethod": "POST",
        "pathParameters": {"merchant_id": str(MERCHANT_ID)},
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(MERCHANT_ID)}},
        "headers": {"Content-Type": "application/json", "Idempotency-Key": key},
        "body": json.dumps(SPEC_BODY),
        "isBase64Encoded": False,
    }


def test_replay_after_the_payment_moved_on_repeats_the_first_answer(
    handler: Any, app: SubmitWiring
) -> None:
    """Once the payment has succeeded, a repeat still gets the first 201: the same body
    (pending, updated_at = created_at) and Location, plus `Idempotent-Replayed: true`."""
    first = handler(post(), CONTEXT)
    [payment] = app.repository.items.values()
    app.clock.advance(timedelta(minutes=5))
    stored = app.repository.get(payment.id)
    stored.record_bank_acceptance("bank-1", app.clock.now())
    stored.apply(Outcome(PaymentStatus.SUCCEEDED), app.clock.now())
    app.repository.save(stored)

    again = handler(post(), CONTEXT)

    assert 201 == first["statusCode"]
    assert (first["body"], first["headers"]["Location"]) == (
        again["body"],
        again["headers"]["Location"],
    )
    assert (201, "true") == (again["statusCode"], again["headers"]["Idempotent-Replayed"])
    resource = json.loads(again["body"])
    contracts.assert_valid("payment-resource", resource)
    assert ("pending", None, "2026-11-26T10:00:00Z") == (
        resource["status"],
        resource["decline_reason"],
        resource["updated_at"],
    )
    assert (1, 1) == (len(app.repository.items), len(app.queue.messages))


def test_first_answer_is_the_resource_of_the_stored_payment(
    handler: Any, app: SubmitWiring
) -> None:
    """The first 201 is the payment stored under the claim's submission id, pending."""
    first = handler(post(), CONTEXT)

    record = app.store.records[scope_of(MERCHANT_ID, KEY)]
    stored = app.repository.get(record.submission_id)
    assert (json.loads(first["body"]), f"/merchant/{MERCHANT_ID}/payment/{stored.id}") == (
        payment_resource(stored),
        first["headers"]["Location"],
    )
    assert "Idempotent-Replayed" not in first["headers"]


def test_repeat_while_the_claim_has_no_payment_and_a_live_lock_is_409(
    handler: Any, app: SubmitWiring
) -> None:
    """A claim whose payment is not stored yet, lock live: 409 idempotency_in_progress,
    and nothing is stored."""
    handler(post(), CONTEXT)
    app.repository.items.clear()
    app.clock.advance(timedelta(seconds=29))

    again = handler(post(), CONTEXT)

    assert (409, "idempotency_in_progress") == (
        again["statusCode"],
        json.loads(again["body"])["error"]["code"],
    )
    assert {} == app.repository.items


def test_repeat_after_the_lock_of_a_claim_without_payment_stores_it_under_the_claims_id(
    handler: Any, app: SubmitWiring
) -> None:
    """A claim past its lock with no payment stored: the repeat takes it over and stores
    the payment under the claim's submission id, a fresh 201."""
    handler(post(), CONTEXT)
    submission_id = app.store.records[scope_of(MERCHANT_ID, KEY)].submission_id
    app.repository.items.clear()
    app.clock.advance(timedelta(seconds=31))

    again = handler(post(), CONTEXT)

    assert (201, str(submission_id), [submission_id]) == (
        again["statusCode"],
        json.loads(again["body"])["id"],
        list(app.repository.items),
    )
    assert "Idempotent-Replayed" not in again["headers"]


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(PaymentStatus.SUCCEEDED),
        Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR),
        Outcome(PaymentStatus.FAILED),
    ],
    ids=["succeeded", "declined", "failed"],
)
def test_created_resource_is_the_resource_as_accepted(outcome: Outcome) -> None:
    """Whatever happened since, the created resource is the accepted one: pending, no
    decline reason, updated_at = created_at, everything else as the current resource."""
    accepted = pending_payment(ReversibleCipher())
    moved_on = pending_payment(ReversibleCipher())
    moved_on.apply(outcome, moved_on.created_at + timedelta(minutes=1), "bank-1")

    assert payment_resource(accepted) == created_resource(moved_on)


def test_replay_is_never_another_merchants_payment(handler: Any, app: SubmitWiring) -> None:
    """A submission id naming another merchant's payment replays nothing: GetPayment hides
    it, so the claim counts as having no payment (409 while its lock is live)."""
    handler(post(), CONTEXT)
    [payment] = app.repository.items.values()
    payment.merchant_id = UUID("0b7e8a0c-3d2f-4c6b-8e9a-1f2e3d4c5b6a")

    again = handler(post(), CONTEXT)

    assert 409 == again["statusCode"]
