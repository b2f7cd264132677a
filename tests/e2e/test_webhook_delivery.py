"""Webhooks end to end through the running gateway (SPEC §10): a payment's events reach a
merchant's endpoint signed over the exact bytes, each attempt is recorded, a failing endpoint
is retried on the (scaled) schedule until it fails after 9 attempts, and it never holds up a
healthy one. The receivers are servers of this test's own on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.conftest import Merchant

pytestmark = pytest.mark.e2e

CARD = {"card_number": "4242424242424242", "expiry_month": 12, "expiry_year": 2031, "cvv": "123"}


@dataclass
class Receiver:
    """A webhook receiver answering `status` to every POST and recording what came."""

    status: int
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies received so far, in arrival order."""
        with self.lock:
            return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receivers() -> Iterator[tuple[str, Receiver, str, Receiver]]:
    """A healthy receiver (200) and a dead one (500), each on its own port of 127.0.0.1,
    stopped at the end of the test."""
    started = []
    for status in (200, 500):
        receiver = Receiver(status)

        class Handler(BaseHTTPRequestHandler):
            sink = receiver

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with self.sink.lock:
                    self.sink.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                self.send_response(self.sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, receiver))
    try:
        (good, good_receiver), (dead, dead_receiver) = started
        yield (
            f"http://127.0.0.1:{good.server_address[1]}/hooks",
            good_receiver,
            f"http://127.0.0.1:{dead.server_address[1]}/hooks",
            dead_receiver,
        )
    finally:
        for server, _ in started:
            server.shutdown()
            server.server_close()


def register(api: httpx.Client, merchant: Merchant, url: str) -> dict[str, Any]:
    """A new endpoint for every event type (its answer holds the secret, shown once)."""
    response = api.post(
        f"/merchant/{merchant.id}/webhook-endpoints",
        json={"url": url, "enabled_events": ["*"]},
        headers=merchant.auth,
    )
    assert 201 == response.status_code, response.text
    created: dict[str, Any] = response.json()
    return created


def valid_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether a `v1` of Gateway-Signature is HMAC-SHA256(secret, "<t>.<raw body>")."""
    parts = [part.split("=", 1) for part in headers["gateway-signature"].split(",")]
    t = next(value for key, value in parts if key == "t")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for key, v in parts if key == "v1")


def wait_for(condition: Any, timeout: float, what: str) -> None:
    """Poll `condition` every 0.2 s until it is true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_payments_events_reach_the_endpoint_signed_and_a_dead_one_ends_failed(
    api: httpx.Client, stack: LocalStack, receivers: tuple[str, Receiver, str, Receiver]
) -> None:
    """A payment's `payment.processing` and `payment.succeeded` arrive at the healthy
    endpoint signed over the exact bytes (Gateway-Event-Id = the event's id, the body =
    the event the API shows); the dead endpoint gets the same events 9 times each, then
    its deliveries are recorded `failed`; the healthy one got each event once, first try."""
    good_url, good, dead_url, dead = receivers
    created = stack.register_merchant(f"Webhook e2e merchant {uuid.uuid4().hex[:6]}")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    good_endpoint = register(api, merchant, good_url)
    dead_endpoint = register(api, merchant, dead_url)

    submitted = api.post(
        f"/merchant/{merchant.id}/payments",
        json={**CARD, "amount": 1050, "currency": "GBP", "reference": "webhook-e2e"},
        headers=merchant.auth,
    )
    assert 201 == submitted.status_code, submitted.text
    payment_id = submitted.json()["id"]
    wanted = {"payment.processing", "payment.succeeded"}
    wait_for(lambda: wanted <= {b["type"] for b in good.bodies()}, 60, "both events")

    with good.lock:
        good_received = list(good.received)
    events = {json.loads(body)["id"]: (headers, body) for headers, body in good_received}
    stored = {
        event_id: api.get(f"/merchant/{merchant.id}/events/{event_id}", headers=merchant.auth)
        for event_id in events
    }
    assert {(t, payment_id) for t in wanted} == {
        (json.loads(body)["type"], json.loads(body)["data"]["object"]["id"])
        for _, body in events.values()
    }
    assert all(valid_signature(good_endpoint["secret"], h, b) for h, b in events.values())
    assert not any(valid_signature(dead_endpoint["secret"], h, b) for h, b in events.values())
    assert {i: i for i in events} == {i: h["gateway-event-id"] for i, (h, _) in events.items()}
    assert {i: json.loads(b) for i, (_, b) in events.items()} == {
        i: r.json() for i, r in stored.items()
    }

    # The dead endpoint: 9 attempts of each event on the scaled schedule, then failed.
    def attempts_of(event_id: str) -> list[dict[str, Any]]:
        page = api.get(
            f"/merchant/{merchant.id}/events/{event_id}/deliveries", headers=merchant.auth
        )
        assert 200 == page.status_code, page.text
        data: list[dict[str, Any]] = page.json()["data"]
        return data

    def dead_attempts(event_id: str) -> list[dict[str, Any]]:
        return [a for a in attempts_of(event_id) if a["endpoint_id"] == dead_endpoint["id"]]

    wait_for(lambda: all(len(dead_attempts(i)) >= 9 for i in events), 120, "9 attempts each")
    time.sleep(2)  # a 10th attempt, if the schedule went on, would be queued by now

    for event_id in events:
        good_attempts = [
            (a["attempt"], a["status_code"])
            for a in attempts_of(event_id)
            if a["endpoint_id"] == good_endpoint["id"]
        ]
        assert [(1, 200)] == good_attempts
        assert [(n, 500) for n in range(1, 10)] == [
            (a["attempt"], a["status_code"]) for a in dead_attempts(event_id)
        ]
    assert 18 == len([b for b in dead.bodies() if b["id"] in events])
