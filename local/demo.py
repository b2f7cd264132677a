"""`make demo`: walk payments through every state on the running local stack, readably.

Creates a merchant and registers a webhook endpoint on the local verifying receiver
(`make start`'s, port 3003), then for a paying card and a declined card POSTs a payment and
polls its status until it is final, printing each state the merchant sees; then walks a
manual-capture payment through authorise → partial capture → two partial refunds; and at
the end prints the events the receiver verified for the merchant's payments.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from local.stack import LocalStack, Ports

CARDS = (
    ("4000000000000101", "the bank says PROCESSING, then PAID"),
    ("4000000000009995", "the bank declines: insufficient funds"),
)


def call(method: str, url: str, key: str, body: object | None = None) -> tuple[int, Any]:
    """One HTTP call to the merchant API; (status, parsed JSON body)."""
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def walk(base: str, merchant: dict[str, str], card: str, story: str) -> str:
    """Submit one payment and follow it to its final status; its id."""
    print(f"\n== card {card[:4]} **** {card[-4:]}: {story}")
    merchant_id, key = merchant["merchant_id"], merchant["api_key"]
    body = {
        "card_number": card,
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
        "reference": "demo-order",
    }
    status, payment = call("POST", f"{base}/merchant/{merchant_id}/payments", key, body)
    print(f"POST /merchant/{merchant_id}/payments -> {status}, status={payment['status']}")
    url = f"{base}/merchant/{merchant_id}/payment/{payment['id']}"
    seen = payment["status"]
    deadline = time.monotonic() + 60
    while seen not in ("succeeded", "declined", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        _, payment = call("GET", url, key)
        if payment["status"] != seen:
            seen = payment["status"]
            reason = f" ({payment['decline_reason']})" if payment["decline_reason"] else ""
            print(f"GET .../payment/{payment['id']} -> status={seen}{reason}")
    print("final resource:", json.dumps(payment, indent=2))
    return str(payment["id"])


def wait_for(url: str, key: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    """GET `url` every 0.2 s until `done(resource)`; the resource (the last one on timeout)."""
    deadline = time.monotonic() + timeout
    _, resource = call("GET", url, key)
    while not done(resource) and time.monotonic() < deadline:
        time.sleep(0.2)
        _, resource = call("GET", url, key)
    return dict(resource)


def amounts(payment: dict[str, Any]) -> str:
    """The money fields of a payment, on one line."""
    return (
        f"status={payment['status']} captured={payment['amount_captured']} "
        f"refunded={payment['amount_refunded']} refundable={payment['amount_refundable']}"
    )


def walk_manual(base: str, merchant: dict[str, str]) -> str:
    """A manual-capture payment: authorised, 800 of 1050 captured (the rest released), then
    refunded 300 and 200; each state printed. Its id."""
    print("\n== manual capture: authorise 1050, capture 800, refund 300 and 200")
    merchant_id, key = merchant["merchant_id"], merchant["api_key"]
    body = {
        "card_number": "4242424242424242",
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
        "reference": "demo-manual",
        "capture_method": "manual",
    }
    status, payment = call("POST", f"{base}/merchant/{merchant_id}/payments", key, body)
    print(f"POST .../payments (capture_method manual) -> {status}, status={payment['status']}")
    url = f"{base}/merchant/{merchant_id}/payment/{payment['id']}"
    payment = wait_for(url, key, lambda p: p["status"] not in ("pending", "processing"))
    print(f"GET .../payment/{payment['id']} -> {amounts(payment)}")
    print(f"  capture_before={payment['capture_before']}")
    for path, request in (
        ("capture", {"amount": 800}),
        ("refunds", {"amount": 300, "reason": "requested_by_customer"}),
        ("refunds", {"amount": 200}),
    ):
        status, action = call("POST", f"{url}/{path}", key, request)
        print(f"POST .../{path} {json.dumps(request)} -> {status}, {action['type']} pending")
        action = wait_for(f"{url}/actions/{action['id']}", key, lambda a: a["status"] != "pending")
        print(f"  {action['type']} {action['id']} -> {action['status']}")
        _, payment = call("GET", url, key)
        print(f"  payment -> {amounts(payment)}")
    _, actions = call("GET", f"{url}/actions", key)
    print(
        "actions, oldest first:", [(a["type"], a["amount"], a["status"]) for a in actions["data"]]
    )
    return str(payment["id"])


def register_webhook(base: str, sink: str, merchant: dict[str, str]) -> None:
    """An endpoint on the local receiver for every event; its secret handed to the receiver
    (the one place the demo keeps it: it is shown once and never printed)."""
    merchant_id, key = merchant["merchant_id"], merchant["api_key"]
    body = {"url": f"{sink}/webhooks/demo", "enabled_events": ["*"]}
    status, endpoint = call("POST", f"{base}/merchant/{merchant_id}/webhook-endpoints", key, body)
    print(f"POST /merchant/{merchant_id}/webhook-endpoints -> {status}, url={endpoint['url']}")
    request = urllib.request.Request(
        f"{sink}/_sink/secrets",
        method="POST",
        data=json.dumps({"secret": endpoint["secret"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def payment_of(event: dict[str, Any]) -> str | None:
    """The payment an event is about: its object, or the payment of its action."""
    found = (event.get("data") or {}).get("object") or {}
    return found.get("payment_id") or found.get("id")


def show_events(sink: str, payment_ids: set[str], wait_s: float = 15.0) -> None:
    """The events the receiver verified for these payments, once they stop arriving."""
    deadline, seen = time.monotonic() + wait_s, -1
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{sink}/_sink/events", timeout=10) as response:
            received = json.loads(response.read())["data"]
        events = [e["event"] for e in received if payment_of(e["event"]) in payment_ids]
        if events and len(events) == seen:
            break
        seen = len(events)
        time.sleep(1.5)
    print(f"\n== webhooks verified by the receiver: {len(events)}")
    for event in events:
        print(f"{event.get('type')} {event.get('id')}")


def main() -> None:
    """Run the demo against the stack `make start` runs."""
    ports = Ports.from_env()
    stack = LocalStack(ports)
    merchant = stack.register_merchant("Demo shop")
    print(f"merchant {merchant['merchant_id']} created (its API key is shown once)")
    base = f"http://127.0.0.1:{ports.merchant_api}"
    sink = f"http://127.0.0.1:{ports.webhook_sink}"
    register_webhook(base, sink, merchant)
    payment_ids = {walk(base, merchant, card, story) for card, story in CARDS}
    payment_ids.add(walk_manual(base, merchant))
    show_events(sink, payment_ids)


if __name__ == "__main__":
    main()
