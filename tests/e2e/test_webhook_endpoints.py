"""Webhook endpoints through the running gateway (SPEC §10): create, list, rotate, delete, the
limit of 16, the URL rules, Idempotency-Key, and secrets stored only encrypted."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from local.cloudformation import gateway_names
from local.stack import REGION, STAGE, LocalStack
from tests.conftest import Merchant

pytestmark = pytest.mark.e2e

SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")


def endpoints_path(merchant: Merchant) -> str:
    """The merchant's webhook endpoints collection."""
    return f"/merchant/{merchant.id}/webhook-endpoints"


def create(api: httpx.Client, merchant: Merchant, url: str, **headers: str) -> httpx.Response:
    """POST an endpoint for every event."""
    return api.post(
        endpoints_path(merchant),
        json={"url": url, "enabled_events": ["*"]},
        headers={**merchant.auth, **headers},
    )


def fresh_merchant(stack: LocalStack) -> Merchant:
    """A merchant of its own (the limit test fills its endpoints)."""
    created = stack.register_merchant(f"Webhook merchant {uuid.uuid4().hex[:6]}")
    return Merchant(created["merchant_id"], created["api_key"])


def stored_items(stack: LocalStack, merchant_id: str) -> list[dict[str, Any]]:
    """Every item of the endpoints table under the merchant (a test may read the table)."""
    import boto3

    dynamodb = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=stack.endpoint
    )
    answer = dynamodb.query(
        TableName=gateway_names(STAGE)["WebhookEndpointsTable"],
        KeyConditionExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": merchant_id}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = answer["Items"]
    return items


def sink_url(stack: LocalStack) -> str:
    """The local verifying receiver's webhook URL."""
    return f"http://127.0.0.1:{stack.ports.webhook_sink}/webhooks/e2e"


def test_an_endpoint_is_created_listed_rotated_and_deleted(
    api: httpx.Client, stack: LocalStack
) -> None:
    """201 with a whsec_ secret; the list shows it without; rotation answers a new secret;
    delete is 204 and the list is empty again; a second delete is 404."""
    merchant = fresh_merchant(stack)

    created = create(api, merchant, sink_url(stack))
    endpoint = created.json()
    listed = api.get(endpoints_path(merchant), headers=merchant.auth)
    path = f"{endpoints_path(merchant)}/{endpoint['id']}"
    rotated = api.post(f"{path}/rotate-secret", json={"expires_in_hours": 1}, headers=merchant.auth)
    deleted = api.delete(path, headers=merchant.auth)
    after = api.get(endpoints_path(merchant), headers=merchant.auth)
    again = api.delete(path, headers=merchant.auth)

    assert (201, "enabled", sink_url(stack)) == (
        created.status_code,
        endpoint["status"],
        endpoint["url"],
    )
    assert SECRET.fullmatch(endpoint["secret"])
    assert (200, [{k: v for k, v in endpoint.items() if k != "secret"}]) == (
        listed.status_code,
        listed.json()["data"],
    )
    assert endpoint["secret"] not in listed.text
    assert (200, endpoint["id"]) == (rotated.status_code, rotated.json()["id"])
    assert SECRET.fullmatch(rotated.json()["secret"])
    assert endpoint["secret"] != rotated.json()["secret"]
    assert (204, b"") == (deleted.status_code, deleted.content)
    assert ({"data": []}, 404, "not_found") == (
        after.json(),
        again.status_code,
        again.json()["error"]["code"],
    )


def test_secrets_are_stored_only_encrypted(api: httpx.Client, stack: LocalStack) -> None:
    """The table holds neither the created nor the rotated secret, in any attribute."""
    merchant = fresh_merchant(stack)
    endpoint = create(api, merchant, sink_url(stack)).json()
    path = f"{endpoints_path(merchant)}/{endpoint['id']}/rotate-secret"
    rotated = api.post(path, headers=merchant.auth).json()

    stored = repr(stored_items(stack, merchant.id))
    secrets = (endpoint["secret"], rotated["secret"])

    assert [] == [s for s in secrets if s in stored or s.removeprefix("whsec_") in stored]
    assert "blob" in stored


def test_the_seventeenth_endpoint_is_409(api: httpx.Client, stack: LocalStack) -> None:
    """16 endpoints are created; the 17th is 409 endpoint_limit_reached and not stored."""
    merchant = fresh_merchant(stack)

    statuses = [create(api, merchant, sink_url(stack)).status_code for _ in range(16)]
    refused = create(api, merchant, sink_url(stack))
    listed = api.get(endpoints_path(merchant), headers=merchant.auth).json()["data"]

    assert [201] * 16 == statuses
    assert (409, "endpoint_limit_reached") == (
        refused.status_code,
        refused.json()["error"]["code"],
    )
    assert 16 == len(listed)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/hook",
        "http://127.0.0.1/no-port",
        "https://[::1]/",
        "https://10.0.0.1/",
        "http://2130706433:3003/",
        "https://localhost/hook",
        "http://user:pw@127.0.0.1:3003/",
    ],
)
def test_an_ssrf_url_is_refused_and_nothing_stored(
    api: httpx.Client, merchant: Merchant, stack: LocalStack, url: str
) -> None:
    """Metadata, loopback without the local form, private, numeric and userinfo URLs: 400
    validation_error on `url`; the merchant's endpoints are unchanged."""
    before = len(stored_items(stack, merchant.id))

    answer = create(api, merchant, url)

    assert (400, "validation_error", ["url"]) == (
        answer.status_code,
        answer.json()["error"]["code"],
        [d["field"] for d in answer.json()["error"]["details"]],
    )
    assert before == len(stored_items(stack, merchant.id))


def test_every_bad_field_is_named_in_one_400(api: httpx.Client, merchant: Merchant) -> None:
    """A private URL, an unknown event type and a bad Idempotency-Key: all three named."""
    answer = api.post(
        endpoints_path(merchant),
        json={"url": "https://192.168.1.1/", "enabled_events": ["payment.nope"]},
        headers={**merchant.auth, "Idempotency-Key": "x" * 256},
    )

    assert (400, ["enabled_events[0]", "url", "Idempotency-Key"]) == (
        answer.status_code,
        [d["field"] for d in answer.json()["error"]["details"]],
    )


def test_a_repeated_create_with_its_key_replays_without_the_secret(
    api: httpx.Client, stack: LocalStack
) -> None:
    """Same Idempotency-Key and body: 201, the same endpoint, Idempotent-Replayed, no secret,
    one endpoint stored; the same key with another URL is 422."""
    merchant = fresh_merchant(stack)
    key = f"endpoint-{uuid.uuid4()}"

    first = create(api, merchant, sink_url(stack), **{"Idempotency-Key": key})
    again = create(api, merchant, sink_url(stack), **{"Idempotency-Key": key})
    other = create(api, merchant, sink_url(stack) + "2", **{"Idempotency-Key": key})

    assert (201, 201, "true") == (
        first.status_code,
        again.status_code,
        again.headers.get("Idempotent-Replayed"),
    )
    assert {k: v for k, v in first.json().items() if k != "secret"} == again.json()
    assert (422, 1) == (
        other.status_code,
        len(api.get(endpoints_path(merchant), headers=merchant.auth).json()["data"]),
    )


@pytest.mark.parametrize("hours", [-1, 169, "24"])
def test_a_rotation_out_of_range_is_400(
    api: httpx.Client, stack: LocalStack, hours: object
) -> None:
    """expires_in_hours outside 0-168, or not an integer: 400 on that field."""
    merchant = fresh_merchant(stack)
    endpoint = create(api, merchant, sink_url(stack)).json()

    answer = api.post(
        f"{endpoints_path(merchant)}/{endpoint['id']}/rotate-secret",
        json={"expires_in_hours": hours},
        headers=merchant.auth,
    )

    assert (400, ["expires_in_hours"]) == (
        answer.status_code,
        [d["field"] for d in answer.json()["error"]["details"]],
    )
