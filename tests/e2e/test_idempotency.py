"""End to end over HTTP: Idempotency-Key on POST /merchant/{merchant_id}/payments (SPEC §3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from shared_kernel import contracts
from tests.conftest import stored_payment_ids
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, wait_final

pytestmark = pytest.mark.e2e


def submit_with_key(
    api: httpx.Client, merchant: Merchant, body: dict[str, Any], key: str
) -> httpx.Response:
    """POST a payment as `merchant` with an Idempotency-Key."""
    return api.post(
        f"/merchant/{merchant.id}/payments",
        json=body,
        headers={**merchant.auth, "Idempotency-Key": key},
    )


def new_key() -> str:
    """A key no other test uses."""
    return f"e2e-{uuid.uuid4()}"


def error_of(response: httpx.Response) -> tuple[int, str, list[str]]:
    """Status, error code and the failing fields of an error answer (contract-checked)."""
    body = response.json()
    contracts.assert_valid("error", body)
    fields = [d["field"] for d in body["error"]["details"]]
    return response.status_code, body["error"]["code"], fields


def test_repeat_replays_the_first_answer_and_charges_once(
    api: httpx.Client, bank: httpx.Client, merchant: Merchant
) -> None:
    """Same key and body: the stored 201 and body, `Idempotent-Replayed: true`, one bank POST."""
    key = new_key()
    first = submit_with_key(api, merchant, payment_body(), key)
    assert 201 == first.status_code, first.text
    assert "idempotent-replayed" not in first.headers

    again = submit_with_key(api, merchant, payment_body(), key)

    assert 201 == again.status_code, again.text
    assert "true" == again.headers["Idempotent-Replayed"]
    assert first.json() == again.json()
    assert first.headers["Location"] == again.headers["Location"]
    contracts.assert_valid("payment-resource", again.json())
    final, _ = wait_final(api, merchant, first.json()["id"])
    assert "succeeded" == final["status"]
    # A replay after the payment moved on still answers what the first request was answered.
    late = submit_with_key(api, merchant, payment_body(), key)
    assert ("pending", "true") == (late.json()["status"], late.headers["Idempotent-Replayed"])
    record = bank.get(f"/_sim/payments/{first.json()['id']}").json()
    assert (1, 1) == (record["posts"], record["charges"])


def test_same_key_with_a_different_body_is_422(
    api: httpx.Client, stack: LocalStack, merchant: Merchant
) -> None:
    """The key was used with another body: 422 idempotency_key_reused, nothing created."""
    key = new_key()
    assert 201 == submit_with_key(api, merchant, payment_body(), key).status_code
    before = stored_payment_ids(stack, merchant.id)

    reused = submit_with_key(api, merchant, payment_body(amount=2000), key)

    assert (422, "idempotency_key_reused", []) == error_of(reused)
    assert before == stored_payment_ids(stack, merchant.id)


def test_the_key_is_scoped_per_merchant(
    api: httpx.Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    """Another merchant may use the same key: it gets its own payment, not a replay."""
    key = new_key()
    mine = submit_with_key(api, merchant, payment_body(), key)

    theirs = submit_with_key(api, other_merchant, payment_body(), key)

    assert (201, 201) == (mine.status_code, theirs.status_code), theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_rejected_request_does_not_use_up_its_key(api: httpx.Client, merchant: Merchant) -> None:
    """A 400 with a key is not recorded: the fixed request with the same key is a fresh 201."""
    key = new_key()
    invalid = submit_with_key(api, merchant, payment_body(card_number="4242424242424241"), key)
    assert (400, "validation_error", ["card_number"]) == error_of(invalid)

    fixed = submit_with_key(api, merchant, payment_body(), key)

    assert 201 == fixed.status_code, fixed.text
    assert "idempotent-replayed" not in fixed.headers


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "caf\u00e9", "tab\there"],
    ids=["empty", "too-long", "non-ascii", "control-character"],
)
def test_invalid_key_is_a_validation_error_naming_the_header(
    api: httpx.Client, merchant: Merchant, key: str
) -> None:
    """A key that is not 1-255 printable ASCII characters is 400 naming `Idempotency-Key`."""
    response = api.post(
        f"/merchant/{merchant.id}/payments",
        content=json.dumps(payment_body()),
        headers=[
            *merchant.auth.items(),
            ("Content-Type", "application/json"),
            (b"Idempotency-Key", key.encode()),
        ],
    )

    assert (400, "validation_error", ["Idempotency-Key"]) == error_of(response)


def test_invalid_key_and_invalid_body_are_reported_together(
    api: httpx.Client, merchant: Merchant
) -> None:
    """Every failing field at once: the body's and the header's."""
    response = submit_with_key(api, merchant, payment_body(cvv="12"), "x" * 256)

    assert (400, "validation_error", ["cvv", "Idempotency-Key"]) == error_of(response)


def test_longest_valid_key_works(api: httpx.Client, merchant: Merchant) -> None:
    """255 printable characters, spaces and punctuation included, are a valid key."""
    key = ("order #1234 / attempt: 1 ~ " + uuid.uuid4().hex).ljust(255, "!")

    first = submit_with_key(api, merchant, payment_body(), key)
    again = submit_with_key(api, merchant, payment_body(), key)

    assert (201, 201) == (first.status_code, again.status_code), again.text
    assert first.json()["id"] == again.json()["id"]
