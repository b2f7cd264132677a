"""End to end over HTTP: the bank callback endpoint's answers (SPEC §4)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, submit, wait_final

pytestmark = pytest.mark.e2e


def signed_post(
    client: httpx.Client,
    secret: str,
    body: dict[str, Any],
    at: float | None = None,
    path: str = "/bank/payment-updates",
) -> httpx.Response:
    """POST a callback (to `path`) signed as the bank signs it (computed here, independently)."""
    raw = json.dumps(body).encode()
    t = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return client.post(
        path,
        content=raw,
        headers={"Content-Type": "application/json", "X-Bank-Signature": f"t={t},v1={digest}"},
    )


def update_for(payment: dict[str, Any], status: str) -> dict[str, Any]:
    """A callback body for `payment`."""
    return {
        "payment_request_id": payment["id"],
        "merchant_id": payment["merchant_id"],
        "status": status,
        "bank_reference": "ref-e2e",
        "occurred_at": "2026-11-26T10:00:01Z",
    }


@pytest.fixture
def settled(api: httpx.Client, merchant: Merchant) -> dict[str, Any]:
    """A payment the bank has declined."""
    created = submit(api, merchant, payment_body("4000000000000002")).json()
    final, _ = wait_final(api, merchant, created["id"])
    assert "declined" == final["status"]
    return final


def test_forged_signatures_are_401_and_change_nothing(
    api: httpx.Client,
    callback_api: httpx.Client,
    stack: LocalStack,
    merchant: Merchant,
    settled: dict[str, Any],
) -> None:
    """Wrong secret, stale timestamp or no signature: 401, payment unchanged."""
    body = update_for(settled, "PAID")
    wrong = signed_post(callback_api, "not-the-secret", body)
    stale = signed_post(callback_api, stack.callback_secret, body, at=time.time() - 301)
    unsigned = callback_api.post("/bank/payment-updates", json=body)

    assert [401, 401, 401] == [wrong.status_code, stale.status_code, unsigned.status_code]
    after = api.get(f"/merchant/{merchant.id}/payment/{settled['id']}", headers=merchant.auth)
    assert settled == after.json()


def test_update_out_of_a_final_state_is_409(
    callback_api: httpx.Client, stack: LocalStack, settled: dict[str, Any]
) -> None:
    """PAID for a declined payment: 409 invalid_transition; a repeat of DECLINED: 200."""
    moved = signed_post(callback_api, stack.callback_secret, update_for(settled, "PAID"))
    repeat = signed_post(callback_api, stack.callback_secret, update_for(settled, "DECLINED"))

    assert (409, "invalid_transition") == (moved.status_code, moved.json()["error"]["code"])
    assert (200, {"received": True}) == (repeat.status_code, repeat.json())


def test_unknown_payment_is_404(callback_api: httpx.Client, stack: LocalStack) -> None:
    """An update for a payment the gateway does not have: 404."""
    body = {
        "payment_request_id": str(uuid.uuid4()),
        "merchant_id": str(uuid.uuid4()),
        "status": "PAID",
        "bank_reference": "ref",
        "occurred_at": "2026-11-26T10:00:01Z",
    }

    assert 404 == signed_post(callback_api, stack.callback_secret, body).status_code


def test_body_breaking_the_schema_is_400(
    callback_api: httpx.Client, stack: LocalStack, settled: dict[str, Any]
) -> None:
    """A signed body with an unknown status and an extra field: 400 naming both."""
    body = {**update_for(settled, "MAYBE"), "extra": 1}
    response = signed_post(callback_api, stack.callback_secret, body)

    assert 400 == response.status_code
    assert ["extra", "status"] == sorted(d["field"] for d in response.json()["error"]["details"])
