"""Exactly-once effects at the storage boundary, against DynamoDB and SQS (moto server):
concurrent callbacks for one payment, the reconciler's schedule on the open-payments index,
and the forwarder's back-off through the message's visibility timeout."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.adapters.sqs import SqsPaymentQueue
from shared_kernel.application.ports import QueuedPayment
from shared_kernel.domain.card import CardSummary, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import (
    PaymentRequest,
    PaymentStatus,
)

from .conftest import ClientFactory, Tables

pytestmark = pytest.mark.integration

ACCEPTED_AT = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
THREADS = 8


class SteadyClock:
    """A clock that reads the real time (a callback's moment)."""

    def now(self) -> datetime:
        """Now, UTC."""
        return datetime.now(UTC)


def processing_payment(**changes: object) -> PaymentRequest:
    """A payment the bank has acknowledged (processing, card dropped)."""
    payment = PaymentRequest(
        id=uuid4(),
        merchant_id=uuid4(),
        money=Money(1050, "GBP"),
        card=CardSummary(last4="4242", brand="visa", expiry=Expiry(12, 2030)),
        reference=None,
        created_at=ACCEPTED_AT,
        updated_at=ACCEPTED_AT,
        sealed_card=SealedCard(b"sealed"),
    )
    payment.record_bank_acceptance("bank-ref", ACCEPTED_AT)
    return replace(payment, **changes)


# Concurrent callbacks for one payment cannot both apply because every save is an
# UpdateItem conditional on the version read (tests/integration/test_dynamodb_payments.py:
# a stale save raises ConcurrentUpdate) and the use case re-reads and re-decides on it
# (tests/unit/test_apply_bank_update.py). A thread race against moto server proves
# nothing more: moto evaluates conditions without a lock, so it can let two racing
# conditional writes through where DynamoDB never does.


def test_open_payments_query_skips_payments_not_due_yet(tables: Tables) -> None:
    """The reconciler's schedule survives storage: a payment whose next check is later than
    `due_at` is filtered out of the index query, one due (or never checked) is returned."""
    repository = DynamoPaymentRepository()
    now = ACCEPTED_AT + timedelta(minutes=10)
    never, due, later = processing_payment(), processing_payment(), processing_payment()
    for payment in (never, due, later):
        repository.add(payment)
    for payment, next_at in ((due, now - timedelta(seconds=1)), (later, now + timedelta(hours=1))):
        payment.note_reconcile_attempt(PaymentStatus.PROCESSING, next_at)
        repository.save(payment)

    found = {
        p.id: p.reconcile_attempts
        for p in repository.open_payments(PaymentStatus.PROCESSING, now, 10, due_at=now)
    }

    assert {never.id: 0, due.id: 1} == found
    assert (1, now + timedelta(hours=1)) == (
        repository.get(later.id).reconcile_attempts,
        repository.get(later.id).next_reconcile_at,
    )


def test_delay_retry_hides_the_message_for_the_back_off(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """A received message delayed by 2 s is not received again at once, but after 2 s."""
    sqs = aws_client("sqs")
    queue = SqsPaymentQueue(sqs, queue_url)
    queue.publish(QueuedPayment(UUID(int=1, version=4), UUID(int=2, version=4), "corr"))
    handle = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"][0][
        "ReceiptHandle"
    ]

    delayed = queue.delay_retry(handle, 1.2)
    hidden = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    time.sleep(2.2)
    back = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])

    assert (True, 0, 1) == (delayed, len(hidden), len(back))


def test_delay_retry_with_a_stale_handle_reports_false(
    aws_client: ClientFactory, queue_url: str
) -> None:
    """SQS refusing the change (here: a receipt handle it never issued) is reported, not
    raised: the message then comes back after the queue's own visibility timeout."""
    queue = SqsPaymentQueue(aws_client("sqs"), queue_url)
    assert False is queue.delay_retry("not-a-receipt-handle", 5)
