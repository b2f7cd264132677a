"""The events recorder's use case: each event of a change stored once under an id derived
from the change, with the resource as it was right after it, and fanned out at least once."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel import contracts
from shared_kernel.api.events import event_body
from shared_kernel.api.merchant import action_resource, payment_resource
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.application.record_events import PaymentChange, RecordEvents
from shared_kernel.application.webhook_ports import FanOut
from shared_kernel.domain.action import PaymentAction
from shared_kernel.domain.change_events import PaymentSnapshot
from shared_kernel.domain.money_movements import request_capture, settle_action
from shared_kernel.domain.payment import CaptureMethod, PaymentRequest

from .builders import AUTHORIZED, CREATED_AT, PAID, PROCESSING, SPEC_BODY, payment_in
from .event_fakes import InMemoryEventStore, RecordingWebhookQueue
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

NOW = CREATED_AT + timedelta(minutes=5)
CAPTURE_ID = UUID("00000000-0000-4000-8000-00000000000c")


def snapshot(payment: PaymentRequest, actions: dict[UUID, PaymentAction]) -> PaymentSnapshot:
    """A copy of the payment and its actions as one stored item holds them."""
    return PaymentSnapshot(payment.copy(), {i: a.copy() for i, a in actions.items()})


def payment_paid() -> PaymentChange:
    """The change of a processing payment to succeeded."""
    payment = payment_in(ReversibleCipher(), PROCESSING)
    before = snapshot(payment, {})
    payment.apply(PAID, NOW)
    payment.version += 1  # as the save does
    return PaymentChange(before, snapshot(payment, {}))


def capture_succeeded() -> PaymentChange:
    """The change that ends a manual payment's capture: the capture and the payment succeed."""
    payment = payment_in(
        ReversibleCipher(), PROCESSING, AUTHORIZED, capture_method=CaptureMethod.MANUAL
    )
    capture = request_capture(payment, None, NOW, action_id=CAPTURE_ID).action
    before = snapshot(payment, {CAPTURE_ID: capture})
    settle_action(payment, capture, True, NOW)
    payment.version += 1  # as the save does
    return PaymentChange(before, snapshot(payment, {CAPTURE_ID: capture}))


def recorder() -> tuple[RecordEvents, InMemoryEventStore, RecordingWebhookQueue]:
    """A recorder on an empty store and queue, rendering with the merchant API's renderer."""
    store, queue = InMemoryEventStore(lambda: NOW), RecordingWebhookQueue()
    return RecordEvents(store, queue, event_body), store, queue


def test_each_event_is_stored_with_the_resource_right_after_the_change() -> None:
    """The stored body is the event object: its id, type, merchant, time, and the payment
    resource the merchant API shows for the payment after the change; it meets the contract."""
    record, store, _ = recorder()
    change = payment_paid()

    (event,) = record(change)

    body = json.loads(store.stored[event.id].body)
    assert {
        "id": str(event.id),
        "type": "payment.succeeded",
        "created_at": "2026-11-26T10:05:00Z",
        "merchant_id": str(change.after.payment.merchant_id),
        "data": {"object": payment_resource(change.after.payment)},
    } == body
    assert [] == contracts.validate("event", body)


def test_an_action_and_its_payment_record_two_events_action_first() -> None:
    """A capture that succeeds records capture.succeeded (the action resource), then
    payment.succeeded (the payment resource) a microsecond later, with distinct ids."""
    record, store, queue = recorder()
    change = capture_succeeded()

    events = record(change)

    objects = [json.loads(e.body)["data"]["object"] for e in events]
    assert ["capture.succeeded", "payment.succeeded"] == [e.type for e in events]
    assert [
        action_resource(change.after.actions[CAPTURE_ID]),
        payment_resource(change.after.payment),
    ] == objects
    assert timedelta(microseconds=1) == events[1].created_at - events[0].created_at
    assert [FanOut(e.id, e.merchant_id) for e in events] == queue.fanned_out
    assert 2 == len({e.id for e in events}) == store.writes


def test_a_redelivered_change_stores_nothing_twice_and_fans_out_again() -> None:
    """Recording the same change again derives the same ids: nothing new is stored, and each
    event is fanned out once more (at least once: the first fan-out may not have happened)."""
    record, store, queue = recorder()
    change = capture_succeeded()

    first = record(change)
    again = record(change)

    assert [e.id for e in first] == [e.id for e in again]
    assert 2 == store.writes
    assert [FanOut(e.id, e.merchant_id) for e in first * 2] == queue.fanned_out


def test_another_change_of_the_same_payment_gets_other_ids() -> None:
    """Ids differ between changes (the item's version is part of the id)."""
    record, _, _ = recorder()
    first = record(payment_paid())
    change = payment_paid()
    later = PaymentChange(
        change.before,
        PaymentSnapshot(change.after.payment.copy(), {}),
    )
    later.after.payment.version += 5

    assert first[0].id != record(later)[0].id


def test_a_queue_failure_raises_and_the_retry_records_and_fans_out_all() -> None:
    """When the queue refuses, the use case raises (the stream delivers the change again);
    the retry stores nothing twice and fans every event out."""
    store, queue = InMemoryEventStore(lambda: NOW), RecordingWebhookQueue(failures=1)
    record = RecordEvents(store, queue, event_body)
    change = capture_succeeded()

    with pytest.raises(QueueUnavailable):
        record(change)
    events = record(change)

    assert 1 == queue.refused
    assert [FanOut(e.id, e.merchant_id) for e in events] == queue.fanned_out
    assert 2 == store.writes


def test_a_change_without_events_records_and_queues_nothing() -> None:
    """A change a merchant cannot see (reconciler bookkeeping) stores and queues nothing."""
    record, store, queue = recorder()
    payment = payment_in(ReversibleCipher(), PROCESSING)
    before = snapshot(payment, {})
    payment.note_reconcile_attempt(payment.status, NOW)

    assert [] == record(PaymentChange(before, snapshot(payment, {})))
    assert (0, []) == (store.writes, queue.fanned_out)


def test_no_card_data_reaches_an_event_beyond_the_card_block() -> None:
    """The payment was made with a full card number and CVV: neither appears in the stored
    bytes, and the only card data is the resource's card block (last4, brand, expiry)."""
    record, store, _ = recorder()

    (event,) = record(payment_paid())

    body = store.stored[event.id].body.decode()
    card = json.loads(body)["data"]["object"]["card"]
    assert str(SPEC_BODY["card_number"]) not in body
    assert '"cvv"' not in body and "sealed" not in body and "fingerprint" not in body
    assert {"last4": "4242", "brand": "visa", "expiry_month": 12, "expiry_year": 2030} == card
