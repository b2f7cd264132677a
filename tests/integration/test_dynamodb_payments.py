"""DynamoPaymentRepository against DynamoDB (moto server), on tables made from the template."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.dynamodb.models import OPEN_PAYMENTS_INDEX, OPEN_SHARD
from shared_kernel.adapters.dynamodb.payments import MUTABLE_ATTRIBUTES, DynamoPaymentRepository
from shared_kernel.domain.card import CardSummary, Expiry, SealedCard
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import (
    DeclineReason,
    FailureReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)

from .conftest import ClientFactory, DynamoRequests, Tables

pytestmark = pytest.mark.integration

ACCEPTED_AT = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
LATER = ACCEPTED_AT + timedelta(seconds=1, microseconds=1)
FIRST_CHECK = ACCEPTED_AT + timedelta(seconds=30)
INDEX_KEYS = {"payment_id", "open_shard", "next_check_at"}


def a_payment(**changes: Any) -> PaymentRequest:
    """A pending payment with every field set (sealed card, reference, correlation id)."""
    payment = PaymentRequest(
        id=uuid4(),
        merchant_id=uuid4(),
        money=Money(1050, "GBP"),
        card=CardSummary(last4="4242", brand="visa", expiry=Expiry(12, 2030)),
        reference="order-1234",
        created_at=ACCEPTED_AT,
        updated_at=ACCEPTED_AT,
        sealed_card=SealedCard(b"\x01\x00\x03key\x00\xffsealed"),
        correlation_id="req-7f3d",
        next_check_at=FIRST_CHECK,
    )
    return replace(payment, **changes)


@pytest.fixture
def repository(tables: Tables) -> DynamoPaymentRepository:
    """A repository on this test's fresh payments table."""
    return DynamoPaymentRepository(tables.dynamodb(), tables.payments)


@pytest.fixture
def raw_item(tables: Tables, aws_client: ClientFactory) -> Any:
    """Read a payment's stored item as DynamoDB holds it (attribute name -> typed value)."""
    dynamodb = aws_client("dynamodb")

    def read(payment_id: UUID) -> dict[str, Any]:
        answer = dynamodb.get_item(
            TableName=tables.payments,
            Key={"payment_id": {"S": str(payment_id)}},
            ConsistentRead=True,
        )
        item: dict[str, Any] = answer["Item"]
        return item

    return read


@pytest.fixture
def index_entries(tables: Tables, aws_client: ClientFactory) -> Any:
    """Read the open-payments index as DynamoDB holds it: payment id -> projected entry."""
    dynamodb = aws_client("dynamodb")

    def read() -> dict[str, dict[str, Any]]:
        answer = dynamodb.query(
            TableName=tables.payments,
            IndexName=OPEN_PAYMENTS_INDEX,
            KeyConditionExpression="open_shard = :open",
            ExpressionAttributeValues={":open": {"S": OPEN_SHARD}},
        )
        return {item["payment_id"]["S"]: item for item in answer["Items"]}

    return read


def test_an_added_payment_reads_back_field_for_field(
    repository: DynamoPaymentRepository, raw_item: Any
) -> None:
    """add then get returns an equal payment, at version 0, with timestamps to the microsecond."""
    payment = a_payment()

    repository.add(payment)

    assert payment == repository.get(payment.id)
    item = raw_item(payment.id)
    assert {"N": "0"} == item["version"]
    assert {"S": "2026-11-26T10:00:00.123456Z"} == item["updated_at"]
    assert {"N": "1050"} == item["amount"]
    assert {"S": "open"} == item["open_shard"]
    assert {"S": "2026-11-26T10:00:30.123456Z"} == item["next_check_at"]


def test_absent_optional_fields_round_trip_as_none(
    repository: DynamoPaymentRepository, raw_item: Any
) -> None:
    """A payment without reference, correlation id or sealed card reads back with None there,
    and none of those attributes is stored at all."""
    payment = a_payment(reference=None, correlation_id=None, sealed_card=None)

    repository.add(payment)

    assert payment == repository.get(payment.id)
    stored = set(raw_item(payment.id))
    absent = {"reference", "correlation_id", "sealed_card", "decline_reason", "failure_reason"}
    assert set() == stored & absent


def test_save_writes_the_change_and_removes_the_sealed_card(
    repository: DynamoPaymentRepository, raw_item: Any
) -> None:
    """After the bank acknowledges, save stores processing, the bank reference and a new
    version, and REMOVES sealed_card from the item."""
    payment = a_payment()
    repository.add(payment)

    payment.record_bank_acceptance("bank_7c1e2a9b", LATER)
    repository.save(payment)

    assert 1 == payment.version
    assert payment == repository.get(payment.id)
    item = raw_item(payment.id)
    assert "sealed_card" not in item
    assert {"S": "processing"} == item["status"]
    assert {"S": "bank_7c1e2a9b"} == item["bank_reference"]


def test_the_forwarders_update_leaves_the_index_entry_unchanged(
    repository: DynamoPaymentRepository, index_entries: Any
) -> None:
    """pending → processing (the forwarder's save) changes no index key: the payment's
    keys-only entry is the same before and after, with only the keys projected."""
    payment = a_payment()
    repository.add(payment)
    before = index_entries()[str(payment.id)]

    payment.record_bank_acceptance("bank_7c1e2a9b", LATER)
    repository.save(payment)

    after = index_entries()[str(payment.id)]
    assert (INDEX_KEYS, before) == (set(after), after)


@pytest.mark.parametrize(
    "settle",
    [
        pytest.param(lambda p: p.apply(Outcome(PaymentStatus.SUCCEEDED), LATER), id="succeeded"),
        pytest.param(
            lambda p: p.apply(
                Outcome(PaymentStatus.DECLINED, DeclineReason.FRAUD_SUSPECTED), LATER
            ),
            id="declined",
        ),
        pytest.param(lambda p: p.fail(FailureReason.BANK_REJECTED, LATER), id="failed"),
    ],
)
def test_a_final_payment_round_trips_and_leaves_the_open_index(
    repository: DynamoPaymentRepository, raw_item: Any, index_entries: Any, settle: Any
) -> None:
    """Every final state (with its decline or failure reason) reads back equal, the item
    loses open_shard, next_check_at and sealed_card, and the index no longer holds it."""
    payment = a_payment()
    repository.add(payment)
    indexed_while_open = str(payment.id) in index_entries()

    settle(payment)
    repository.save(payment)

    assert payment == repository.get(payment.id)
    item = raw_item(payment.id)
    assert set() == {"open_shard", "next_check_at", "sealed_card"} & set(item)
    assert {"N": "1"} == item["version"]
    assert (True, False) == (indexed_while_open, str(payment.id) in index_entries())


def test_open_payments_finds_only_open_payments_due_earliest_first(
    repository: DynamoPaymentRepository, index_entries: Any
) -> None:
    """The sparse index holds pending and processing payments only; the query returns, read
    in full from the table, those whose next check is not after the time, earliest due
    first, up to the limit."""
    now = ACCEPTED_AT + timedelta(minutes=10)
    pending_due = [a_payment(next_check_at=ACCEPTED_AT + timedelta(minutes=m)) for m in (3, 1, 2)]
    pending_later = a_payment(next_check_at=now + timedelta(seconds=1))
    processing_due = a_payment(next_check_at=ACCEPTED_AT + timedelta(minutes=4))
    succeeded = a_payment()
    declined = a_payment()
    for payment in [*pending_due, pending_later, processing_due, succeeded, declined]:
        repository.add(payment)
    processing_due.record_bank_acceptance("bank_1", ACCEPTED_AT + timedelta(minutes=4))
    succeeded.apply(Outcome(PaymentStatus.SUCCEEDED), ACCEPTED_AT + timedelta(minutes=5))
    declined.apply(
        Outcome(PaymentStatus.DECLINED, DeclineReason.INSUFFICIENT_FUNDS),
        ACCEPTED_AT + timedelta(minutes=6),
    )
    for payment in (processing_due, succeeded, declined):
        repository.save(payment)

    due = list(repository.open_payments(now, limit=10))
    first_two = list(repository.open_payments(now, limit=2))

    earliest_first = sorted([*pending_due, processing_due], key=lambda p: p.next_check_at or now)
    assert earliest_first == due
    assert [p.id for p in earliest_first[:2]] == [p.id for p in first_two]
    entries = index_entries()
    open_ids = {str(p.id) for p in [*pending_due, pending_later, processing_due]}
    assert (open_ids, [INDEX_KEYS] * 5) == (set(entries), [set(e) for e in entries.values()])


def test_save_writes_every_mutable_attribute_conditioned_on_the_version_read(
    repository: DynamoPaymentRepository, dynamodb_requests: DynamoRequests
) -> None:
    """A payment read, then acknowledged by the bank, is saved with one UpdateItem that sets
    or removes every mutable attribute and adds 1 to the version, if the stored version is
    still the one read, and asks nothing back; it reads back equal."""
    added = a_payment()
    repository.add(added)
    payment = repository.get(added.id)

    payment.record_bank_acceptance("bank_7c1e2a9b", LATER)
    repository.save(payment)

    assert [{"version", *MUTABLE_ATTRIBUTES}] == dynamodb_requests.updated_attributes()
    assert ["version = 0"] == dynamodb_requests.update_conditions()
    assert ["NONE"] == dynamodb_requests.update_return_values()
    assert payment == repository.get(payment.id)


def test_successive_saves_are_each_conditioned_on_the_version_before_them(
    repository: DynamoPaymentRepository, raw_item: Any, dynamodb_requests: DynamoRequests
) -> None:
    """A second save of the same payment writes every mutable attribute again, on the
    condition of the version the first save left; the stored item holds the second's
    changes and keeps the first's."""
    payment = a_payment()
    repository.add(payment)
    payment.record_bank_acceptance("bank_7c1e2a9b", LATER)
    repository.save(payment)

    payment.apply(Outcome(PaymentStatus.SUCCEEDED), LATER + timedelta(seconds=1))
    repository.save(payment)

    item = raw_item(payment.id)
    assert [{"version", *MUTABLE_ATTRIBUTES}] * 2 == dynamodb_requests.updated_attributes()
    assert ["version = 0", "version = 1"] == dynamodb_requests.update_conditions()
    assert ({"N": "2"}, {"S": "bank_7c1e2a9b"}) == (item["version"], item["bank_reference"])
    assert payment == repository.get(payment.id)


def test_a_payment_added_by_another_repository_saves_every_mutable_attribute(
    tables: Tables, repository: DynamoPaymentRepository, dynamodb_requests: DynamoRequests
) -> None:
    """A payment another repository on the same table added is saved by this one with every
    mutable attribute written, still conditioned on its version; it reads back equal."""
    payment = a_payment()
    DynamoPaymentRepository(tables.dynamodb(), tables.payments).add(payment)

    payment.apply(Outcome(PaymentStatus.DECLINED, DeclineReason.DO_NOT_HONOR), LATER)
    repository.save(payment)

    assert [{"version", *MUTABLE_ATTRIBUTES}] == dynamodb_requests.updated_attributes()
    assert payment == repository.get(payment.id)
