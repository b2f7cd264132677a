"""`make demo`: walk payments through every state on the running local stack, readably.

Creates a merchant, then for a paying card and a declined card POSTs a payment and polls
its status until it is final, printing each state the merchant sees.
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


def walk(base: str, merchant: dict[str, str], card: str, story: str) -> None:
    """Submit one payment and follow it to its final status."""
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


def main() -> None:
    """Run the demo against the stack `make start` runs."""
    ports = Ports.from_env()
    stack = LocalStack(ports)
    merchant = stack.register_merchant("Demo shop")
    print(f"merchant {merchant['merchant_id']} created (its API key is shown once)")
    base = f"http://127.0.0.1:{ports.merchant_api}"
    for card, story in CARDS:
        walk(base, merchant, card, story)


if __name__ == "__main__":
    main()
