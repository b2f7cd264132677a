"""The bank callback trusts only a fresh signature over the exact body, made with the
current or the previous secret (SPEC §4): every forgery is 401 and changes nothing, and a
rotation of the secret in Secrets Manager keeps the previous one valid."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from local.stack import REGION, STAGE, LocalStack
from tests.security.support import (
    FIGURES,
    auth,
    forwarder_paused,
    payment_body,
    post_callback,
    read_payment,
    sign,
    update_for,
    wait_status,
)

pytestmark = pytest.mark.security

CALLBACK_SECRET_ID = f"gateway-{STAGE}/bank-callback-secret"


def stored_item(stack: LocalStack, payment_id: str) -> dict[str, Any]:
    """The payment's item as stored (every attribute, the version included)."""
    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    item: dict[str, Any] = dynamodb.get_item(
        TableName=f"gateway-{STAGE}-payments",
        Key={"payment_id": {"S": payment_id}},
        ConsistentRead=True,
    )["Item"]
    return item


@pytest.fixture
def pending(stack: LocalStack, api: httpx.Client, merchant: Any) -> Iterator[dict[str, Any]]:
    """A payment held `pending` (the forwarder paused) for as long as the test runs."""
    with forwarder_paused(stack):
        response = api.post(
            f"/merchant/{merchant.id}/payments",
            json=payment_body("4242424242424242"),
            headers=auth(merchant.api_key),
        )
        assert 201 == response.status_code, response.text
        yield response.json()


def forgeries(secret: str, payment: dict[str, Any]) -> dict[str, tuple[bytes, str | None]]:
    """(raw body, X-Bank-Signature) pairs that must all be refused."""
    body = json.dumps(update_for(payment, "PAID")).encode()
    other = json.dumps(update_for(payment, "DECLINED")).encode()
    now = time.time()
    valid = sign(secret, body)
    t, _, digest = valid.partition(",v1=")
    return {
        "no-signature": (body, None),
        "empty-signature": (body, ""),
        "wrong-secret": (body, sign("not-the-secret", body)),
        "empty-secret": (body, sign("", body)),
        "stale-301s": (body, sign(secret, body, at=now - 301)),
        # int() truncates and the request takes time: 310 s ahead stays beyond 300 s on arrival.
        "future-310s": (body, sign(secret, body, at=now + 310)),
        "stale-1h": (body, sign(secret, body, at=now - 3600)),
        "body-altered-after-signing": (body.replace(b'"PAID"', b'"DECLINED"'), valid),
        "body-with-a-trailing-space": (body + b" ", valid),
        "signature-of-another-body": (body, sign(secret, other)),
        "timestamp-changed-after-signing": (body, f"t={int(t[2:]) + 1},v1={digest}"),
        "no-timestamp": (body, f"v1={digest}"),
        "no-v1": (body, t),
        "v0-scheme": (body, f"{t},v0={digest}"),
        "truncated-digest": (body, f"{t},v1={digest[:-2]}"),
        "uppercase-digest": (body, f"{t},v1={digest.upper()}"),
        "non-numeric-timestamp": (body, f"t=now,v1={digest}"),
        "garbage": (body, "garbage"),
    }


def test_forged_callbacks_are_401_and_change_nothing(
    stack: LocalStack,
    api: httpx.Client,
    callback_api: httpx.Client,
    merchant: Any,
    pending: dict[str, Any],
) -> None:
    """Each forgery: 401 unauthorized; the payment's resource and stored item are as before."""
    before = stored_item(stack, pending["id"])
    answers = {}
    for name, (raw, signature) in forgeries(stack.callback_secret, pending).items():
        response = post_callback(callback_api, raw, signature)
        FIGURES["forged_callbacks"] += 1
        FIGURES["forged_callbacks_accepted"] += 0 if response.status_code == 401 else 1
        try:
            answers[name] = (response.status_code, response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            answers[name] = (response.status_code, response.text[:300])

    assert {name: (401, "unauthorized") for name in answers} == answers
    assert before == stored_item(stack, pending["id"])
    assert "pending" == read_payment(api, merchant.id, merchant.api_key, pending["id"])["status"]


def test_a_correctly_signed_callback_is_applied(
    stack: LocalStack,
    api: httpx.Client,
    callback_api: httpx.Client,
    merchant: Any,
    pending: dict[str, Any],
) -> None:
    """The control case: the same update signed with the secret moves the payment."""
    raw = json.dumps(update_for(pending, "PAID")).encode()

    response = post_callback(callback_api, raw, sign(stack.callback_secret, raw))

    assert (200, {"received": True}) == (response.status_code, response.json())
    assert "succeeded" == read_payment(api, merchant.id, merchant.api_key, pending["id"])["status"]


def put_secret(stack: LocalStack, value: str) -> None:
    """Rotate the callback secret in the emulated Secrets Manager (PutSecretValue: the new
    value becomes AWSCURRENT, the old one AWSPREVIOUS)."""
    client = boto3.session.Session(region_name=REGION).client(
        "secretsmanager", endpoint_url=stack.endpoint
    )
    client.put_secret_value(SecretId=CALLBACK_SECRET_ID, SecretString=value)


def test_after_a_rotation_the_current_and_previous_secrets_are_accepted(
    stack: LocalStack, api: httpx.Client, callback_api: httpx.Client, merchant: Any
) -> None:
    """PutSecretValue(new): signatures with new and old secret verify, any other is 401;
    then the original is put back (and the bank simulator, which signs with it, works)."""
    assert stack.secrets_ttl_s <= 10, "the test stack must cache secrets briefly (secrets_ttl_s)"
    created = api.post(
        f"/merchant/{merchant.id}/payments",
        json=payment_body("4000000000000002"),
        headers=auth(merchant.api_key),
    ).json()
    declined = wait_status(api, merchant.id, merchant.api_key, created["id"])
    assert "declined" == declined["status"]
    raw = json.dumps(update_for(declined, "DECLINED")).encode()  # a repeat: 200, no change
    original, rotated = stack.callback_secret, "rotated-" + secrets.token_urlsafe(32)

    put_secret(stack, rotated)
    try:
        time.sleep(stack.secrets_ttl_s + 1)  # the callback Lambda's secrets cache expires
        answers = [
            post_callback(callback_api, raw, sign(secret, raw)).status_code
            for secret in (rotated, original, "neither-" + secrets.token_urlsafe(8))
        ]
    finally:
        put_secret(stack, original)
        time.sleep(stack.secrets_ttl_s + 1)
    FIGURES["forged_callbacks"] += 1
    FIGURES["forged_callbacks_accepted"] += 0 if answers[2] == 401 else 1

    assert [200, 200, 401] == answers
    assert 200 == post_callback(callback_api, raw, sign(original, raw)).status_code
