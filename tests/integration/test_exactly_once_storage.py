"""Exactly-once effects at the storage boundary, against DynamoDB and SQS (moto server):
the reconciler's schedule on the open-payments index and the forwarder's back-off through
the message's visibility timeout. (Concurrent callbacks for one payment are not raced here:
the comment above the first test says what covers them.)"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
from shared_kernel.adapters.sqs import SqsPaymentQueue
from shared_kernel.application.backoff import Backoff
from shared_kernel.application.ports import (
    BankAcceptance,
    BankPaymentRequest,
    BankStatusReport,
    QueuedPayment,
)
from shared_kernel.application.reconcile import Reconcile
from shared_kernel.domain.card import CardSummary, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import Outcome, PaymentRequest, PaymentStatus

from .conftest import ClientFactory, Tables

pytestmark = pytest.mark.integration

ACCEPTED_AT = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
THREADS = 8


class FixedTime:
    """A clock stopped at one moment."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        """The moment."""
        return self.moment


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
    `due_at` is not returned by the index query, one due is (with its attempt count)."""
    repository = DynamoPaymentRepository(tables.dynamodb(), tables.payments)
    now = ACCEPTED_AT + timedelta(minutes=10)
    first, due, later = processing_payment(), processing_payment(), processing_payment()
    for payment in (first, due, later):
        repository.add(payment)
    for payment, next_at in ((due, now - timedelta(seconds=1)), (later, now + timedelta(hours=1))):
        payment.note_reconcile_attempt(PaymentStatus.PROCESSING, next_at)
        repository.save(payment)

    found = {p.id: p.reconcile_attempts for p in repository.open_payments(now, 10)}

    assert {first.id: 0, due.id: 1} == found
    assert (1, now + timedelta(hours=1)) == (
        repository.get(later.id).reconcile_attempts,
        repository.get(later.id).next_check_at,
    )


class SilentBank:
    """An acquiring bank that only answers status queries, from a dict (None: never seen)."""

    def __init__(self, statuses: dict[UUID, BankStatusReport]) -> None:
        self.statuses = statuses
        self.asked: list[UUID] = []

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Never called by these passes (no give-up path is wired)."""
        raise AssertionError("the reconciler must not submit here")

    def status_of(self, payment_id: UUID) -> BankStatusReport | None:
        """The scripted status, recording the question."""
        self.asked.append(payment_id)
        return self.statuses.get(payment_id)


def test_the_reconciler_requeues_and_settles_through_the_index(
    tables: Tables, aws_client: ClientFactory, queue_url: str
) -> None:
    """One pass over the new index: a pending payment never queued is queued (and its next
    check moved by the back-off); a processing one whose callback never came is settled
    from the bank's answer and leaves the index; one not due yet is not touched."""
    repository = DynamoPaymentRepository(tables.dynamodb(), tables.payments)
    now = ACCEPTED_AT + timedelta(minutes=10)
    never_queued = replace(
        processing_payment(),
        status=PaymentStatus.PENDING,
        bank_reference=None,
        sealed_card=SealedCard(b"sealed"),
        next_check_at=ACCEPTED_AT + timedelta(seconds=30),
    )
    silent = processing_payment()
    not_due = processing_payment(next_check_at=now + timedelta(minutes=1))
    for payment in (never_queued, silent, not_due):
        repository.add(payment)
    bank = SilentBank({silent.id: BankStatusReport("bank-ref", Outcome(PaymentStatus.SUCCEEDED))})
    sqs = aws_client("sqs")
    reconcile = Reconcile(
        repository,
        SqsPaymentQueue(sqs, queue_url),
        bank,
        FixedTime(now),
        backoff=Backoff(60.0, 3600.0, jitter=lambda: 1.0),
    )

    report = reconcile()

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    queued = [json.loads(m["Body"])["payment_id"] for m in messages]
    requeued, settled = repository.get(never_queued.id), repository.get(silent.id)
    left = {p.id for p in repository.open_payments(now + timedelta(days=1), 10)}
    assert (1, 1, [str(never_queued.id)], [silent.id]) == (
        report.requeued,
        report.settled,
        queued,
        bank.asked,
    )
    assert ((1, now + timedelta(seconds=60)), (PaymentStatus.SUCCEEDED, None)) == (
        (requeued.reconcile_attempts, requeued.next_check_at),
        (settled.status, settled.next_check_at),
    )
    assert {never_queued.id, not_due.id} == left


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
