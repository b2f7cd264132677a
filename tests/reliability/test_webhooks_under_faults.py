"""Webhook delivery under failing receivers, through the running gateway (SPEC §10): the
payments table's stream, the events recorder, the webhook queue and the sender as the local
stack runs them, with the retry schedule scaled by WEBHOOK_RETRY_SCALE (tests/conftest.py).

One merchant registers five endpoints through the API, each a receiver of this test's own
on 127.0.0.1: healthy, dead (always 500), slow (3 s), flaky (503 twice per event, then 200)
and one that hangs on each event's first attempt (past the sender's 10 s bound). Its
payments record `payment.processing` and `payment.succeeded` each. Checked: every event
reaches every endpoint that can take it, the dead endpoint's deliveries record attempts 1 to
9 of each (none after), spaced at least by the scaled schedule; the slow and hanging
endpoints hold up no healthy delivery; each fault fired. Delivery is at least once, so a
receiver may see an attempt twice; the checks allow exactly that and no more. The figures
are printed with the battery's.
"""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel.application.webhook_schedule import MAX_ATTEMPTS, RETRY_WAITS_S
from tests.conftest import TEST_TUNING, Merchant
from tests.integration.webhook_receiver import Behaviour, Received, ScriptedReceiver

pytestmark = pytest.mark.reliability

PAYMENTS = 3
SCALE = float(TEST_TUNING["WEBHOOK_RETRY_SCALE"])
CARD = {"card_number": "4242424242424242", "expiry_month": 12, "expiry_year": 2031, "cvv": "123"}
SCRIPTS = {
    "healthy": lambda n: Behaviour(),
    "dead": lambda n: Behaviour(status=500),
    "slow": lambda n: Behaviour(delay_s=3.0),
    "flaky": lambda n: Behaviour(status=503 if n <= 2 else 200),
    "hangs_once": lambda n: Behaviour(hang=n == 1),
}


@pytest.fixture
def receivers() -> Iterator[dict[str, ScriptedReceiver]]:
    """The five receivers, stopped (by their own server objects) after the test."""
    made = {name: ScriptedReceiver(script) for name, script in SCRIPTS.items()}
    yield made
    for receiver in made.values():
        receiver.stop()


def _epoch(timestamp: str) -> float:
    """An API timestamp (RFC 3339, UTC) as epoch seconds."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def by_event(received: list[Received]) -> dict[str, list[Received]]:
    """A receiver's requests by Gateway-Event-Id, in arrival order."""
    found: dict[str, list[Received]] = {}
    for request in list(received):
        found.setdefault(request.headers["Gateway-Event-Id"], []).append(request)
    return found


def test_every_event_reaches_every_live_endpoint_and_the_dead_one_ends_after_nine(
    api: httpx.Client,
    stack: LocalStack,
    receivers: dict[str, ScriptedReceiver],
    figures: dict[str, Any],
) -> None:
    """Through the stack: delivered at least once to the four that can take them, exactly
    nine attempts at the dead one on the schedule, no healthy delivery held up."""
    created = stack.register_merchant(f"Webhook faults merchant {uuid.uuid4().hex[:6]}")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    endpoints = {}
    for name, receiver in receivers.items():
        answer = api.post(
            f"/merchant/{merchant.id}/webhook-endpoints",
            json={"url": receiver.url(), "enabled_events": ["*"]},
            headers=merchant.auth,
        )
        assert 201 == answer.status_code, answer.text
        endpoints[name] = answer.json()["id"]
    started = time.monotonic()
    for index in range(PAYMENTS):
        answer = api.post(
            f"/merchant/{merchant.id}/payments",
            json={**CARD, "amount": 1050 + index, "currency": "GBP", "reference": f"wh-{index}"},
            headers=merchant.auth,
        )
        assert 201 == answer.status_code, answer.text
    events = 2 * PAYMENTS  # payment.processing and payment.succeeded each

    def dead_done() -> bool:
        dead = by_event(receivers["dead"].received)
        return len(dead) == events and all(len(r) >= MAX_ATTEMPTS for r in dead.values())

    deadline = time.monotonic() + 150
    while not dead_done():
        assert time.monotonic() < deadline, "the dead endpoint's schedule did not end in time"
        time.sleep(0.5)
    time.sleep(3.0)  # a 10th attempt, if the schedule went on, would have come by now
    elapsed = time.monotonic() - started

    got = {name: by_event(r.received) for name, r in receivers.items()}
    event_ids = set(got["healthy"])
    first_arrival = {
        event_id: min(requests[0].at for requests in (g[event_id] for g in got.values()))
        for event_id in event_ids
    }
    healthy_lag = [got["healthy"][e][0].at - first_arrival[e] for e in event_ids]
    attempts = {
        e: api.get(f"/merchant/{merchant.id}/events/{e}/deliveries", headers=merchant.auth)
        for e in event_ids
    }
    assert {200} == {a.status_code for a in attempts.values()}
    recorded = {e: a.json()["data"] for e, a in attempts.items()}

    def recorded_of(name: str) -> list[list[dict[str, Any]]]:
        return [[a for a in recorded[e] if a["endpoint_id"] == endpoints[name]] for e in event_ids]

    hang_timeouts = sum(
        1 for found in recorded_of("hangs_once") for a in found if a["error"] == "timeout"
    )
    slow_ms = [a["duration_ms"] for found in recorded_of("slow") for a in found]
    figures.update(
        payments=PAYMENTS,
        faults=(
            f"{events} events x 5 endpoints: dead {sum(len(r) for r in got['dead'].values())} "
            f"500s, flaky {sum(min(len(r), 2) for r in got['flaky'].values())} 503s, "
            f"hangs_once {hang_timeouts} timeouts, slow >= {min(slow_ms) / 1000:.1f} s; "
            f"healthy lag p50/max {statistics.median(healthy_lag):.2f}/{max(healthy_lag):.2f}"
            f" s; deliveries {sum(len(r) for g in got.values() for r in g.values())}"
        ),
        lost=sum(
            1
            for name in ("healthy", "slow", "flaky", "hangs_once")
            for e in event_ids
            if e not in got[name]
        ),
        settle_s=round(elapsed, 1),
    )

    # Every event of the payments, once at the healthy endpoint, first try.
    assert events == len(event_ids)
    assert [[(1, 200)]] * events == [
        [(a["attempt"], a["status_code"]) for a in found] for found in recorded_of("healthy")
    ]
    # Each other live endpoint got every event, delivered; the faults fired on each. Delivery
    # is at least once (SQS may hand a message out twice; a repeated attempt overwrites its
    # own record), so the flaky one's 200 comes at attempt 3 or, after a repeat, earlier.
    for name in ("slow", "flaky", "hangs_once"):
        assert event_ids == set(got[name]), name
        assert [True] * events == [
            any(a["status_code"] == 200 for a in found) for found in recorded_of(name)
        ], name
    assert [True] * events == [len(got["flaky"][e]) >= 3 for e in event_ids]
    assert [True] * events == [
        next(a["attempt"] for a in found if a["status_code"] == 200) <= 3
        for found in recorded_of("flaky")
    ]
    assert 1 <= hang_timeouts <= events
    assert min(slow_ms) >= 3000
    # The dead endpoint: attempts 1 to 9 of each event, all 500, none after, each started at
    # least the scaled wait after the one before (`at` is in whole seconds, hence the 1 s).
    assert event_ids == set(got["dead"])
    assert [[(n, 500) for n in range(1, MAX_ATTEMPTS + 1)]] * events == [
        [(a["attempt"], a["status_code"]) for a in found] for found in recorded_of("dead")
    ]
    assert [True] * events == [len(r) >= MAX_ATTEMPTS for r in got["dead"].values()]
    starts = [[_epoch(a["at"]) for a in found] for found in recorded_of("dead")]
    assert [] == [
        (later - earlier, wait * SCALE)
        for event_starts in starts
        for (earlier, later), wait in zip(
            itertools.pairwise(event_starts), RETRY_WAITS_S, strict=True
        )
        if later - earlier < wait * SCALE - 1.0
    ]
    # Slow (3 s) and hanging (10 s) endpoints hold up no healthy delivery.
    assert max(healthy_lag) < 3.0
