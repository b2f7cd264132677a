"""The payments table's stream as the recorder's Lambda trigger: stream records read back
into the payment and its actions, and the partial batch response naming the first record
that failed."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.adapters.dynamodb.payments import action_to_record, to_item
from shared_kernel.adapters.dynamodb.stream import payment_change
from shared_kernel.api.payment_stream import record_changes
from shared_kernel.application.record_events import PaymentChange
from shared_kernel.domain.action import PaymentAction
from shared_kernel.domain.money_movements import request_refund
from shared_kernel.domain.payment import PaymentRequest

from .builders import CREATED_AT, PAID, PROCESSING, payment_in, pending_payment
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

REFUND_ID = UUID("00000000-0000-4000-8000-00000000000d")


def image(payment: PaymentRequest, actions: list[PaymentAction]) -> dict[str, Any]:
    """The stored item of the payment and its actions in DynamoDB's typed JSON, as a stream
    record shows it to a Lambda (binary attributes base64)."""
    item = to_item(payment)
    item.actions = {str(a.id): action_to_record(a) for a in actions}
    typed = item.serialize()
    for value in typed.values():
        if "B" in value:
            value["B"] = base64.b64encode(value["B"]).decode()
    return typed


def record(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, sequence: int
) -> dict[str, Any]:
    """One DynamoDB stream record of the payments table."""
    data: dict[str, Any] = {
        "Keys": {"payment_id": (new or old or {})["payment_id"]},
        "SequenceNumber": str(sequence),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        data["OldImage"] = old
    if new is not None:
        data["NewImage"] = new
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": data}


def test_a_modify_record_reads_back_the_payment_and_its_actions_before_and_after() -> None:
    """Old and new image become the payment and its actions as the repository maps them,
    without the sealed card (no event needs card data)."""
    payment = payment_in(ReversibleCipher(), PROCESSING, PAID)
    before = payment.copy()
    refund = request_refund(
        payment, 500, None, CREATED_AT + timedelta(minutes=1), action_id=REFUND_ID
    )

    change = payment_change(record("MODIFY", image(before, []), image(payment, [refund.action]), 7))

    assert change is not None and change.before is not None
    assert replace(before, sealed_card=None) == change.before.payment
    assert {} == change.before.actions
    assert replace(payment, sealed_card=None) == change.after.payment
    assert {REFUND_ID: refund.action} == change.after.actions


def test_an_insert_has_no_before_and_a_remove_is_no_change() -> None:
    """A new item's change has no `before`; a removed item makes no change to record."""
    payment = pending_payment(ReversibleCipher())
    typed = image(payment, [])

    inserted = payment_change(record("INSERT", None, typed, 1))

    assert inserted is not None and inserted.before is None
    assert payment.sealed_card is not None and inserted.after.payment.sealed_card is None
    assert None is payment_change(record("REMOVE", typed, None, 2))


def test_a_batch_stops_at_the_first_failure_and_names_its_sequence_number() -> None:
    """Records are passed on in order; the first that fails is answered as the item to
    retry from, and the later ones are not passed on (the stream delivers them again)."""
    payments = [pending_payment(ReversibleCipher(), payment_id=UUID(int=n)) for n in (1, 2, 3)]
    records = [record("INSERT", None, image(p, []), 10 + n) for n, p in enumerate(payments)]
    seen: list[UUID] = []

    def fail_on_second(change: PaymentChange) -> None:
        seen.append(change.after.payment.id)
        if change.after.payment.id == UUID(int=2):
            raise RuntimeError("table unavailable")

    answer = record_changes({"Records": records}, fail_on_second)

    assert {"batchItemFailures": [{"itemIdentifier": "11"}]} == answer
    assert [UUID(int=1), UUID(int=2)] == seen


def test_a_batch_that_succeeds_reports_no_failure() -> None:
    """Every change passed on, none reported; an unparseable record counts as failed."""
    payment = pending_payment(ReversibleCipher())
    seen: list[UUID] = []

    answer = record_changes(
        {"Records": [record("INSERT", None, image(payment, []), 5)]},
        lambda change: seen.append(change.after.payment.id),
    )
    broken = record_changes(
        {"Records": [{"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "9", "NewImage": {}}}]},
        lambda change: seen.append(change.after.payment.id),
    )

    assert ({"batchItemFailures": []}, [payment.id]) == (answer, seen)
    assert {"batchItemFailures": [{"itemIdentifier": "9"}]} == broken
