"""End to end over HTTP: every card of the bank simulator's table reaches its final status."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from shared_kernel import contracts
from tests.e2e.conftest import Merchant

pytestmark = pytest.mark.e2e

FINAL = {"succeeded", "declined", "failed"}


def payment_body(card_number: str = "4242424242424242", **overrides: Any) -> dict[str, Any]:
    """A valid submit body."""
    body: dict[str, Any] = {
        "card_number": card_number,
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
        "reference": "order-1234",
    }
    body.update(overrides)
    return body


def submit(api: httpx.Client, merchant: Merchant, body: dict[str, Any]) -> httpx.Response:
    """POST a payment as `merchant`."""
    return api.post(f"/merchant/{merchant.id}/payments", json=body, headers=merchant.auth)


def wait_final(api: httpx.Client, merchant: Merchant, payment_id: str, timeout: float = 45):
    """Poll the payment until it is final; every answer must match the contract."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        response = api.get(f"/merchant/{merchant.id}/payment/{payment_id}", headers=merchant.auth)
        assert 200 == response.status_code, response.text
        resource = response.json()
        contracts.assert_valid("payment-resource", resource)
        if not seen or seen[-1] != resource["status"]:
            seen.append(resource["status"])
        if resource["status"] in FINAL or time.monotonic() > deadline:
            return resource, seen
        time.sleep(0.25)


@pytest.mark.parametrize(
    ("card_number", "status", "decline_reason", "posts"),
    [
        ("4242424242424242", "succeeded", None, 1),
        ("4000000000009995", "declined", "insufficient_funds", 1),
        ("4100000000000019", "declined", "fraud_suspected", 1),
        ("4000000000000002", "declined", "do_not_honor", 1),
        ("4000000000000119", "succeeded", None, 2),
        ("4000000000000101", "succeeded", None, 1),
        ("5555555555554444", "succeeded", None, 1),
    ],
)
def test_every_simulator_card_reaches_its_final_status(
    api: httpx.Client,
    bank: httpx.Client,
    merchant: Merchant,
    card_number: str,
    status: str,
    decline_reason: str | None,
    posts: int,
) -> None:
    """A POSTed payment answers 201 pending, then reaches the bank table's outcome, charged once."""
    response = submit(api, merchant, payment_body(card_number))
    assert 201 == response.status_code, response.text
    created = response.json()
    contracts.assert_valid("payment-resource", created)
    assert "pending" == created["status"]
    assert f"/merchant/{merchant.id}/payment/{created['id']}" == response.headers["Location"]
    assert card_number[-4:] == created["card"]["last4"]

    final, _ = wait_final(api, merchant, created["id"])

    assert (status, decline_reason) == (final["status"], final["decline_reason"])
    record = bank.get(f"/_sim/payments/{created['id']}").json()
    assert (posts, 1) == (record["posts"], record["charges"])


def test_no_response_carries_the_card_number_or_cvv(api: httpx.Client, merchant: Merchant) -> None:
    """Neither the submit answer nor any status read contains the full card number or CVV."""
    body = payment_body("4000000000000101", cvv="9876")
    response = submit(api, merchant, body)
    texts = [response.text, str(response.headers)]
    payment_id = response.json()["id"]
    final, _ = wait_final(api, merchant, payment_id)
    texts.append(
        api.get(f"/merchant/{merchant.id}/payment/{payment_id}", headers=merchant.auth).text
    )

    assert "succeeded" == final["status"]
    assert [] == [t for t in texts if "4000000000000101" in t or "9876" in t]
