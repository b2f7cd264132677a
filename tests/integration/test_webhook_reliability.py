"""Reliability of webhook delivery with a shortened schedule (WEBHOOK_RETRY_SCALE 0.0001):
real SQS queue and deliveries table (moto server), the local stack's SQS event source, the
sender's handler and HTTP poster, and five receivers of the test's own on 127.0.0.1 — healthy,
dead (always 500), slow (3 s), flaky (503 twice) and one that hangs once (the 10 s timeout).

Checked: every event is delivered at least once to every endpoint that can take it; the
dead endpoint ends `failed` after exactly 9 attempts per event, at the schedule's offsets;
the slow and hanging endpoints do not delay the healthy one. The figures are printed.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from local.event_sources import SqsEventSource
from shared_kernel.adapters.dynamodb.deliveries import DynamoDeliveryLog
from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue
from shared_kernel.adapters.webhook_http import HttpWebhookPoster
from shared_kernel.application.deliver_webhooks import DeliverToEndpoint, FanOutEvent
from shared_kernel.application.webhook_ports import DeliveryAttempt, FanOut
from shared_kernel.application.webhook_schedule import MAX_ATTEMPTS, RETRY_WAITS_S, RetrySchedule
from shared_kernel.bootstrap import SystemClock
from tests.unit.test_webhook_sender_handler import CONTEXT
from tests.unit.webhook_fakes import (
    MERCHANT,
    InMemoryEventStore,
    InMemoryWebhookEndpoints,
    an_endpoint,
    an_event,
)
from webhook_sender_handlers import deliver

from .conftest import ClientFactory, Tables
from .webhook_receiver import Behaviour, Received, WebhookReceiver

pytestmark = pytest.mark.integration

SCALE = 0.0001
EVENTS = 10
LOOPBACK = ["127.0.0.1"]


class ScriptedReceiver(WebhookReceiver):
    """A receiver whose answer depends on how many requests of an event it has seen."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.lock = threading.Lock()
        super().__init__()

    def answer(self, handler: Any) -> None:
        """The behaviour the script gives the n-th request of this event (1-based)."""
        with self.lock:
            event_id = handler.headers["Gateway-Event-Id"]
            n = sum(1 for r in self.received if r.headers["Gateway-Event-Id"] == event_id)
            self.behaviour = self.script(n)
        super().answer(handler)


@dataclass
class Wiring:
    """What the handler takes from bootstrap.gateway()."""

    fan_out_event: FanOutEvent
    deliver_to_endpoint: DeliverToEndpoint


@pytest.fixture
def receivers() -> Iterator[dict[str, ScriptedReceiver]]:
    """The five receivers, stopped after the test."""
    made = {
        "healthy": ScriptedReceiver(lambda n: Behaviour()),
        "dead": ScriptedReceiver(lambda n: Behaviour(status=500)),
        "slow": ScriptedReceiver(lambda n: Behaviour(delay_s=3.0)),
        "flaky": ScriptedReceiver(lambda n: Behaviour(status=503 if n <= 2 else 200)),
        "hangs_once": ScriptedReceiver(lambda n: Behaviour(hang=n == 1)),
    }
    yield made
    for receiver in made.values():
        receiver.stop()


def test_every_event_reaches_every_endpoint_and_a_dead_one_fails_after_nine(
    receivers: dict[str, ScriptedReceiver],
    queues: dict[str, str],
    tables: Tables,
    aws_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """10 events x 5 endpoints: delivered to the four that can take them (each at least
    once), the dead one 9 attempts per event then failed, healthy deliveries not held up by
    the slow and hanging endpoints."""
    events = [an_event(n) for n in range(1, EVENTS + 1)]
    store = InMemoryEventStore(*events)
    endpoints = InMemoryWebhookEndpoints()
    by_name = {
        name: endpoints.add(an_endpoint(i, url=r.url()))
        for i, (name, r) in enumerate(receivers.items(), start=1)
    }
    sqs = aws_client("sqs")
    queue = SqsWebhookQueue(sqs, queues["WebhookQueue"])
    log = DynamoDeliveryLog(tables.dynamodb(), tables.deliveries)
    wiring = Wiring(
        FanOutEvent(store, endpoints, queue),
        DeliverToEndpoint(
            store,
            endpoints,
            queue,
            log,
            lambda _url: LOOPBACK,
            HttpWebhookPoster(),
            SystemClock(),
            RetrySchedule(SCALE),
        ),
    )
    monkeypatch.setattr(deliver, "gateway", lambda: wiring)
    source = SqsEventSource(
        sqs,
        queues["WebhookQueue"],
        "arn:aws:sqs:eu-west-1:123456789012:webhooks",
        lambda event: deliver.handler(event, CONTEXT),
        batch_size=10,
        concurrency=4,
    )
    started = time.monotonic()
    for event in events:
        queue.fan_out(FanOut(event.id, MERCHANT))
    source.start()
    try:
        _wait_for_the_dead_endpoints_last_attempts(log, events, by_name["dead"].id, timeout=120)
    finally:
        source.stop()
    elapsed = time.monotonic() - started

    attempts = {e.id: log.attempts(e.id) for e in events}
    delivered = {
        name: sum(1 for e in events if _delivered(attempts[e.id], endpoint.id))
        for name, endpoint in by_name.items()
    }
    dead = [[a for a in attempts[e.id] if a.endpoint_id == by_name["dead"].id] for e in events]
    healthy_latency = _first_request_latencies(receivers["healthy"].received, started)
    slowest_answer = round(min(_durations(attempts, by_name["slow"].id)), 2)
    figures = {
        "events": EVENTS,
        "endpoints": len(by_name),
        "attempts": sum(len(a) for a in attempts.values()),
        "delivered per endpoint": delivered,
        "dead endpoint attempts per event": sorted({len(d) for d in dead}),
        "healthy first delivery after fan-out s (p50/max)": (
            round(statistics.median(healthy_latency), 2),
            round(max(healthy_latency), 2),
        ),
        "slow endpoint answers s (min)": slowest_answer,
        "hang-once timeouts": sum(
            1
            for e in events
            for a in attempts[e.id]
            if a.endpoint_id == by_name["hangs_once"].id and a.error == "timeout"
        ),
        "sqs event source": source.stats(),
        "run s": round(elapsed, 1),
    }
    with capsys.disabled():
        print("\nwebhook delivery figures:", *(f"  {k}: {v}" for k, v in figures.items()), sep="\n")

    # Every fault fired: the dead endpoint answered 500s, flaky 503s, hangs_once timed out,
    # the slow one took its 3 s.
    assert {
        "dead": 0,
        "flaky": EVENTS,
        "hangs_once": EVENTS,
        "healthy": EVENTS,
        "slow": EVENTS,
    } == delivered
    assert [MAX_ATTEMPTS] == figures["dead endpoint attempts per event"]
    assert [True] * EVENTS == [d[-1].delivery_failed and d[-1].status_code == 500 for d in dead]
    assert [[False] * 8] * EVENTS == [[a.delivery_failed for a in d[:-1]] for d in dead]
    assert EVENTS == figures["hang-once timeouts"]
    assert 3.0 <= slowest_answer
    assert [3] * EVENTS == [_delivered_at(attempts[e.id], by_name["flaky"].id) for e in events]
    # The schedule: each wait at least its scaled value (SQS rounds delays up to the second).
    assert [True] * EVENTS == [_waits_at_least_the_schedule(d) for d in dead]
    # Slow (3 s) and hanging (10 s) endpoints hold up no healthy delivery.
    assert max(healthy_latency) < 3.0


def _wait_for_the_dead_endpoints_last_attempts(
    log: DynamoDeliveryLog, events: list[Any], dead: UUID, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = [
            any(a.endpoint_id == dead and a.delivery_failed for a in log.attempts(e.id))
            for e in events
        ]
        if all(finished):
            time.sleep(1.5)  # any stray extra attempt would show now
            return
        time.sleep(0.5)
    pytest.fail(f"the dead endpoint's deliveries did not all end within {timeout} s")


def _delivered(attempts: Any, endpoint: UUID) -> bool:
    return any(a.endpoint_id == endpoint and a.status_code == 200 for a in attempts)


def _delivered_at(attempts: Any, endpoint: UUID) -> int:
    return int(
        next(a.attempt for a in attempts if a.endpoint_id == endpoint and a.status_code == 200)
    )


def _durations(attempts: dict[UUID, Any], endpoint: UUID) -> list[float]:
    return [
        a.duration_ms / 1000
        for found in attempts.values()
        for a in found
        if a.endpoint_id == endpoint
    ]


def _first_request_latencies(received: list[Received], started: float) -> list[float]:
    first: dict[str, float] = {}
    for request in received:
        first.setdefault(request.headers["Gateway-Event-Id"], request.at - started)
    return list(first.values())


def _waits_at_least_the_schedule(attempts: list[DeliveryAttempt]) -> bool:
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(attempts)]
    return len(gaps) == len(RETRY_WAITS_S) and all(
        gap >= wait * SCALE for gap, wait in zip(gaps, RETRY_WAITS_S, strict=True)
    )
