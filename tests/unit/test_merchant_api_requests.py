"""The merchant API turns a whole proxy event into one typed request in one call: the
submission (path, caller, body, Idempotency-Key, correlation id) and the status read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.api.merchant import method_not_allowed, payment_lookup, submission
from shared_kernel.application.submit_once_per_key import Submission
from shared_kernel.domain.errors import ValidationError

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID, PAYMENT_ID, SPEC_BODY, TODAY, body

pytestmark = pytest.mark.unit


def post(
    fields: object = SPEC_BODY, caller: object = MERCHANT_ID, **headers: str
) -> dict[str, Any]:
    """A POST of `fields` to MERCHANT_ID's payments by `caller`, with extra headers."""
    return {
        "pathParameters": {"merchant_id": str(MERCHANT_ID)},
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(caller)}},
        "headers": {"Content-Type": "application/json", **headers},
        "body": json.dumps(fields),
    }


def test_a_valid_post_is_one_submission() -> None:
    """Merchant, body, correlation id (the caller's) and key, from one call."""
    event = post(**{"X-Correlation-Id": "corr-9", "Idempotency-Key": "k-1"})

    assert Submission(MERCHANT_ID, SPEC_BODY, "corr-9", "k-1") == submission(event, TODAY)


def test_without_headers_the_key_is_none_and_the_correlation_is_the_request_id() -> None:
    """No Idempotency-Key: None; no X-Correlation-Id: API Gateway's request id."""
    assert Submission(MERCHANT_ID, SPEC_BODY, "r-1", None) == submission(post(), TODAY)


@pytest.mark.parametrize(
    ("event", "status"),
    [
        pytest.param({**post(), "pathParameters": {"merchant_id": "nope"}}, 400, id="path"),
        pytest.param({**post(), "requestContext": {}}, 401, id="no-caller"),
        pytest.param(post(caller=OTHER_MERCHANT_ID), 403, id="another-merchant"),
        pytest.param(post(**{"Content-Type": "text/plain"}), 415, id="media-type"),
    ],
)
def test_the_path_the_caller_and_the_media_type_are_checked_first(
    event: dict[str, Any], status: int
) -> None:
    """A bad path is 400, no caller 401, another merchant's key 403, not JSON 415."""
    with pytest.raises(HttpError) as raised:
        submission(event, TODAY)

    assert status == raised.value.status


def test_every_bad_field_and_the_key_are_reported_together() -> None:
    """One ValidationError names the failing body fields and the Idempotency-Key."""
    event = post(body(amount=-1, currency="XXX"), **{"Idempotency-Key": ""})

    with pytest.raises(ValidationError) as raised:
        submission(event, TODAY)

    assert ["Idempotency-Key", "amount", "currency"] == sorted(
        d.field for d in raised.value.details
    )


def test_a_status_read_is_its_merchant_and_payment() -> None:
    """The path's two ids, once the caller is the path's merchant."""
    event = {
        "pathParameters": {"merchant_id": str(MERCHANT_ID), "payment_id": str(PAYMENT_ID)},
        "requestContext": {"authorizer": {"merchant_id": str(MERCHANT_ID)}},
    }

    assert (MERCHANT_ID, PAYMENT_ID) == payment_lookup(event)


@pytest.mark.parametrize(
    ("resource", "allow"),
    [
        ("/merchant/{merchant_id}/payments", "GET, POST"),
        ("/merchant/{merchant_id}/payment/{payment_id}", "GET"),
    ],
)
def test_an_undeclared_method_is_405_naming_the_declared_one(resource: str, allow: str) -> None:
    """405 method_not_allowed, `Allow` naming the resource's declared method."""
    answer = method_not_allowed({"resource": resource, "httpMethod": "DELETE"})

    assert (405, allow, "method_not_allowed") == (
        answer["statusCode"],
        answer["headers"]["Allow"],
        json.loads(answer["body"])["error"]["code"],
    )
