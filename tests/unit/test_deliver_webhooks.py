"""The webhook sender's use cases: fan-out to subscribed endpoints, one signed attempt per
message, the retry schedule with its hops, deletion and resends (SPEC §10)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from shared_kernel.application.deliver_webhooks import (
    URL_REFUSED,
    DeliverToEndpoint,
    FanOutEvent,
    Outcome,
)
from shared_kernel.application.webhook_ports import (
    DeliveryAttempt,
    EndpointDelivery,
    FanOut,
    PostResult,
    WebhookEndpoint,
)
from shared_kernel.application.webhook_schedule import RETRY_WAITS_S, RetrySchedule

from .fakes import FixedClock, RecordingMetrics
from .webhook_fakes import (
    MERCHANT,
    NOW,
    CheckingUrlGuard,
    InMemoryDeliveryLog,
    InMemoryEventStore,
    InMemoryWebhookEndpoints,
    RecordingWebhookQueue,
    ScriptedPoster,
    an_endpoint,
    an_event,
)

pytestmark = pytest.mark.unit

EVENT = an_event()
FAILING = PostResult(503, None, 40)
OK = PostResult(200, None, 12)


class Sender:
    """One sender wired to fakes, with the event stored and one endpoint registered."""

    def __init__(self, answer: PostResult = OK) -> None:
        self.clock = FixedClock(NOW)
        self.events = InMemoryEventStore(EVENT)
        self.endpoints = InMemoryWebhookEndpoints()
        self.endpoint = self.endpoints.add(an_endpoint(), "whsec_new", "whsec_old")
        self.queue = RecordingWebhookQueue()
        self.log = InMemoryDeliveryLog()
        self.guard = CheckingUrlGuard()
        self.poster = ScriptedPoster(lambda _url: answer)
        self.metrics = RecordingMetrics()
        self.deliver = DeliverToEndpoint(
            self.events,
            self.endpoints,
            self.queue,
            self.log,
            self.guard,
            self.poster,
            self.clock,
            metrics=self.metrics,
        )

    def first(self, **changes: object) -> EndpointDelivery:
        """Attempt 1 of EVENT at the endpoint, with `changes`."""
        message = EndpointDelivery(EVENT.id, MERCHANT, self.endpoint.id, 1)
        return replace(message, **changes)  # type: ignore[arg-type]


def test_fan_out_queues_attempt_1_for_each_subscribed_endpoint_only() -> None:
    """Two endpoints want payment.succeeded (one by `*`), one wants only refunds: two
    EndpointDelivery(attempt=1), undelayed."""
    endpoints = InMemoryWebhookEndpoints()
    every = endpoints.add(an_endpoint(1))
    exact = endpoints.add(an_endpoint(2, events=("payment.succeeded",)))
    endpoints.add(an_endpoint(3, events=("refund.succeeded",)))
    queue = RecordingWebhookQueue()

    outcome = FanOutEvent(InMemoryEventStore(EVENT), endpoints, queue)(FanOut(EVENT.id, MERCHANT))

    assert (
        Outcome.FANNED_OUT,
        [
            (EndpointDelivery(EVENT.id, MERCHANT, every.id, 1), 0),
            (EndpointDelivery(EVENT.id, MERCHANT, exact.id, 1), 0),
        ],
    ) == (outcome, queue.delivered)


def test_fan_out_of_an_unknown_event_queues_nothing() -> None:
    """An event the store does not hold (expired, or another merchant's) goes nowhere."""
    endpoints = InMemoryWebhookEndpoints()
    endpoints.add(an_endpoint())
    queue = RecordingWebhookQueue()

    outcome = FanOutEvent(InMemoryEventStore(), endpoints, queue)(FanOut(EVENT.id, MERCHANT))

    assert (Outcome.EVENT_GONE, []) == (outcome, queue.delivered)


def test_an_attempt_posts_the_stored_bytes_signed_with_every_live_secret() -> None:
    """The body is the stored bytes as they are; Gateway-Signature is t=<now>,v1=..,v1=..,
    each an HMAC-SHA256 of "<t>.<body>" under one secret (two during a rotation)."""
    sender = Sender()

    sender.deliver(sender.first())

    (post,) = sender.poster.posts
    t = int(NOW.timestamp())
    expected = [
        hmac.new(s.encode(), f"{t}.".encode() + EVENT.body, hashlib.sha256).hexdigest()
        for s in ("whsec_new", "whsec_old")
    ]
    assert (EVENT.body, f"t={t},v1={expected[0]},v1={expected[1]}") == (
        post.body,
        post.headers["Gateway-Signature"],
    )


def test_an_attempt_names_the_event_and_its_type_and_connects_to_checked_addresses() -> None:
    """Content-Type and Gateway-Event-Id headers; the URL is checked again and the POST goes
    to the addresses the guard returned."""
    sender = Sender()

    sender.deliver(sender.first())

    (post,) = sender.poster.posts
    assert (
        "application/json",
        str(EVENT.id),
        [sender.endpoint.url],
        (sender.endpoint.url, ("203.0.113.10",)),
    ) == (
        post.headers["Content-Type"],
        post.headers["Gateway-Event-Id"],
        sender.guard.checked,
        (post.url, post.addresses),
    )


def test_a_2xx_is_delivered_recorded_and_not_retried() -> None:
    """A 200: DELIVERED, the attempt in the log with its status and duration, nothing queued."""
    sender = Sender()

    outcome = sender.deliver(sender.first())

    assert (
        Outcome.DELIVERED,
        [DeliveryAttempt(EVENT.id, sender.endpoint.id, 1, NOW, 200, None, 12)],
        [],
    ) == (outcome, sender.log.attempts(EVENT.id), sender.queue.delivered)


def test_a_failed_attempt_is_recorded_and_the_next_queued_after_one_minute() -> None:
    """A 503 on attempt 1: recorded, attempt 2 queued with a 60 s delay."""
    sender = Sender(FAILING)

    outcome = sender.deliver(sender.first())

    assert (
        Outcome.RETRY_QUEUED,
        [DeliveryAttempt(EVENT.id, sender.endpoint.id, 1, NOW, 503, None, 40)],
        [(sender.first(attempt=2), 60.0)],
    ) == (outcome, sender.log.attempts(EVENT.id), sender.queue.delivered)


def test_a_wait_longer_than_an_sqs_delay_is_queued_as_a_hop_carrying_the_due_time() -> None:
    """Attempt 3 fails: the 30 min wait is a 900 s delay with not_before = now + 30 min."""
    sender = Sender(FAILING)

    sender.deliver(sender.first(attempt=3))

    assert [(sender.first(attempt=4, not_before=NOW + timedelta(minutes=30)), 900.0)] == (
        sender.queue.delivered
    )


def test_a_hop_received_before_its_due_time_is_queued_again_without_an_attempt() -> None:
    """A message due in 20 min: queued again for 900 s, due time kept; no POST, no record."""
    sender = Sender()
    due = NOW + timedelta(minutes=20)

    outcome = sender.deliver(sender.first(attempt=4, not_before=due))

    assert (Outcome.HOPPED, [(sender.first(attempt=4, not_before=due), 900.0)], [], []) == (
        outcome,
        sender.queue.delivered,
        sender.poster.posts,
        sender.log.attempts(EVENT.id),
    )


def test_the_last_hop_is_delayed_by_what_is_left_and_arrives_due() -> None:
    """Due in 5 min: one delay of 300 s and no due time left to carry."""
    sender = Sender()

    sender.deliver(sender.first(attempt=4, not_before=NOW + timedelta(minutes=5)))

    assert [(sender.first(attempt=4), 300.0)] == sender.queue.delivered


def test_a_due_hop_makes_its_attempt() -> None:
    """At its due time the message is attempted (not hopped again)."""
    sender = Sender()

    outcome = sender.deliver(sender.first(attempt=4, not_before=NOW))

    assert (Outcome.DELIVERED, 1) == (outcome, len(sender.poster.posts))


def test_a_deleted_endpoint_stops_its_retries() -> None:
    """Once the endpoint is deleted its pending attempt sends nothing and queues nothing."""
    sender = Sender(FAILING)
    sender.endpoints.delete(sender.endpoint.id)

    outcome = sender.deliver(sender.first(attempt=2))

    assert (Outcome.ENDPOINT_DELETED, [], [], []) == (
        outcome,
        sender.poster.posts,
        sender.queue.delivered,
        sender.log.attempts(EVENT.id),
    )


def test_an_endpoint_deleted_after_it_was_read_sends_nothing_and_records_nothing() -> None:
    """Deleted between the read of the endpoint and of its secrets (none are left to sign
    with): ENDPOINT_DELETED, as when the read finds it gone, never an error to retry."""
    sender = Sender(FAILING)
    endpoint = sender.endpoint
    read = sender.endpoints.get

    def read_then_deleted(merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        found = read(merchant_id, endpoint_id)
        sender.endpoints.delete(endpoint.id)
        return found

    sender.endpoints.get = read_then_deleted  # type: ignore[method-assign]

    outcome = sender.deliver(sender.first(attempt=2))

    assert (Outcome.ENDPOINT_DELETED, [], [], []) == (
        outcome,
        sender.poster.posts,
        sender.queue.delivered,
        sender.log.attempts(EVENT.id),
    )


def test_the_ninth_failure_marks_the_delivery_failed_and_queues_nothing() -> None:
    """Attempt 9 fails: FAILED, recorded with delivery_failed, no attempt 10."""
    sender = Sender(FAILING)

    outcome = sender.deliver(sender.first(attempt=9))

    (recorded,) = sender.log.attempts(EVENT.id)
    assert (Outcome.FAILED, True, 9, []) == (
        outcome,
        recorded.delivery_failed,
        recorded.attempt,
        sender.queue.delivered,
    )


def test_a_failed_resend_is_recorded_and_never_retried() -> None:
    """A resend is one attempt outside the schedule: failed, recorded as a resend, nothing
    queued, and the schedule's delivery is not marked failed by it."""
    sender = Sender(FAILING)

    outcome = sender.deliver(sender.first(attempt=3, resend=True))

    (recorded,) = sender.log.attempts(EVENT.id)
    assert (Outcome.FAILED, True, False, []) == (
        outcome,
        recorded.resend,
        recorded.delivery_failed,
        sender.queue.delivered,
    )


def test_a_url_refused_at_delivery_sends_nothing_and_is_retried() -> None:
    """The SSRF check refuses the URL now (DNS changed): no POST, the attempt recorded with
    error url_refused, the next one queued."""
    sender = Sender()
    sender.guard.refused.add(sender.endpoint.url)

    outcome = sender.deliver(sender.first())

    (recorded,) = sender.log.attempts(EVENT.id)
    assert (Outcome.RETRY_QUEUED, [], (None, URL_REFUSED), 1) == (
        outcome,
        sender.poster.posts,
        (recorded.status_code, recorded.error),
        len(sender.queue.delivered),
    )


def test_an_event_gone_stops_the_delivery() -> None:
    """An event no longer stored (expired) is not sent and not retried."""
    sender = Sender()
    sender.events.events.clear()

    assert (Outcome.EVENT_GONE, [], []) == (
        sender.deliver(sender.first()),
        sender.poster.posts,
        sender.queue.delivered,
    )


def test_a_dead_endpoint_gets_nine_attempts_at_the_schedule_times() -> None:
    """Following every queued message on a fake clock (each delay elapsed), a dead endpoint
    is tried 9 times, at 0, 1 min, 6 min, 36 min, 2 h 36, 7 h 36, 17 h 36, 41 h 36 and
    65 h 36 after the first, then the delivery is failed; in between, 256 messages were only
    hops (a wait over 900 s takes ceil(wait / 900) messages)."""
    sender = Sender(FAILING)
    pending = [(sender.first(), 0.0)]
    outcomes = []
    while pending:
        message, delay = pending.pop()
        sender.clock.advance(timedelta(seconds=delay))
        outcomes.append(sender.deliver(message))
        pending = list(sender.queue.delivered)
        sender.queue.delivered.clear()

    offsets = [(a.at - NOW).total_seconds() for a in sender.log.attempts(EVENT.id)]
    expected = [sum(RETRY_WAITS_S[:n]) for n in range(9)]
    assert (expected, Outcome.FAILED, True) == (
        offsets,
        outcomes[-1],
        sender.log.attempts(EVENT.id)[-1].delivery_failed,
    )
    hops = sum(-(-w // 900) - 1 for w in RETRY_WAITS_S)
    assert (9, 256, 256) == (
        outcomes.count(Outcome.RETRY_QUEUED) + outcomes.count(Outcome.FAILED),
        outcomes.count(Outcome.HOPPED),
        hops,
    )


def test_the_scale_shortens_the_waits() -> None:
    """With scale 0.0001 the wait after attempt 1 is 6 ms."""
    sender = Sender(FAILING)
    scaled = replace(sender.deliver, schedule=RetrySchedule(0.0001))

    scaled(sender.first())

    assert [(sender.first(attempt=2), 0.006)] == sender.queue.delivered


def test_each_outcome_is_counted() -> None:
    """WebhookAttempts by outcome, and the attempt's duration."""
    sender = Sender(FAILING)

    sender.deliver(sender.first())

    assert {
        ("WebhookAttemptDuration", ()): 40,
        ("WebhookAttempts", (("outcome", "retry_queued"),)): 1,
    } == sender.metrics.counts()
