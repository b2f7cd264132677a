"""A payment's actions in DynamoDB: stored inside the payment item, reserved and recorded in
one conditional UpdateItem, and raced on the serialising emulator (local/emulator.py) to show
that concurrent refunds never reserve more than was captured and concurrent captures never
both pend."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from shared_kernel.adapters.dynamodb.payments import (
    MUTABLE_ATTRIBUTES,
    DynamoPaymentRepository,
    to_item,
)
from shared_kernel.application.errors import ConcurrentUpdate
from shared_kernel.domain.errors import ActionInProgress, ActionRefused, AmountTooLarge
from shared_kernel.domain.money import Money
from shared_kernel.domain.money_movements import ActionRequested, request_capture, request_refund
from shared_kernel.domain.payment import CaptureMethod, Outcome, PaymentRequest, PaymentStatus

from .conftest import ClientFactory, DynamoRequests, Tables
from .test_dynamodb_payments import ACCEPTED_AT, LATER, a_payment

pytestmark = pytest.mark.integration

THREADS = 20
REQUESTED_AT = ACCEPTED_AT + timedelta(minutes=1)


@pytest.fixture
def repository(tables: Tables) -> DynamoPaymentRepository:
    """A repository on this test's fresh payments table (moto server)."""
    return DynamoPaymentRepository(tables.dynamodb(), tables.payments)


def added(repository: DynamoPaymentRepository, outcome: Outcome, **changes: Any) -> PaymentRequest:
    """A payment added and saved with the bank's `outcome`."""
    payment = a_payment(**changes)
    repository.add(payment)
    payment.apply(outcome, LATER)
    repository.save(payment)
    return payment


def test_the_action_is_written_into_the_payment_item_by_the_one_conditional_update(
    tables: Tables, repository: DynamoPaymentRepository, dynamodb_requests: DynamoRequests
) -> None:
    """A refund is saved by one UpdateItem on the payment item, conditioned on the version
    read and on the actions map existing: it sets the payment's reservation and
    `actions.<id>` together; no other write is made."""
    payment = added(repository, Outcome(PaymentStatus.SUCCEEDED))
    refund = request_refund(payment, 300, None, REQUESTED_AT, action_id=uuid4()).action
    before = len(dynamodb_requests.calls)

    repository.save(payment, [refund])

    save = DynamoRequests(dynamodb_requests.calls[before:])
    assert [("UpdateItem", tables.payments)] == save.operations()
    assert [{"version", "actions", str(refund.id), *MUTABLE_ATTRIBUTES}] == (
        save.updated_attributes()
    )
    assert ["(version = 1 AND attribute_exists (actions))"] == save.update_conditions()
    assert refund == repository.get_action(payment.id, refund.id)


def test_an_item_written_before_actions_existed_reads_as_defaults_and_takes_its_first_action(
    tables: Tables, repository: DynamoPaymentRepository, aws_client: ClientFactory
) -> None:
    """An item with none of the new attributes (no capture method, amounts, actions map)
    reads as an automatic payment with nothing refunded or pending; its first refund
    creates the actions map."""
    payment = a_payment(money=Money(1050, "GBP"))
    payment.apply(Outcome(PaymentStatus.SUCCEEDED), LATER)
    old = to_item(payment).serialize()
    new_attributes = {"capture_method", "amount_captured", "amount_refunded", "actions"}
    new_attributes |= {"amount_refund_pending", "refund_count"}
    for name in new_attributes:
        del old[name]
    aws_client("dynamodb").put_item(TableName=tables.payments, Item=old)

    read = repository.get(payment.id)
    defaults = (read.capture_method, read.amount_captured, read.amount_refunded, read.refund_count)
    listed_before = repository.actions(payment.id)
    refund = request_refund(read, 1000, None, REQUESTED_AT, action_id=uuid4()).action
    repository.save(read, [refund])

    assert ((CaptureMethod.AUTOMATIC, 1050, 0, 0), []) == (defaults, listed_before)
    assert [refund] == repository.actions(payment.id)
    assert (1000, 1) == (
        repository.get(payment.id).amount_refund_pending,
        repository.get(payment.id).refund_count,
    )


def race(
    repository: DynamoPaymentRepository,
    payment_id: Any,
    request: Callable[[PaymentRequest], ActionRequested],
) -> list[str]:
    """THREADS threads each read the payment, make `request` of it and save the action with
    its reservation, re-reading and re-deciding on ConcurrentUpdate; each says how it
    ended ("accepted", or the refusal's code) and how many saves lost a race."""
    lost: list[int] = []

    def one(_: int) -> str:
        while True:
            payment = repository.get(payment_id)
            try:
                requested = request(payment)
            except ActionRefused as refused:
                return refused.code
            try:
                repository.save(payment, [requested.action])
            except ConcurrentUpdate:
                lost.append(1)
                continue
            return "accepted"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(one, range(THREADS)))
    return [*outcomes, *(["lost_race"] * len(lost))]


def test_concurrent_refunds_never_reserve_more_than_was_captured(
    raced_repository: DynamoPaymentRepository,
) -> None:
    """20 threads each refund 30 of a payment that captured 100: exactly 3 are reserved and
    recorded (90 pending, no more than captured), the 17 others are refused
    amount_too_large; conditional writes that lost a race were retried from a new read."""
    repository = raced_repository
    payment = added(repository, Outcome(PaymentStatus.SUCCEEDED), money=Money(100, "GBP"))

    outcomes = race(
        repository,
        payment.id,
        lambda read: request_refund(read, 30, None, REQUESTED_AT, action_id=uuid4()),
    )

    stored = repository.get(payment.id)
    reserved = sum(a.money.amount for a in repository.actions(payment.id))
    accepted, refused = outcomes.count("accepted"), outcomes.count(AmountTooLarge.code)
    print(
        f"\nconcurrent refunds: requests={THREADS} accepted={accepted} refused={refused} "
        f"lost_races_retried={outcomes.count('lost_race')} "
        f"reserved={reserved} pending={stored.amount_refund_pending} "
        f"captured={stored.amount_captured}"
    )
    assert (3, 17) == (accepted, refused)
    assert (90, 90, 3, 100) == (
        reserved,
        stored.amount_refund_pending,
        stored.refund_count,
        stored.amount_captured,
    )
    assert 3 == len(repository.actions(payment.id))
    assert outcomes.count("lost_race") > 0  # the threads did race on the conditional write


def test_concurrent_captures_leave_exactly_one_pending(
    raced_repository: DynamoPaymentRepository,
) -> None:
    """20 threads each capture an authorised payment: one capture is pending and is the
    payment's reserved slot; the 19 others are refused action_in_progress."""
    repository = raced_repository
    payment = added(
        repository, Outcome(PaymentStatus.AUTHORIZED), capture_method=CaptureMethod.MANUAL
    )

    outcomes = race(
        repository,
        payment.id,
        lambda read: request_capture(read, None, REQUESTED_AT, action_id=uuid4()),
    )

    actions = repository.actions(payment.id)
    print(
        f"\nconcurrent captures: requests={THREADS} accepted={outcomes.count('accepted')} "
        f"refused={outcomes.count(ActionInProgress.code)} "
        f"lost_races_retried={outcomes.count('lost_race')} pending={len(actions)}"
    )
    assert (1, 19) == (outcomes.count("accepted"), outcomes.count(ActionInProgress.code))
    assert [actions[0].id] == [a.id for a in actions]
    assert actions[0].id == repository.get(payment.id).pending_action_id
    assert outcomes.count("lost_race") > 0  # the threads did race on the conditional write
