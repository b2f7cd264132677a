"""RequestCapture, RequestVoid, RequestRefund: judge, reserve in one write, queue; a lost race
is judged again, a refusal stores nothing (also under its Idempotency-Key)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.errors import (
    ConcurrentUpdate,
    IdempotencyKeyReused,
)
from shared_kernel.application.idempotent_submit import IdempotentSubmit, request_hash, scope_of
from shared_kernel.application.ports import IdempotencyClaim, QueuedPayment
from shared_kernel.application.request_action import (
    ActionRequest,
    RequestAction,
    RequestCapture,
    RequestRefund,
    RequestVoid,
)
from shared_kernel.domain.action import ActionStatus, ActionType, RefundReason
from shared_kernel.domain.errors import (
    ActionInProgress,
    AmountTooLarge,
    PaymentNotFound,
    PaymentUnexpectedState,
)
from shared_kernel.domain.money_movements import request_refund
from shared_kernel.domain.payment import PaymentRequest

from .builders import AUTHORIZED, MERCHANT_ID, OTHER_MERCHANT_ID, PAID, PAYMENT_ID, payment_in
from .fakes import (
    FixedClock,
    InMemoryIdempotencyStore,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    RecordingMetrics,
    ReversibleCipher,
    SequentialIds,
)

pytestmark = pytest.mark.unit

SECRET = b"pepper-for-tests"
KEY = "refund-order-1234"
DAY = timedelta(hours=24)


class Wiring:
    """The three use cases on one set of fakes, as bootstrap wires them."""

    def __init__(self) -> None:
        self.clock = FixedClock()
        self.clock.advance(timedelta(minutes=1))
        self.repository = InMemoryPaymentRepository()
        self.queue = InMemoryPaymentQueue()
        self.ids = SequentialIds()
        self.store = InMemoryIdempotencyStore()
        self.metrics = RecordingMetrics()
        idempotent = IdempotentSubmit(self.store, self.clock, self.ids, SECRET)
        parts = (self.repository, self.queue, self.clock, self.ids, lambda: idempotent)
        self.capture = RequestCapture(*parts, metrics=self.metrics)
        self.void = RequestVoid(*parts, metrics=self.metrics)
        self.refund = RequestRefund(*parts, metrics=self.metrics)

    def holding(self, payment: PaymentRequest) -> PaymentRequest:
        """Store `payment` and return it."""
        self.repository.add(payment)
        return payment

    def stored_actions(self) -> list[tuple[ActionType, int]]:
        """(type, amount) of every stored action of PAYMENT_ID, oldest first."""
        return [(a.type, a.money.amount) for a in self.repository.actions(PAYMENT_ID)]


@pytest.fixture
def app() -> Wiring:
    """Fresh fakes, the clock a minute after the payment was accepted."""
    return Wiring()


def authorized(app: Wiring) -> PaymentRequest:
    """A stored manual payment of 1050 GBP, authorised."""
    return app.holding(payment_in(ReversibleCipher(), AUTHORIZED, capture_method="manual"))


def succeeded(app: Wiring) -> PaymentRequest:
    """A stored automatic payment of 1050 GBP that succeeded (captured 1050)."""
    return app.holding(payment_in(ReversibleCipher(), PAID))


def asked(
    amount: int | None = None, merchant_id: UUID = MERCHANT_ID, **fields: object
) -> ActionRequest:
    """A request for PAYMENT_ID with the given amount (and body, key, reason)."""
    body = {} if amount is None else {"amount": amount}
    return ActionRequest(merchant_id, PAYMENT_ID, "corr-1", amount, body=body, **fields)  # type: ignore[arg-type]


def test_a_capture_is_stored_pending_with_its_reservation_and_queued(app: Wiring) -> None:
    """A capture of 800 of an authorised payment: a pending capture stored, the payment's
    pending slot holding it, one queue message naming the action."""
    authorized(app)

    accepted = app.capture(asked(800))

    action = accepted.action
    assert (ActionType.CAPTURE, ActionStatus.PENDING, 800, False) == (
        action.type,
        action.status,
        action.money.amount,
        accepted.replayed,
    )
    assert action == app.repository.get_action(PAYMENT_ID, action.id)
    assert action.id == app.repository.get(PAYMENT_ID).pending_action_id
    assert [QueuedPayment(PAYMENT_ID, MERCHANT_ID, "corr-1", action_id=action.id)] == (
        app.queue.messages
    )


def test_a_void_releases_the_authorised_amount(app: Wiring) -> None:
    """A void's action is pending for the whole authorised amount and holds the slot."""
    authorized(app)

    action = app.void(asked()).action

    assert ([(ActionType.VOID, 1050)], action.id) == (
        app.stored_actions(),
        app.repository.get(PAYMENT_ID).pending_action_id,
    )


def test_a_refund_without_amount_takes_all_that_is_refundable(app: Wiring) -> None:
    """A refund {} of a succeeded automatic payment refunds all 1050 with its reason; the
    payment shows nothing more refundable."""
    succeeded(app)

    action = app.refund(asked(reason=RefundReason.DUPLICATE)).action

    assert ([(ActionType.REFUND, 1050)], RefundReason.DUPLICATE, 0) == (
        app.stored_actions(),
        action.reason,
        app.repository.get(PAYMENT_ID).amount_refundable,
    )


@pytest.mark.parametrize(
    ("use_case", "state", "error"),
    [
        ("capture", "succeeded", PaymentUnexpectedState),
        ("void", "succeeded", PaymentUnexpectedState),
        ("refund", "authorized", PaymentUnexpectedState),
    ],
)
def test_a_refused_action_stores_and_queues_nothing(
    app: Wiring, use_case: str, state: str, error: type[Exception]
) -> None:
    """The domain's refusal propagates; no action, no reservation, no message."""
    payment = succeeded(app) if state == "succeeded" else authorized(app)

    with pytest.raises(error):
        getattr(app, use_case)(asked())

    assert ([], [], payment) == (
        app.stored_actions(),
        app.queue.messages,
        app.repository.get(PAYMENT_ID),
    )


def test_another_merchants_payment_is_not_found(app: Wiring) -> None:
    """A refund of another merchant's payment is PaymentNotFound, and nothing changes."""
    succeeded(app)

    with pytest.raises(PaymentNotFound):
        app.refund(asked(100, merchant_id=OTHER_MERCHANT_ID))

    assert ([], []) == (app.stored_actions(), app.queue.messages)


def test_an_unknown_payment_is_not_found(app: Wiring) -> None:
    """A capture of a payment that does not exist is PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        app.capture(asked())


def test_a_queue_outage_leaves_the_action_stored_and_pending(app: Wiring) -> None:
    """With the queue down the refund is still accepted and stored pending (the reconciler
    sends it); the outage is counted."""
    succeeded(app)
    app.queue.failing = True

    action = app.refund(asked(100)).action

    assert ([(ActionType.REFUND, 100)], ActionStatus.PENDING) == (
        app.stored_actions(),
        app.repository.get_action(PAYMENT_ID, action.id).status,
    )
    assert 1 == app.metrics.counts()[("ActionsLeftUnqueued", (("type", "refund"),))]


def test_a_race_lost_to_another_refund_is_judged_again_and_refused(app: Wiring) -> None:
    """Another refund of 1000 lands between the read and the write: the request is read
    again and refused amount_too_large; only the other refund is stored."""
    succeeded(app)

    def other_refund(stored: PaymentRequest) -> None:
        requested = request_refund(stored, 1000, None, app.clock.now(), action_id=app.ids())
        app.repository.stored_actions.setdefault(PAYMENT_ID, {})[requested.action.id] = (
            requested.action
        )

    app.repository.interleave(other_refund)

    with pytest.raises(AmountTooLarge):
        app.refund(asked(100))

    assert ([(ActionType.REFUND, 1000)], 50) == (
        app.stored_actions(),
        app.repository.get(PAYMENT_ID).amount_refundable,
    )


def test_a_race_lost_to_an_unrelated_write_is_judged_again_and_accepted(app: Wiring) -> None:
    """A write that leaves room (the reconciler's bookkeeping) costs one more round; the
    capture is then stored once."""
    authorized(app)
    app.repository.interleave(lambda stored: setattr(stored, "reconcile_attempts", 1))

    action = app.capture(asked()).action

    assert ([(ActionType.CAPTURE, 1050)], 1, action.id) == (
        app.stored_actions(),
        app.repository.get(PAYMENT_ID).reconcile_attempts,
        app.repository.get(PAYMENT_ID).pending_action_id,
    )


def test_a_payment_that_keeps_changing_gives_up_after_the_bound(app: Wiring) -> None:
    """A write wins before every save for max_rounds rounds: ConcurrentUpdate, and nothing
    stored nor queued."""
    authorized(app)
    capture = RequestCapture(
        app.repository,
        app.queue,
        app.clock,
        app.ids,
        lambda: None,
        max_rounds=3,  # type: ignore[arg-type,return-value]
    )
    for _ in range(3):
        app.repository.interleave(lambda stored: None)

    with pytest.raises(ConcurrentUpdate):
        capture(asked())

    assert ([], [], None) == (
        app.stored_actions(),
        app.queue.messages,
        app.repository.get(PAYMENT_ID).pending_action_id,
    )


def test_a_repeat_with_the_key_replays_the_first_action(app: Wiring) -> None:
    """The same key and body again answers the first action, replayed; one action stored,
    one message queued."""
    succeeded(app)

    first = app.refund(asked(300, idempotency_key=KEY))
    again = app.refund(asked(300, idempotency_key=KEY))

    assert (first.action, True) == (again.action, again.replayed)
    assert (1, 1) == (len(app.stored_actions()), len(app.queue.messages))


def test_the_same_key_with_another_body_is_key_reused(app: Wiring) -> None:
    """The key used again with another amount on the same route is IdempotencyKeyReused."""
    succeeded(app)
    app.refund(asked(300, idempotency_key=KEY))

    with pytest.raises(IdempotencyKeyReused):
        app.refund(asked(301, idempotency_key=KEY))
    assert [(ActionType.REFUND, 300)] == app.stored_actions()


def test_the_key_is_scoped_to_the_route(app: Wiring) -> None:
    """The same key on the capture route and then the void route are two requests: the
    second is judged (action_in_progress), not replayed."""
    authorized(app)
    app.capture(asked(idempotency_key=KEY))

    with pytest.raises(ActionInProgress):
        app.void(asked(idempotency_key=KEY))


def test_a_refused_request_leaves_its_key_free(app: Wiring) -> None:
    """A refund refused amount_too_large stores nothing under its key: the same key with
    another body is judged afresh and accepted."""
    succeeded(app)

    with pytest.raises(AmountTooLarge):
        app.refund(asked(5000, idempotency_key=KEY))
    assert {} == app.store.records

    accepted = app.refund(asked(500, idempotency_key=KEY))
    assert (False, [(ActionType.REFUND, 500)]) == (accepted.replayed, app.stored_actions())


def test_a_resumed_claim_whose_action_was_stored_returns_it_and_queues_it_again(
    app: Wiring,
) -> None:
    """A claim past its lock is taken over; when its first holder's action lands just before
    the takeover, the stored action is the answer, queued once more, nothing new stored."""
    payment = succeeded(app)
    action_id = app.ids()
    now = app.clock.now()
    scope = scope_of(MERCHANT_ID, KEY, f"payment/{PAYMENT_ID}/refunds")
    hashed = request_hash(SECRET, {"amount": 200})
    app.store.claim(IdempotencyClaim(scope, hashed, "dead", action_id, now, now + DAY, now))
    app.clock.advance(timedelta(seconds=1))

    def first_holders_write() -> None:
        requested = request_refund(payment, 200, None, now, action_id=action_id)
        app.repository.save(payment, [requested.action])

    def before_takeover() -> None:  # the claim attempt's write; the takeover comes next
        app.store.before_write = first_holders_write

    app.store.before_write = before_takeover

    accepted = app.refund(asked(200, idempotency_key=KEY))

    assert (action_id, False, [(ActionType.REFUND, 200)], 850) == (
        accepted.action.id,
        accepted.replayed,
        app.stored_actions(),
        app.repository.get(PAYMENT_ID).amount_refundable,
    )
    assert [action_id] == [message.action_id for message in app.queue.messages]


@pytest.mark.parametrize("use_case", [RequestCapture, RequestVoid, RequestRefund])
def test_each_use_case_names_its_type_and_route(use_case: type[RequestAction]) -> None:
    """The routes are the SPEC's path segments, each with its own action type."""
    expected = {
        RequestCapture: (ActionType.CAPTURE, "capture"),
        RequestVoid: (ActionType.VOID, "void"),
        RequestRefund: (ActionType.REFUND, "refunds"),
    }
    assert expected[use_case] == (use_case.type, use_case.route)
