"""Webhooks end to end through the running gateway (SPEC §10): a payment's events reach a
merchant's endpoint signed over the exact bytes, with each attempt recorded. The receiver is
a server of this test's own on 127.0.0.1. Failing, slow and hanging endpoints, and the retry
schedule to its end, are the reliability battery's (tests/reliability/
test_webhooks_under_faults.py)."""

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
def receiver() -> Iterator[tuple[str, Receiver]]:
    """A healthy receiver (200) on a port of 127.0.0.1, stopped at the end of the test: its
    URL and what it received."""
    sink = Receiver(200)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(sink.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", sink
    finally:
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


def test_a_payments_events_reach_the_endpoint_signed_over_the_exact_bytes(
    api: httpx.Client, stack: LocalStack, receiver: tuple[str, Receiver]
) -> None:
    """A payment's `payment.processing` and `payment.succeeded` arrive at the endpoint signed
    over the exact bytes with its secret (and with no other), Gateway-Event-Id = the event's
    id, the body = the event the API shows; each once, first try, as the deliveries say."""
    good_url, good = receiver
    created = stack.register_merchant(f"Webhook e2e merchant {uuid.uuid4().hex[:6]}")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    good_endpoint = register(api, merchant, good_url)

    submitted = api.post(
        f"/merchant/{merchant.id}/payments",
        json={**CARD, "amount": 1050, "currency": "GBP", "reference": "webhook-e2e"},
        headers=merchant.auth,
    )
    assert 201 == submitted.status_code, submitted.text
    payment_id = submitted.json()["id"]
    wanted = {"payment.processing", "payment.succeeded"}
    wait_for(lambda: wanted <= {b["type"] for b in good.bodies()}, 60, "both events")
    time.sleep(1.0)  # a second delivery of either, if one were made, would have come by now

    with good.lock:
        good_received = list(good.received)
    events = {json.loads(body)["id"]: (headers, body) for headers, body in good_received}
    stored = {
        event_id: api.get(f"/merchant/{merchant.id}/events/{event_id}", headers=merchant.auth)
        for event_id in events
    }
    assert 2 == len(good_received)
    assert {(t, payment_id) for t in wanted} == {
        (json.loads(body)["type"], json.loads(body)["data"]["object"]["id"])
        for _, body in events.values()
    }
    assert all(valid_signature(good_endpoint["secret"], h, b) for h, b in events.values())
    other_secret = "whsec_" + uuid.uuid4().hex
    assert not any(valid_signature(other_secret, h, b) for h, b in events.values())
    assert {i: i for i in events} == {i: h["gateway-event-id"] for i, (h, _) in events.items()}
    assert {i: json.loads(b) for i, (_, b) in events.items()} == {
        i: r.json() for i, r in stored.items()
    }
    for event_id in events:
        page = api.get(
            f"/merchant/{merchant.id}/events/{event_id}/deliveries", headers=merchant.auth
        )
        assert 200 == page.status_code, page.text
        assert [(good_endpoint["id"], 1, 200)] == [
            (a["endpoint_id"], a["attempt"], a["status_code"]) for a in page.json()["data"]
        ]
