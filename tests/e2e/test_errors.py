"""End to end over HTTP: bad input gets a clear 4xx naming every bad field; auth cases."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from shared_kernel import contracts
from tests.e2e.conftest import Merchant
from tests.e2e.test_payment_flow import payment_body, submit

pytestmark = pytest.mark.e2e


def error_of(response: httpx.Response) -> dict[str, object]:
    """The error object of an answer, after checking it against the contract."""
    body = response.json()
    contracts.assert_valid("error", body)
    return body["error"]


def test_validation_reports_every_bad_field(api: httpx.Client, merchant: Merchant) -> None:
    """Six bad fields in one body give one 400 naming all six."""
    body = payment_body(
        card_number="4242424242424241",
        expiry_month=13,
        cvv="12",
        amount=0,
        currency="XXX",
        colour="blue",
    )
    response = submit(api, merchant, body)

    assert 400 == response.status_code
    error = error_of(response)
    assert "validation_error" == error["code"]
    fields = sorted(d["field"] for d in error["details"])  # type: ignore[index, union-attr]
    assert ["amount", "card_number", "colour", "currency", "cvv", "expiry_month"] == fields
    assert "4242424242424241" not in response.text


def test_expired_card_is_a_validation_error(api: httpx.Client, merchant: Merchant) -> None:
    """A card whose expiry month has passed is rejected naming expiry_year."""
    response = submit(api, merchant, payment_body(expiry_month=1, expiry_year=2020))

    assert 400 == response.status_code
    assert ["expiry_year"] == [d["field"] for d in error_of(response)["details"]]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "validation_error"),
        (b"[1, 2]", "application/json", 400, "validation_error"),
        (b'{"amount": NaN}', "application/json", 400, "validation_error"),
        (
            b"card_number=4242424242424242",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (
            json.dumps({"reference": "x" * 17000}).encode(),
            "application/json",
            413,
            "payload_too_large",
        ),
    ],
)
def test_malformed_requests_get_their_4xx(
    api: httpx.Client,
    merchant: Merchant,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    """Malformed JSON, a non-object, a non-JSON media type and an oversized body: each its 4xx."""
    response = api.post(
        f"/merchant/{merchant.id}/payments",
        content=content,
        headers={**merchant.auth, "Content-Type": content_type},
    )

    assert (status, code) == (response.status_code, error_of(response)["code"])


def test_missing_key_is_401(api: httpx.Client, merchant: Merchant) -> None:
    """No Authorization header: 401 with SPEC's error body."""
    response = api.post(f"/merchant/{merchant.id}/payments", json=payment_body())

    assert (401, "unauthorized") == (response.status_code, error_of(response)["code"])


def test_unknown_key_is_401(api: httpx.Client, merchant: Merchant) -> None:
    """An unknown key: 401 with SPEC's error body, on both routes."""
    headers = {"Authorization": "Bearer gw_this-key-does-not-exist"}
    post = api.post(f"/merchant/{merchant.id}/payments", json=payment_body(), headers=headers)
    get = api.get(f"/merchant/{merchant.id}/payment/{uuid.uuid4()}", headers=headers)

    assert [401, 401] == [post.status_code, get.status_code]
    assert ["unauthorized", "unauthorized"] == [error_of(post)["code"], error_of(get)["code"]]


def test_key_of_another_merchant_is_403(
    api: httpx.Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    """Acting on a merchant's path with another merchant's key: 403 on both routes."""
    post = api.post(
        f"/merchant/{merchant.id}/payments", json=payment_body(), headers=other_merchant.auth
    )
    get = api.get(f"/merchant/{merchant.id}/payment/{uuid.uuid4()}", headers=other_merchant.auth)

    assert [403, 403] == [post.status_code, get.status_code]
    assert ["forbidden", "forbidden"] == [error_of(post)["code"], error_of(get)["code"]]


def test_another_merchants_payment_is_404(
    api: httpx.Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    """A merchant reading another merchant's payment id under its own path gets 404."""
    theirs = submit(api, other_merchant, payment_body()).json()["id"]

    response = api.get(f"/merchant/{merchant.id}/payment/{theirs}", headers=merchant.auth)

    assert (404, "not_found") == (response.status_code, error_of(response)["code"])


def test_payment_id_that_is_not_a_uuid_is_400(api: httpx.Client, merchant: Merchant) -> None:
    """A payment id that is not a UUID: 400 naming payment_id."""
    response = api.get(f"/merchant/{merchant.id}/payment/not-a-uuid", headers=merchant.auth)

    assert 400 == response.status_code
    assert ["payment_id"] == [d["field"] for d in error_of(response)["details"]]  # type: ignore[union-attr]
